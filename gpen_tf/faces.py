"""Every face of a whole photo restored, as the official GPEN `face_enhancement.py` does it.

    restorer = faces.PhotoRestorer("runs/gpen/saved_model")
    result = restorer(photo)            # photo: uint8 [H, W, 3]
    result.photo, result.faces          # the restored photo (same size), and each face found

For each face with five landmarks (MTCNN, the `mtcnn` package: TensorFlow, its weights in its wheel):
  1. a similarity transform (least squares over the five points) maps the landmarks onto GPEN's
     template at the model's size S (`template`), and the photo is warped to an S x S crop;
  2. the exported model restores the crop;
  3. the restored crop and a feathered mask (`feather`) are warped back into the photo and blended:
     photo * (1 - m) + face * m, where m is, per pixel, the largest mask of any face and the face is
     the one with that mask (the official rule for overlapping faces).
Pixels where every mask is 0 (away from all faces) keep their values exactly. Warps are bilinear with a
black border, as the official `cv2.warpAffine`; the work is done in each face's bounding window only,
so a large photo costs what its faces cost.
"""

import collections
import functools

import numpy as np
import tensorflow as tf

from common import formats
from gpen_tf.options import MIN_FACE

# Five points (x, y) in a 96 x 112 crop: left eye, right eye, nose, left and right mouth corners
# (official align_faces.py REFERENCE_FACIAL_POINTS).
REFERENCE_POINTS = np.array([[30.29459953, 51.69630051], [65.53179932, 51.50139999],
                             [48.02519989, 71.73660278], [33.54930115, 92.3655014],
                             [62.72990036, 92.20410156]])
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MIN_SCORE = 0.9   # the official face_enhancement keeps detections of at least this confidence

Face = collections.namedtuple("Face", ["box", "landmarks", "score"])   # box (x, y, w, h); (5, 2) points
Result = collections.namedtuple("Result", ["photo", "faces", "crops", "restored"])


def template(size):
    """The five reference points in an S x S crop: official `get_reference_facial_points((S, S),
    inner_padding_factor=0.25, outer_padding=(0, 0), default_square=True)`, i.e. the 96 x 112 points
    made square (112 x 112), padded by a quarter on each side (168 x 168), scaled to S."""
    points = REFERENCE_POINTS + [(112 - 96) / 2, 0]
    points = points + 112 * 0.25
    return points * (size / 168.0)


def similarity(src, dst):
    """The 2 x 3 similarity transform (rotation, uniform scale, translation) that maps the points
    `src` onto `dst` with the least squared error (the official code's Umeyama estimate)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    # [x, -y, 1, 0] [a b tx ty]^T = x'  and  [y, x, 0, 1] [a b tx ty]^T = y'
    rows = np.concatenate([np.stack([src[:, 0], -src[:, 1], np.ones(len(src)), np.zeros(len(src))], 1),
                           np.stack([src[:, 1], src[:, 0], np.zeros(len(src)), np.ones(len(src))], 1)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, np.concatenate([dst[:, 0], dst[:, 1]]), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def invert(matrix):
    full = np.vstack([matrix, [0, 0, 1]])
    return np.linalg.inv(full)[:2]


def warp(image, matrix, height, width):
    """An output of height x width whose pixel (x, y) is `image` at matrix @ (x, y, 1), bilinear,
    0 outside. `image` is float32 [H, W, C]."""
    transform = np.concatenate([matrix.reshape(-1), [0, 0]]).astype(np.float32)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.convert_to_tensor(image, tf.float32)[None], transforms=transform[None],
        output_shape=tf.constant([height, width], tf.int32), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")[0].numpy()


def _gaussian(sigma):
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


@functools.lru_cache(maxsize=4)
def feather(size):
    """The blending mask of an S x S face: the official 512-px mask (1 on [26, 486), 0 around it,
    Gaussian-blurred with sigma 4, twice) scaled to S. float32 [S, S], read-only: it is made once
    per size, not once per photo."""
    scale = size / 512.0
    mask = np.zeros((size, size), np.float32)
    low, high = int(round(26 * scale)), int(round(486 * scale))
    mask[low:high, low:high] = 1.0
    taps = _gaussian(4 * np.sqrt(2) * scale)  # two blurs of sigma 4 are one of sigma 4 * sqrt(2)
    for axis in (0, 1):
        mask = np.apply_along_axis(lambda row: np.convolve(row, taps, mode="same"), axis, mask)
    mask.setflags(write=False)
    return mask


def detect(detector, photo, min_face=MIN_FACE):
    """The faces in a uint8 RGB photo with confidence >= MIN_SCORE and a box at least `min_face`
    wide, largest first: a list of Face."""
    found = []
    for f in detector.detect_faces(photo):
        x, y, w, h = f["box"]
        if f["confidence"] < MIN_SCORE or min(w, h) < min_face:
            continue
        points = np.array([f["keypoints"][name] for name in LANDMARKS], np.float64)
        found.append(Face((int(x), int(y), int(w), int(h)), points, float(f["confidence"])))
    return sorted(found, key=lambda face: -face.box[2] * face.box[3])


def _window(matrix_to_photo, size, height, width):
    """The photo rectangle (x0, y0, x1, y1) that the S x S crop covers once warped back."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    xy = corners @ matrix_to_photo.T
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 1
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def paste(photo, faces, matrices, size):
    """Blend restored S x S faces (uint8) into a uint8 photo; `matrices` map photo -> crop."""
    height, width = photo.shape[:2]
    mask = feather(size)[..., None]
    best = np.zeros((height, width, 1), np.float32)    # the largest face mask so far, per pixel
    pasted = np.zeros((height, width, 3), np.float32)  # the face of that mask
    for face, to_crop in zip(faces, matrices):
        x0, y0, x1, y1 = _window(invert(to_crop), size, height, width)
        if x1 <= x0 or y1 <= y0:
            continue
        # Output pixel (x, y) of the window is photo pixel (x + x0, y + y0): into the crop by to_crop.
        shifted = to_crop @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
        face_mask = warp(mask, shifted, y1 - y0, x1 - x0)
        face_pixels = warp(face.astype(np.float32), shifted, y1 - y0, x1 - x0)
        window = (slice(y0, y1), slice(x0, x1))
        larger = face_mask > best[window]
        best[window] = np.where(larger, face_mask, best[window])
        pasted[window] = np.where(larger, face_pixels, pasted[window])
    blended = photo.astype(np.float32) * (1.0 - best) + pasted * best
    return np.where(best > 0, np.clip(np.round(blended), 0, 255), photo).astype(np.uint8)


class PhotoRestorer:
    """Restores every face of whole photos with an exported GPEN (the path of an export in any format,
    or a function of uint8 faces [N, S, S, 3]; then give `size`)."""

    def __init__(self, model, size=None, min_face=MIN_FACE, detector=None):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            served = formats.load(str(model), "GPEN")
            serve = served.signatures["serving_default"]
            model = lambda faces: serve(images=faces)["images"]  # noqa: E731
            size = size or served.metadata["config"]["size"]
        if size is None:
            raise ValueError("size is required with a function as the model")
        self.restore_faces, self.size, self.min_face = model, int(size), min_face
        self.template = template(self.size)
        self.detector = detector or mtcnn_detector()

    def __call__(self, photo):
        """A uint8 photo [H, W, 3] -> Result(photo: the restored photo, uint8, same size; faces: the
        Face of each face restored; crops and restored: the aligned S x S inputs and outputs)."""
        photo = np.asarray(photo)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise ValueError(f"a photo is uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
        found = detect(self.detector, photo, self.min_face)
        if not found:
            return Result(photo.copy(), [], [], [])
        matrices = [similarity(face.landmarks, self.template) for face in found]
        crops = np.stack([np.clip(np.round(warp(photo.astype(np.float32), invert(m), self.size,
                                                 self.size)), 0, 255).astype(np.uint8)
                          for m in matrices])
        restored = np.asarray(self.restore_faces(crops))
        return Result(paste(photo, restored, matrices, self.size), found, list(crops), list(restored))


def mtcnn_detector():
    """The MTCNN face detector (the mtcnn package), on the CPU."""
    try:
        from mtcnn import MTCNN  # imported here: loading its three networks takes a moment
    except ImportError as err:
        raise ImportError("finding faces in whole photos needs the mtcnn package (pip install mtcnn); "
                          "--aligned restores crops without it") from err
    return MTCNN(device="CPU:0")


def restore_photo(model, photo, **options):
    """One call for a notebook: (the restored uint8 photo, the box (x, y, w, h) of each face restored).
    `model` and `options` as PhotoRestorer's; for many photos keep one PhotoRestorer (it loads the
    model and the detector once)."""
    result = PhotoRestorer(model, **options)(photo)
    return result.photo, [face.box for face in result.faces]
