"""The one tf.data input pipeline: a source string -> decoded images -> joint augmentation -> batches.

Source strings (`--data`, `--val_data`):

    DIR                          every image in a folder: one domain
    ab:DIR                       pix2pix's layout: each file holds A | B side by side
    paired:DIR_A,DIR_B           two folders matched by file name stem (FiveK's input/ and expert_c/)
    unpaired:DIR_A,DIR_B         two folders, each shuffled on its own
    tfds:NAME[/CONFIG][:SPLIT]   the `image` feature of a tensorflow-datasets dataset (split train)
    demo:NAME[:SPLIT]            the photos shipped with the package (common/demo.py; split train|test)

Any folder may be written DIR@LIST: only the files of DIR named in the text file LIST (one name per
line, with or without extension) are used, the way FiveK's train/test split files are given, e.g.
`paired:fivek/input@fivek/test.txt,fivek/expert_c`.

A one-domain source gives uint8 images [H, W, C]; the others give (a, b) pairs. Every image has the
pixels of `common.images.read_image`, the reader the command-line tools use. Plain JPEG, PNG and BMP
files (a look at each header when the file list is built tells; see NATIVE) are decoded by TF ops,
which run in parallel; the rest (TIFF, WEBP, GIF, CMYK, alpha, EXIF orientation, ...) and any file TF
fails on are read by read_image, so an unreadable file is named: with `on_bad_image="skip"` it is
dropped with a warning, with `"fatal"` the run stops with its name.
"""

import dataclasses
import functools
import math
import os
import random

import tensorflow as tf
from absl import logging

from common import demo, images
from common import resize as resize_ops  # data.resize is this module's square resize
from common.options import ON_BAD_IMAGE


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str
    paths: tuple = ()
    name: str = ""
    split: str = "train"


def parse_source(text):
    """Parse a source string (see the module docstring); a ValueError says what is wrong."""
    if not text:
        raise ValueError("no data source given")
    scheme, _, rest = text.partition(":")
    if scheme in ("tfds", "demo"):
        name, _, split = rest.partition(":")
        if not name:
            raise ValueError(f"{text!r} names no dataset: write {scheme}:NAME[:SPLIT]")
        if scheme == "demo" and name not in demo.NAMES:
            raise ValueError(f"unknown demo data {name!r} in {text!r}; choose one of {demo.NAMES}")
        return Source(scheme, name=name, split=split or "train")
    if scheme in ("paired", "unpaired"):
        dirs = tuple(d for d in rest.split(",") if d)
        if len(dirs) != 2:
            raise ValueError(f"{text!r} needs two folders: {scheme}:DIR_A,DIR_B")
        return Source(scheme, paths=tuple(_existing_dir(d) for d in dirs))
    if scheme == "ab":
        return Source("ab", paths=(_existing_dir(rest),))
    return Source("folder", paths=(_existing_dir(text),))


def gives_pairs(source):
    """Whether a source string gives (a, b) pairs rather than single images."""
    src = parse_source(source)
    return src.kind in ("ab", "paired", "unpaired") or (src.kind == "demo" and src.name in demo.PAIRS)


def _existing_dir(entry):
    """A DIR or DIR@LIST entry whose folder (and list file) exist."""
    path, _, listing = entry.partition("@")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"data folder {path!r} does not exist or is not a folder")
    if listing and not os.path.isfile(listing):
        raise FileNotFoundError(f"list file {listing!r} (after @ in {entry!r}) does not exist")
    return entry


# -- decoding ------------------------------------------------------------------------------------

# Pillow format -> the modes in which TF's decoder gives read_image's very pixels for a plain file
# (images.peek), compared bit for bit: JPEG (and MPO, phones' multi-picture JPEG) with libjpeg's
# accurate integer DCT, as Pillow's (TF's default fast DCT was up to 9 levels off on the demo photos),
# 8- and 16-bit RGB PNG, 1-bit, grayscale and palette PNG, 24-bit BMP. The rest goes through Pillow:
# GIF (TF decodes some corrupt GIFs that Pillow rejects), TIFF, WEBP, CMYK JPEG, 16-bit grayscale
# (Pillow rounds, TF truncates), 8-bit palette BMP (TF reads the indices), alpha, transparency and
# EXIF orientation.
NATIVE = {"JPEG": {"L", "RGB"}, "MPO": {"L", "RGB"}, "PNG": {"1", "L", "P", "RGB"}, "BMP": {"RGB"}}


def _decoder(path):
    """How a file is decoded: "jpeg" or "image" (tf.io.decode_jpeg / decode_image), "" by Pillow."""
    try:
        stat = os.stat(path)
    except OSError:
        return ""  # Pillow names what is wrong with it
    return _decoder_of_version(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _decoder_of_version(path, mtime_ns, size):
    """_decoder for one version of a file: a training run lists its files several times (`count`,
    the training and validation pipelines), and each header is read once."""
    del mtime_ns, size  # only the cache's key
    fmt, mode, plain = images.peek(path) or ("", "", False)
    if not plain or mode not in NATIVE.get(fmt, ()):
        return ""
    return "jpeg" if fmt in ("JPEG", "MPO") else "image"


def _file_table(*columns):
    """A dataset of (paths, decoders), each a [k] string tensor for k columns (one, or two: pairs)."""
    paths = tf.transpose(tf.constant(columns, tf.string))
    decoders = tf.transpose(tf.constant([[_decoder(p) for p in c] for c in columns], tf.string))
    return tf.data.Dataset.from_tensor_slices((paths, decoders))


def _decode_native(path, decoder):
    """One file's uint8 [H, W, 3] image by TF ops."""
    contents = tf.io.read_file(path)
    return tf.cond(
        tf.equal(decoder, "jpeg"),
        lambda: tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(contents, channels=3, expand_animations=False))


def _native(paths, decoders, min_width):
    """The images of one element decoded by TF ops; a pair of different sizes, or an image narrower
    than `min_width`, is an error too."""
    out = [_decode_native(paths[i], decoders[i]) for i in range(paths.shape[0])]
    checks = [tf.debugging.assert_greater_equal(tf.shape(image)[1], min_width) for image in out]
    if len(out) == 2:
        checks.append(tf.debugging.assert_equal(tf.shape(out[0]), tf.shape(out[1])))
    with tf.control_dependencies(checks):
        out = [tf.identity(image) for image in out]
    return out[0] if len(out) == 1 else tuple(out)


def _decode(on_bad_image, min_width, *paths):
    """Read one image, or a pair that must be the same size, through common.images.

    Runs eagerly inside tf.py_function. A bad file gives empty images when skipping. An image
    narrower than `min_width` is a bad file too (an A|B file needs a pixel for each half).
    """
    names = [p.numpy().decode() for p in paths]
    try:
        arrays = [images.read_image(n) for n in names]
        for name, array in zip(names, arrays):
            if array.shape[1] < min_width:
                raise images.ImageReadError(
                    name, f"it is {array.shape[1]} px wide, an A|B file needs at least {min_width}")
        if len(arrays) == 2 and arrays[0].shape != arrays[1].shape:
            (ha, wa), (hb, wb) = arrays[0].shape[:2], arrays[1].shape[:2]
            raise images.ImageReadError(
                names[1], f"its size {wb}x{hb} differs from its partner {names[0]} ({wa}x{ha})")
    except images.ImageReadError as err:
        if on_bad_image == "fatal":
            raise
        logging.warning("skipping unreadable image: %s", err)
        return [tf.zeros((0, 0, 3), tf.uint8) for _ in names]
    return [tf.constant(a) for a in arrays]


def _pillow(paths, on_bad_image, min_width):
    """The images of one element through _decode, empty if skipped."""
    out = tf.py_function(lambda *t: _decode(on_bad_image, min_width, *t), tf.unstack(paths),
                         [tf.uint8] * paths.shape[0])
    for image in out:
        image.set_shape([None, None, 3])
    return out[0] if len(out) == 1 else tuple(out)


def _decode_files(table, on_bad_image, min_width=1):
    """A dataset of (paths, decoders) -> a dataset of uint8 images (or pairs), bad ones removed
    (images narrower than `min_width` too).

    TF ops decode an element when all its files have a decoder, outside Python's lock. TF's errors do
    not name the file, so an element TF fails on (a pair of different sizes too) is read again by
    Pillow (_decode), which names a bad file, skipping it with a warning or stopping with its name,
    and reads what TF cannot. So each element becomes a small dataset, the TF decoding with its errors
    ignored followed by the Pillow reading, of which the first element is taken: Pillow runs only
    when TF gave nothing.
    """
    def load(paths, decoders):
        native = (tf.data.Dataset.from_tensors((paths, decoders))
                  .filter(lambda _, d: tf.reduce_all(d != ""))
                  .map(lambda p, d: _native(p, d, min_width))
                  .ignore_errors())
        pillow = tf.data.Dataset.from_tensors(paths).map(
            lambda p: _pillow(p, on_bad_image, min_width))
        return native.concatenate(pillow).take(1)

    # Each input gives exactly one element (images, empty ones if skipped, or an error), so the
    # interleave keeps the files' order.
    ds = table.interleave(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.filter(lambda *im: tf.size(im[0]) > 0)


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _folder_files(entry):
    """The image files of a DIR or DIR@LIST entry, sorted by name."""
    directory, _, listing = entry.partition("@")
    try:
        files = images.list_images(directory)
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(str(err)) from err
    if not listing:
        return files
    with open(listing) as f:
        wanted = {_stem(line.strip()) for line in f if line.strip()}
    by_stem = {_stem(p): p for p in files}
    missing = sorted(wanted - by_stem.keys())
    if missing:
        raise ValueError(f"{len(missing)} names in {listing} have no image in {directory}, e.g. "
                         f"{', '.join(missing[:5])}")
    return sorted(by_stem[s] for s in wanted)


def _paired_files(dir_a, dir_b):
    stems_a = {_stem(p): p for p in _folder_files(dir_a)}
    stems_b = {_stem(p): p for p in _folder_files(dir_b)}
    common_stems = sorted(stems_a.keys() & stems_b.keys())
    if not common_stems:
        raise ValueError(f"no file name in {dir_a!r} has a match in {dir_b!r}")
    unmatched = sorted(stems_a.keys() ^ stems_b.keys())
    if unmatched:
        logging.warning("%d files have no partner and are left out, e.g. %s",
                        len(unmatched), ", ".join(unmatched[:5]))
    return [stems_a[s] for s in common_stems], [stems_b[s] for s in common_stems]


def _split_ab(image):
    half = tf.shape(image)[1] // 2
    return image[:, :half], image[:, half:2 * half]


def read(source, *, on_bad_image="skip", shuffle=False, seed=0, start=0):
    """Decoded uint8 images or pairs of `source` (a string or Source), and how many there are.

    One pass in file name order; with `shuffle`, endless passes from element `start` on, each in an
    order of its own (`shuffled_passes` of `seed`), the file paths being shuffled before decoding
    (tfds examples after it, in a buffer of 2048).
    """
    if on_bad_image not in ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image must be one of {ON_BAD_IMAGE}, got {on_bad_image!r}")
    src = parse_source(source) if isinstance(source, str) else source

    def shuffled(ds, n, offset=0):
        return shuffled_passes(ds, n, seed + offset, start) if shuffle else ds

    if src.kind == "tfds":
        ds, size = _read_tfds(src)
        return (shuffled_passes(ds, size, seed, start, buffer=min(size, 2048)) if shuffle else ds,
                size)
    if src.kind in ("folder", "ab", "demo"):
        files = demo.files(src.split, src.name) if src.kind == "demo" else _folder_files(src.paths[0])
        ds = _decode_files(shuffled(_file_table(files), len(files)), on_bad_image,
                           min_width=2 if src.kind == "ab" else 1)
        if src.kind == "ab":
            ds = ds.map(_split_ab)
        elif src.kind == "demo" and src.name in demo.PAIRS:
            ds = ds.map(demo.PAIRS[src.name])
        return ds, len(files)
    if src.kind == "paired":
        files_a, files_b = _paired_files(*src.paths)
        pairs = _file_table(files_a, files_b)
        return _decode_files(shuffled(pairs, len(files_a)), on_bad_image), len(files_a)
    # unpaired: each domain is read on its own and repeated, the epoch being the larger domain
    files = [_folder_files(p) for p in src.paths]
    size = max(len(f) for f in files)
    if shuffle:  # endless passes of each domain, in orders of their own
        return tf.data.Dataset.zip(tuple(
            _decode_files(shuffled(_file_table(f), len(f), k), on_bad_image)
            for k, f in enumerate(files))), size
    domains = [_decode_files(_file_table(f), on_bad_image).repeat() for f in files]
    return tf.data.Dataset.zip(tuple(domains)).take(size), size


def count(source):
    """How many images (or pairs) a source holds, bad files included."""
    return read(source)[1]


def batches(source, batch_size, full_only=False):
    """Batches in one pass over a source (at least 1): what to give `fit` as `validation_steps`,
    since the pipeline's size is unknown to keras (bad files are dropped on the way)."""
    n = count(source)
    return max(1, n // batch_size if full_only else math.ceil(n / batch_size))


def _read_tfds(src):
    import tensorflow_datasets as tfds  # imported here: it is slow to import and only this needs it

    ds = tfds.load(src.name, split=src.split, shuffle_files=False)
    if "image" not in ds.element_spec:
        raise ValueError(f"tfds:{src.name} has no 'image' feature (it has {list(ds.element_spec)})")

    def rgb(example):
        image = example["image"]
        return tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image

    return ds.map(rgb), int(ds.cardinality())


# -- augmentation, applied to both images of a pair at once ----------------------------------------


def jointly(fn):
    """Make an image -> image function act on one image or on a pair together (same crop, same flip).

    The images of a pair are stacked on channels, so they must have the same height and width.
    """
    def apply(*args):
        *ims, seed = args
        if len(ims) == 1:
            return fn(ims[0], seed)
        depth = [im.shape[-1] for im in ims]
        return tuple(tf.split(fn(tf.concat(ims, -1), seed), depth, axis=-1))
    return apply


def center_crop(image, size=0):
    """The centred size x size square of an image [H, W, C], or of each of a batch [N, H, W, C] (the
    largest square if size is 0 or too large)."""
    h, w = tf.shape(image)[-3], tf.shape(image)[-2]
    side = tf.minimum(h, w) if not size else tf.minimum(tf.minimum(h, w), size)
    top, left = (h - side) // 2, (w - side) // 2
    return image[..., top:top + side, left:left + side, :]


def resize(image, size, *, portable=False):
    """Square resize of a uint8 image (or batch) with bicubic filtering, as the official pix2pix code;
    `portable` as in common.resize (for LiteRT and ONNX)."""
    out = resize_ops.resize(tf.cast(image, tf.float32), size, size, "bicubic", portable=portable)
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)


def to_range(image, value_range):
    """uint8 -> float32 in value_range, (-1, 1) or (0, 1): the one place where values are scaled."""
    low, high = value_range
    return tf.cast(image, tf.float32) / 255.0 * (high - low) + low


def as_unit(images):
    """uint8 images scaled to [0, 1]; float images (already in [0, 1]) cast to float32."""
    if images.dtype == tf.uint8:
        return to_range(images, (0, 1))
    return tf.cast(images, tf.float32)


def from_range(images, value_range):
    """float in value_range -> uint8, rounded: the inverse of to_range."""
    low, high = value_range
    scaled = (tf.cast(images, tf.float32) - low) / (high - low) * 255.0
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def to_channels(image, channels):
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


def to_rgb(images):
    """Three channels for display and serving: a one-channel image is repeated."""
    return tf.image.grayscale_to_rgb(images) if images.shape[-1] == 1 else images


def _each(fn):
    """Apply an image -> image function to one image or to each image of a pair."""
    def apply(*ims):
        out = [fn(im) for im in ims]
        return out[0] if len(out) == 1 else tuple(out)
    return apply


def _augmentation(crop_size, flip, rotate):
    """stack, seed -> a random crop_size crop (if given), quarter turn (if rotate) and mirror (if flip)."""
    def fn(stack, seed):
        crop_seed, turn_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        if crop_size:
            stack = tf.image.stateless_random_crop(stack, [crop_size, crop_size, stack.shape[-1]],
                                                   crop_seed)
        if rotate:
            turns = tf.random.stateless_uniform([], turn_seed, 0, 4, dtype=tf.int32)
            stack = tf.image.rot90(stack, turns)
        return tf.image.stateless_random_flip_left_right(stack, flip_seed) if flip else stack
    return fn


def independently(fn):
    """Like `jointly`, but each image of a pair gets its own random draw (unpaired domains)."""
    def apply(*args):
        *ims, seed = args
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, len(ims)))
        out = [fn(im, s) for im, s in zip(ims, seeds)]
        return out[0] if len(out) == 1 else tuple(out)
    return apply


def resize_long_side(image, size):
    """Resize a uint8 image so that its longer side is `size`, keeping the aspect ratio (bicubic)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    new = tf.maximum(tf.cast(tf.round(shape * size / tf.reduce_max(shape)), tf.int32), 1)
    out = tf.image.resize(tf.cast(image, tf.float32), new, method="bicubic", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)


def mirror_indices(size, padded):
    """Indices 0..padded-1 folded back into 0..size-1 as a mirror would (..., 1, 0, 0, 1, ...).

    This is tf.pad's SYMMETRIC mode (the edge pixel repeated), but the padding may exceed the size.
    """
    i = tf.range(padded) % (2 * size)
    return tf.where(i < size, i, 2 * size - 1 - i)


def mirror_pad(images, height, width):
    """Pad [..., H, W, C] images at the bottom and right to height x width by mirroring."""
    h, w = tf.shape(images)[-3], tf.shape(images)[-2]
    images = tf.gather(images, mirror_indices(h, tf.maximum(h, height)), axis=images.shape.rank - 3)
    return tf.gather(images, mirror_indices(w, tf.maximum(w, width)), axis=images.shape.rank - 2)


_ENDLESS = 2 ** 62  # the end of a range that no run reaches


def stream_seed(seed=None):
    """The seed of a data stream: `seed`, or a random one (a run without --seed)."""
    return random.randrange(2 ** 30) if seed is None else int(seed)


def shuffled_passes(ds, size, seed, start=0, buffer=None):
    """Endless passes over the finite dataset `ds` of `size` elements, pass p shuffled with the seed
    (seed, p), from element `start` of that stream on.

    The order depends on the seed and the position alone, so a resumed run goes on reading where the
    stopped one was, at the cost of at most one pass (the elements of its pass before `start`). With
    unreadable files dropped on the way, positions after them shift and resuming is no longer exact.
    """
    def one_pass(p):
        # The seed pair of pass p is (seed + 1, p). A tensor op seed beside a global seed of 0 (from
        # --seed=0) trips TF's seed check, so the pair's first half is this function graph's own
        # seed, set here (TF's global seed stays as it was).
        tf.compat.v1.set_random_seed(seed + 1)
        return ds.shuffle(buffer or size, seed=p, reshuffle_each_iteration=False)

    first, offset = divmod(start, size)
    return tf.data.Dataset.range(first, _ENDLESS).flat_map(one_pass).skip(offset)


def element_seeds(seed, start=0):
    """Endless [2] int64 seeds (seed, i) of the elements i = start, start + 1, ... of a stream, for
    stateless random ops: what element i draws depends on the seed and i alone."""
    return tf.data.Dataset.range(start, _ENDLESS).map(
        lambda i: tf.stack([tf.constant(seed, tf.int64), i]))


def with_seeds(ds, size, *, cache, repeat, seed, start=0):
    """A training stream of (element, [2] seed) pairs from element `start` on: `ds` in shuffled
    passes (made here after the cache; without it `read(shuffle=True)` made them over the file list),
    one pass unless `repeat`, each element with the seed of its position (`element_seeds`)."""
    if cache:
        ds = shuffled_passes(ds, size, seed, start, buffer=min(size, 2048))
    if not repeat:
        ds = ds.take(size)
    return tf.data.Dataset.zip((ds, element_seeds(seed, start)))


FITS = ("crop", "pad")


def pipeline(source, *, batch_size, image_size, training, load_size=None, flip=True, rotate=False,
             fit="crop", value_range=(-1.0, 1.0), channels=3, on_bad_image="skip", cache=True,
             seed=None, repeat=False, center_crop_size=None, transform=None, start=0):
    """Batches of float32 images or (a, b) pairs, ready for `model.fit` / `evaluate`.

    How an image becomes image_size x image_size (`fit`):
      "crop": resized to a load_size square (default image_size; training) or an image_size square
              (evaluation); training takes a random image_size crop (pix2pix, DCGAN).
      "pad":  resized so that its longer side is image_size, keeping the aspect ratio, then mirror-
              padded at the bottom and right, as DPE's official data loader (after augmentation).
    With `center_crop_size` each image is first cut to its centred square of that size (0: the
    largest square), keeping the aspect ratio as DCGAN's data loaders do.
    Training: resize -> cache -> shuffle -> random crop, quarter turns (`rotate`) and horizontal flip
    (`flip`), the same for both images of a paired source, drawn separately for `unpaired:` ones ->
    scale -> full batches only. Evaluation: resize -> scale -> batches in a fixed order.
    `channels` is each image's channel count (1 converts to grayscale), an int or one per image.
    Without `cache` the file list is shuffled instead (each pass in its own order either way).
    `transform(*images, seed)` (optional) maps each element after the augmentation, before scaling, to
    an image or a tuple of images on the 0-255 scale (uint8 or float), e.g. a clean face to a
    (degraded, clean) pair. Its [2] int64 seed is drawn per element from `seed`; evaluation draws the
    same seeds on every pass, so a validation set made this way stays fixed.
    The training stream depends on `seed` (random if None) and the position alone: `start` elements
    in (a resumed run: epochs done x steps per epoch x global batch), it goes on exactly as the whole
    stream would (`shuffled_passes`, `element_seeds`).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    src = parse_source(source) if isinstance(source, str) else source
    seed = stream_seed(seed)
    ds, size = read(src, on_bad_image=on_bad_image, shuffle=training and not cache, seed=seed,
                    start=start)
    resize_to = (load_size or image_size) if training else image_size

    def prepare(im):
        if center_crop_size is not None:
            im = center_crop(im, center_crop_size)
        return resize_long_side(im, image_size) if fit == "pad" else resize(im, resize_to)

    ds = ds.map(_each(prepare), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if training:
        fn = _augmentation(image_size if fit == "crop" else None, flip, rotate)
        augment = (independently if src.kind == "unpaired" else jointly)(fn)
        ds = with_seeds(ds, size, cache=cache, repeat=repeat, seed=seed, start=start)
        ds = ds.map(lambda x, s: augment(*(x if isinstance(x, tuple) else (x,)), s),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if transform is not None:
        # A seed stream of its own (seed + 1), so the augmentation's draws stay what they were.
        seeds = element_seeds(seed + 1, start if training else 0)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda x, s: transform(*(x if isinstance(x, tuple) else (x,)), s),
            num_parallel_calls=tf.data.AUTOTUNE)

    def finish(*ims):
        depth = (channels,) * len(ims) if isinstance(channels, int) else channels
        if fit == "pad":
            ims = [mirror_pad(im, image_size, image_size) for im in ims]
        out = [to_range(to_channels(im, c), value_range) for im, c in zip(ims, depth)]
        return out[0] if len(out) == 1 else tuple(out)

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    # Files are listed in memory, so a multi-worker run shards by element.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def augmentation(crop_size, flip=True, rotate=False):
    """`pipeline`'s training augmentation, for pipelines of other shapes (pienet_tf.data): a
    (stack, seed) -> stack function to wrap in `jointly` or `independently`."""
    return _augmentation(crop_size, flip, rotate)
