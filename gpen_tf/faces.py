"""Every face of a whole photo restored, as the official GPEN `face_enhancement.py` does it.

    restorer = faces.PhotoRestorer("runs/gpen/saved_model")
    result = restorer(photo)            # photo: uint8 RGB [H, W, 3]
    result.photo, result.faces          # the restored photo, and each face restored

With the official options (detector=PATH of a converted RetinaFace, mask=PATH of a converted
ParseNet, background=PATH of a converted RealESRNet; alpha 1) this follows FaceEnhancement.process
step for step, with OpenCV's arithmetic reproduced in NumPy (gpen_tf/opencv.py):
  0. with a background model, the photo is upscaled by it (gpen_tf/background.py), and the faces are
     found and cropped in the photo resized to that size by cv2's bilinear rule;
  1. the faces are found (gpen_tf/detection.py: RetinaFace, or MTCNN by default), and those narrower
     than `min_face` left out (MTCNN's landmarks on tiny faces do not align them);
  2. a similarity transform (least squares over the five points) maps the landmarks onto GPEN's
     template at the model's size S (`template`), and the photo is warped to an S x S crop;
  3. the exported model restores the crops;
  4. each restored face gets its paste mask: ParseNet's (gpen_tf/masks.py) or, by default, a
     feathered square (`feather`, the official code's commented-out alternative); a face whose box is
     under 100 px on a side is blurred 3 x 3; with alpha < 1 it is mixed with its crop;
  5. the faces and masks are warped back and blended: photo * (1 - m) + face * m, where m is, per
     pixel, the largest mask of any face and the face is the one with that mask (a later face takes a
     pixel only where its mask is larger), the sum rounded.
Pixels away from all faces keep their values exactly (or the background model's). The work is done
in the faces' window only, so a large photo costs what its faces cost.
"""

import collections
import functools

import numpy as np

from common import formats
from gpen_tf import background, detection, masks, opencv
from gpen_tf.options import MIN_FACE

# Five points (x, y) in a 96 x 112 crop: left eye, right eye, nose, left and right mouth corners
# (official align_faces.py REFERENCE_FACIAL_POINTS).
REFERENCE_POINTS = np.array([[30.29459953, 51.69630051], [65.53179932, 51.50139999],
                             [48.02519989, 71.73660278], [33.54930115, 92.3655014],
                             [62.72990036, 92.20410156]])

# Restored faces whose detected box is under this many pixels on a side are blurred 3 x 3 before the
# paste (official face_enhancement.py): a small face should not come out sharper than its photo.
SMALL_FACE = 100

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


@functools.lru_cache(maxsize=4)
def feather(size):
    """The feathered square mask of an S x S face: the official code's commented-out 512 px mask (1
    inside a 26 px border, Gaussian-blurred with sigma 4 twice; the same as ParseNet's mask of a
    crop that is all face) resized to S. float32 [S, S], read-only: made once per size."""
    mask = opencv.resize_linear(masks.soften(np.full((512, 512), 255, np.uint8)), size, size)
    mask.setflags(write=False)
    return mask


def _window(to_photo, size, height, width):
    """The photo rectangle (x0, y0, x1, y1) that the S x S crop covers once warped back by `to_photo`."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    xy = corners @ np.asarray(to_photo, np.float64).T
    x0, y0 = np.floor(xy.min(0)).astype(int) - 1
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 2
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def paste(photo, faces, face_masks, matrices):
    """Blend S x S faces (uint8) with their masks (float32 [S, S]) into a uint8 photo, as
    face_enhancement.py does; `matrices` map photo -> crop."""
    height, width = photo.shape[:2]
    size = faces[0].shape[0] if len(faces) else 0
    to_photo = [opencv.invert_affine(m) for m in matrices]
    placed = [(face, mask, inverse, window) for face, mask, inverse in zip(faces, face_masks, to_photo)
              for window in [_window(inverse, size, height, width)]
              if window[2] > window[0] and window[3] > window[1]]  # faces inside the photo
    out = photo.copy()
    if not placed:
        return out
    ux0, uy0 = (min(p[3][k] for p in placed) for k in (0, 1))
    ux1, uy1 = (max(p[3][k] for p in placed) for k in (2, 3))
    best = np.zeros((uy1 - uy0, ux1 - ux0, 1), np.float32)    # the largest face mask so far, per pixel
    pasted = np.zeros((uy1 - uy0, ux1 - ux0, 3), np.uint8)   # the face of that mask
    for face, mask, inverse, window in placed:
        x0, y0, x1, y1 = window
        face_mask = opencv.warp_affine(mask, inverse, width, height, window)[..., None]
        face_pixels = opencv.warp_affine(face, inverse, width, height, window)
        here = (slice(y0 - uy0, y1 - uy0), slice(x0 - ux0, x1 - ux0))
        larger = face_mask > best[here]
        best[here] = np.where(larger, face_mask, best[here])
        pasted[here] = np.where(larger, face_pixels, pasted[here])
    region = out[uy0:uy1, ux0:ux1]
    blended = region * (1 - best) + pasted * best   # float32, as the official NumPy sum
    out[uy0:uy1, ux0:ux1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


def _detector(choice):
    if callable(choice):
        return choice
    return detection.MTCNN() if choice in (None, "mtcnn") else detection.RetinaFace.load(choice)


def _mask(choice, size):
    if callable(choice):
        return choice
    if choice in (None, "feather"):
        square = feather(size)
        return lambda face: square
    return masks.ParseNet.load(choice)


def _background(choice, tile):
    if choice is None or callable(choice):
        return choice
    return background.upscaler(choice, tile)[0]


class PhotoRestorer:
    """Restores every face of whole photos with an exported GPEN (the path of an export in any format,
    or a function of uint8 faces [N, S, S, 3]; then give `size`).

    detector: "mtcnn", the path of a converted RetinaFace, or a function photo -> [detection.Face];
    mask: "feather", the path of a converted ParseNet, or a function of a restored face -> its mask;
    background: None, the path of a converted RealESRNet, or a function photo -> upscaled photo;
    alpha: the weight of the restored face against its crop (1: the restored face alone);
    sr_tile: the background model's tile size in pixels (0: the whole photo at once, as the official
    default, which needs memory in proportion to the photo)."""

    def __init__(self, model, size=None, min_face=MIN_FACE, detector="mtcnn", mask="feather",
                 background=None, alpha=1.0, sr_tile=0):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            served = formats.load(str(model), "GPEN")
            serve = served.signatures["serving_default"]
            model = lambda faces: serve(images=faces)["images"]  # noqa: E731
            size = size or served.metadata["config"]["size"]
        if size is None:
            raise ValueError("size is required with a function as the model")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha is a weight in [0, 1], got {alpha}")
        self.restore_faces, self.size, self.min_face, self.alpha = model, int(size), min_face, alpha
        self.template = template(self.size)
        self.detector = _detector(detector)
        self.mask = _mask(mask, self.size)
        self.upscale = _background(background, sr_tile)

    def __call__(self, photo):
        """A uint8 photo [H, W, 3] -> Result(photo: the restored photo, uint8, of the photo's size or
        the background model's; faces: the detection.Face of each face restored, in the coordinates
        of the result; crops and restored: the aligned S x S inputs and outputs)."""
        photo = np.asarray(photo)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise ValueError(f"a photo is uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
        base = photo
        if self.upscale is not None:
            base = self.upscale(photo)
            photo = opencv.resize_linear(photo, base.shape[1], base.shape[0])
        found = [face for face in self.detector(photo) if min(face.box[2:]) >= self.min_face]
        if not found:
            return Result(base.copy(), [], [], [])
        matrices = [similarity(face.landmarks, self.template) for face in found]
        crops = np.stack([opencv.warp_affine(photo, m, self.size, self.size) for m in matrices])
        restored = np.asarray(self.restore_faces(crops))
        pasted, face_masks = [], []
        for face, crop, face_out in zip(found, crops, restored):
            face_masks.append(self.mask(face_out))
            if min(face.box[2:]) < SMALL_FACE:
                face_out = opencv.smooth(face_out)
            pasted.append(opencv.add_weighted(face_out, self.alpha, crop))
        return Result(paste(base, pasted, face_masks, matrices), found, list(crops), list(restored))


def restore_photo(model, photo, **options):
    """One call for a notebook: (the restored uint8 photo, the box (x, y, w, h) of each face restored).
    `model` and `options` as PhotoRestorer's; for many photos keep one PhotoRestorer (it loads the
    networks once)."""
    result = PhotoRestorer(model, **options)(photo)
    return result.photo, [face.box for face in result.faces]
