"""Reading and writing image files, with errors that name the file.

Used by the command-line tools and the data pipeline. Every image is handed
around as a uint8 numpy array of shape [H, W, 3] (RGB).
"""

import os
import struct
import sys
import uuid

import numpy as np
import tensorflow as tf
from keras.utils import Progbar
from PIL import ExifTags, Image, ImageOps

from common.options import IMAGE_EXTENSIONS

# Modes converted by Pillow's own convert("RGB") without losing information.
_RGB_MODES = {"1", "L", "P", "RGB", "CMYK", "YCbCr"}
# Modes with an alpha channel; composited over white.
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
# Single-channel 16-bit (or 32-bit integer) modes, e.g. 16-bit PNG and TIFF.
_WIDE_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}
# Where Pillow's getexif finds an orientation: EXIF, ImageMagick's raw profile, XMP.
_ORIENTATION_KEYS = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


class ImageReadError(Exception):
    """An image file could not be read; str() names the file and the reason."""

    def __init__(self, path, reason):
        # Both values go to args so the exception survives pickling
        # (e.g. when raised in a worker process).
        super().__init__(os.fspath(path), reason)
        self.path = os.fspath(path)
        self.reason = reason

    def __str__(self):
        return f"cannot read image {self.path}: {self.reason}"


def read_image(path):
    """Read an image file as a uint8 RGB array of shape [H, W, 3]."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageReadError(path, "no such file")
    if os.path.isdir(path):
        raise ImageReadError(path, "is a directory, not an image file")
    try:
        with Image.open(path) as img:
            # Decode now, so a truncated or corrupt file fails here rather
            # than later inside the pipeline.
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb_array(img, path)
    except ImageReadError:
        raise
    except PermissionError as e:
        raise ImageReadError(path, "permission denied") from e
    except Image.UnidentifiedImageError as e:
        raise ImageReadError(path, "not an image file (or an unsupported format)") from e
    except Exception as e:  # Pillow signals bad data with many exception types.
        raise ImageReadError(path, f"corrupt or truncated image ({e})") from e


def peek(path):
    """(format, mode, plain) of an image file from its header, or None if Pillow cannot open it.

    Nothing is decoded, so this is cheap and a corrupt file may pass: read_image is the check.
    `plain`: read_image only converts the mode, with no transparency to composite over white and
    no EXIF orientation to apply. A PNG with chunks after its pixels, which Pillow reads only when
    decoding, is not called plain.
    """
    try:
        with Image.open(path) as img:
            if img.format == "PNG" and not _png_ends_with_pixels(img.fp, img.tile[0].offset - 8):
                return img.format, img.mode, False
            # Skip getexif when nothing holds EXIF: for a PNG it would decode the pixels.
            tagged = any(key in img.info for key in _ORIENTATION_KEYS)
            orientation = img.getexif().get(ExifTags.Base.Orientation) if tagged else None
            # exif_transpose turns orientations 2 to 8 only.
            plain = orientation not in range(2, 9) and "transparency" not in img.info
            return img.format, img.mode, plain
    except Exception:  # Pillow signals bad data with many exception types.
        return None


def _png_ends_with_pixels(f, offset):
    """Whether only IEND follows the run of IDAT chunks that starts at `offset` in PNG file f."""
    f.seek(offset)
    while len(head := f.read(8)) == 8:
        length, kind = struct.unpack(">I4s", head)
        if kind != b"IDAT":
            return kind == b"IEND"
        f.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    return False


def _to_rgb_array(img, path):
    mode = img.mode
    if mode in _ALPHA_MODES or (mode in _RGB_MODES and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode in _RGB_MODES:
        img = img.convert("RGB")
    elif mode in _WIDE_MODES:
        # Scale the full 16-bit range to 8 bits; clipping at 255 would turn
        # nearly every pixel white. Mode "I" may hold values outside it.
        wide = np.clip(np.array(img, dtype=np.float64), 0, 65535)
        gray = np.rint(wide / 257.0).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    else:
        raise ImageReadError(path, f"unsupported image mode {mode!r}")
    return np.array(img, dtype=np.uint8)


def write_image(path, image):
    """Write a uint8 array [H, W, 3], [H, W, 1] or [H, W] to an image file.

    The format follows the extension (PNG if there is none). The file is
    written to a temporary name and renamed, so it is never half-written.
    """
    path = os.fspath(path)
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"{path}: image must have shape [H, W, 3], [H, W, 1] or [H, W], got {image.shape}")

    ext = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext) if ext else "PNG"
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {ext!r}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}

    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Hidden name, so list_images skips it if we are killed mid-write.
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    # os.open honours the umask, unlike tempfile's private 0600 files.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(image).save(f, format=fmt, **options)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _is_image_name(name):
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(path, recursive=False):
    """Return [path] for a file, or the image files in a folder sorted by name."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or folder: {path}")
    if not os.path.isdir(path):
        return [path]
    if recursive:
        found = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(folder, path)
            found += [os.path.normpath(os.path.join(rel, f)) for f in files if _is_image_name(f)]
    else:
        # A folder named like an image is listed too, so that reading it names it and it counts as
        # failed (skipping it here would hide it).
        found = [f for f in os.listdir(path) if _is_image_name(f)]
    if not found:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder: {path}")
    return [os.path.join(path, f) for f in sorted(found)]


def tile_grid(rows, gap=2):
    """Lay out equal-sized uint8 [H, W, 3] images in rows, separated by white gaps."""
    if not rows or not rows[0]:
        raise ValueError("tile_grid needs at least one row with one image")
    ncols = len(rows[0])
    if any(len(row) != ncols for row in rows):
        raise ValueError(f"every row must hold {ncols} images, got {[len(row) for row in rows]}")
    first = np.asarray(rows[0][0])
    h, w = first.shape[:2]
    for row in rows:
        for image in row:
            image = np.asarray(image)
            if image.dtype != np.uint8 or image.shape != (h, w, 3):
                raise ValueError(f"every image must be uint8 of shape {(h, w, 3)}, got {image.dtype} {image.shape}")

    grid = np.full((len(rows) * (h + gap) - gap, ncols * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            y, x = r * (h + gap), c * (w + gap)
            grid[y:y + h, x:x + w] = image
    return grid


def rows_of(images, columns):
    """A batch of uint8 [H, W, C] images as rows of `columns` RGB images for tile_grid.

    One-channel images are repeated to RGB; a last, shorter row is filled with white.
    """
    batch = np.asarray(images)
    if batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    pad = -len(batch) % columns
    batch = np.concatenate([batch, np.full((pad,) + batch.shape[1:], 255, np.uint8)])
    return [list(batch[i:i + columns]) for i in range(0, len(batch), columns)]


def process_files(inputs, output_dir, fn, *, suffix=".png", with_paths=False):
    """Apply fn to each input image and write output_dir/<stem><suffix>.

    `fn(image)` returns the output image; with `with_paths`, `fn(image, input_path, output_path)`, for
    a function that reports per file or writes files beside its output. Each output is written as
    soon as it is made. Unreadable inputs, and inputs on which fn fails
    in TensorFlow (a tf.errors.OpError, e.g. out of memory), are reported on stderr and skipped; the
    others are still processed. Returns the number of files that failed.
    """
    files = list_images(inputs)
    output_dir = os.fspath(output_dir)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"the output folder {output_dir} is a file: give a folder for the results")
    folders = {_file_id(os.path.dirname(os.path.abspath(f))) for f in files}
    if os.path.isdir(output_dir) and _file_id(output_dir) in folders:
        raise ValueError(f"the output folder {output_dir} holds the inputs: choose a different "
                         "--output, so that results and inputs stay apart")
    outputs = [os.path.join(output_dir, os.path.splitext(os.path.basename(f))[0] + suffix) for f in files]

    # Compare by device and inode so symlinks, hard links and case-insensitive
    # file systems cannot hide that an output is an input.
    input_ids = {_file_id(f): f for f in files}
    for out in outputs:
        if os.path.exists(out) and _file_id(out) in input_ids:
            raise ValueError(
                f"output {out} would overwrite the input {input_ids[_file_id(out)]}; "
                f"choose a different --output folder"
            )
    claimed = {}
    for src, out in zip(files, outputs):
        key = os.path.normcase(os.path.abspath(out))
        if key in claimed:
            raise ValueError(f"inputs {claimed[key]} and {src} would both be written to {out}; rename one of them")
        claimed[key] = src

    failed = []
    progress = Progbar(len(files), unit_name="image")
    for i, (src, out) in enumerate(zip(files, outputs)):
        try:
            image = read_image(src)
            write_image(out, fn(image, src, out) if with_paths else fn(image))
        except (ImageReadError, tf.errors.OpError) as e:
            message = e if isinstance(e, ImageReadError) else f"{src}: {e.message.splitlines()[0]}"
            # Leading newline: keep the message off the progress bar's line.
            print(f"\nskipped: {message}", file=sys.stderr)
            failed.append(os.path.basename(src))
        progress.update(i + 1)

    summary = f"wrote {len(files) - len(failed)} images to {output_dir}"
    if failed:
        summary += f"; {len(failed)} failed: {', '.join(failed)}"
    print(summary)
    return len(failed)


def _file_id(path):
    st = os.stat(path)
    return st.st_dev, st.st_ino
