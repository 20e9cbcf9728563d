"""The paste mask of GPEN's whole-photo pipeline from ParseNet's classes, as the official code makes it.

`face_parse/face_parsing.py` turns ParseNet's 19 class scores into a uint8 mask by the argmax and its
colour map: 255 for the face's parts, 0 for background (0), hat (14) and cloth (18). Then
`face_enhancement.py`'s `mask_postprocess` divides it by 255, zeroes a border of 26 pixels and blurs it
twice with cv2.GaussianBlur (101 x 101, sigma 4; cv2's default border, which reflects without
repeating the edge pixel). `ParseNet.load(path)` makes that mask for a restored face with a converted
ParseNet-latest.pth, as face_enhancement.py does: the face resized to ParseNet's size (512) by
cv2.resize, RGB in [-1, 1], the class scores, the mask, `soften`, resized back to the face's size.
"""

import numpy as np

from gpen_tf import opencv

# FaceParse.MASK_COLORMAP: the mask value of each of the 19 classes.
CLASS_VALUES = np.array([0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 255, 255,
                         255, 0], np.uint8)
BORDER = 26  # mask_postprocess's thres
BLUR_SIZE, BLUR_SIGMA = 101, 4.0


def parse_mask(class_scores):
    """uint8 [S, S] mask of ParseNet's `mask` output [S, S, 19]: each pixel's class through CLASS_VALUES."""
    scores = np.asarray(class_scores)
    if scores.ndim != 3 or scores.shape[-1] != len(CLASS_VALUES):
        raise ValueError(f"ParseNet's class scores are [S, S, {len(CLASS_VALUES)}], got {scores.shape}")
    return CLASS_VALUES[scores.argmax(axis=-1)]


def gaussian_taps(size=BLUR_SIZE, sigma=BLUR_SIGMA):
    """cv2.getGaussianKernel(size, sigma): normalised taps exp(-(i - (size - 1) / 2)^2 / (2 sigma^2))."""
    offsets = np.arange(size) - (size - 1) / 2
    taps = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    return taps / taps.sum()


def gaussian_blur(image, size=BLUR_SIZE, sigma=BLUR_SIGMA):
    """cv2.GaussianBlur(image, (size, size), sigma) of a float32 [H, W] image: separable, the border
    reflected without repeating the edge (BORDER_REFLECT_101)."""
    taps = gaussian_taps(size, sigma)
    radius = size // 2
    out = np.asarray(image, np.float64)
    for axis in (0, 1):
        padding = [(0, 0), (0, 0)]
        padding[axis] = (radius, radius)
        padded = np.pad(out, padding, mode="reflect")  # NumPy's "reflect" is cv2's REFLECT_101
        windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis)
        out = windows @ taps
    return out.astype(np.float32)


def soften(mask):
    """mask_postprocess: a uint8 0/255 [S, S] mask -> float32 in [0, 1], the border zeroed, blurred
    twice."""
    soft = np.asarray(mask, np.float32) / 255.0
    soft[:BORDER, :] = 0
    soft[-BORDER:, :] = 0
    soft[:, :BORDER] = 0
    soft[:, -BORDER:] = 0
    return gaussian_blur(gaussian_blur(soft))


class ParseNet:
    """The official paste mask of restored faces: a function of a uint8 RGB face [S, S, 3] -> float32
    [S, S] in [0, 1]. `network` maps float32 RGB [1, P, P, 3] in [-1, 1] to {"mask": class scores
    [1, P, P, 19]}, as a converted ParseNet's `raw` signature (`ParseNet.load`); `size` is P."""

    def __init__(self, network, size):
        self.network, self.size = network, int(size)

    @classmethod
    def load(cls, path):
        """The mask of a converted ParseNet (the folder `gpen_tf.convert` wrote, or its saved_model)."""
        from common import export  # TensorFlow
        from gpen_tf import parsenet
        network, metadata = export.load_raw(path, parsenet.MODEL)
        return cls(network, metadata["config"]["in_size"])

    def __call__(self, face):
        size = face.shape[0]
        image = opencv.resize_linear(face, self.size, self.size) / 255.0 * 2 - 1  # FaceParse.img2tensor
        scores = np.asarray(self.network(image[None].astype(np.float32))["mask"])[0]
        return opencv.resize_linear(soften(parse_mask(scores)), size, size)
