"""The OpenCV calls of GPEN's whole-photo pipeline (`face_enhancement.py`), in NumPy, computed as
OpenCV computes them, so that our pipeline gives the official one's pixels without OpenCV:

- `warp_affine`: cv2.warpAffine(image, matrix, (width, height), flags=3) with its default black border.
  flags=3 is INTER_AREA, which warpAffine runs as bilinear. The matrix is inverted in double
  precision and each output pixel sampled bilinearly at its exact source position; uint8 results are
  rounded. (OpenCV 5.1, checked here, samples at exact positions; OpenCV 4.10 and older rounded them to
  1/32 px, which moves a sample by up to 1/64 px: a level or two on a sharp edge.)
- `resize_linear`: cv2.resize with INTER_LINEAR: half-pixel centres; across, the edges clamped;
  down, the edge rows repeated under unclamped weights (OpenCV's own asymmetry, which shows in the
  rounding). Float images in float32; uint8 images in OpenCV's 11-bit fixed point with the rounding
  of its vectorised loop, which gives OpenCV's pixels exactly. An exact halving, which OpenCV hands
  to its INTER_AREA path, comes out the same 2 x 2 mean.
- `smooth`: cv2.filter2D(image, -1, SMOOTHING), the 3 x 3 blur of faces under 100 px (edges reflected
  without repeating the edge pixel, rounded half to even).
- `add_weighted`: cv2.addWeighted(a, alpha, b, 1 - alpha, 0) on uint8 images.
"""

import numpy as np

RESIZE_BITS = 11                  # cv2.resize's fixed point for uint8 images
SMOOTHING = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16
ROWS_PER_BLOCK = 256              # resize_linear's working set: this many output rows at a time


def invert_affine(matrix):
    """cv2.invertAffineTransform of a 2 x 3 matrix, in double precision as warpAffine inverts it."""
    m = np.asarray(matrix, np.float64)
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    det = 1.0 / det if det != 0 else 0.0
    a11, a12, a21, a22 = m[1, 1] * det, -m[0, 1] * det, -m[1, 0] * det, m[0, 0] * det
    return np.array([[a11, a12, -a11 * m[0, 2] - a12 * m[1, 2]],
                     [a21, a22, -a21 * m[0, 2] - a22 * m[1, 2]]])


def warp_affine(image, matrix, width, height, window=None):
    """cv2.warpAffine(image, matrix, (width, height), flags=3): output pixel (x, y) is `image` at
    invert_affine(matrix) @ (x, y, 1), bilinear, black outside. `image` is uint8 or float32
    [H, W] or [H, W, C]; the result has its dtype. `window` (x0, y0, x1, y1) computes only that part
    of the output, pixel for pixel as the whole would have it."""
    image = np.asarray(image)
    x0, y0, x1, y1 = window or (0, 0, width, height)
    inverse = invert_affine(matrix)
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    sx = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]
    sy = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]
    ix, iy = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - ix, sy - iy
    src = image.reshape(image.shape[:2] + (-1,))
    h, w = image.shape[:2]
    out = np.zeros(sx.shape + (src.shape[2],), np.float64)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = iy + dy, ix + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            out += np.where(inside, wy * wx, 0.0)[..., None] * src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
    if image.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255)
    return out.astype(image.dtype).reshape(sx.shape + image.shape[2:])


def _taps(source, target, scale, clamp):
    """Per output index along one side: the two source indices and the second one's weight
    (float32), as cv2.resize computes them; `clamp` pins the weight at the edges too."""
    position = ((np.arange(target) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(position).astype(np.int64)
    weight = (position - first).astype(np.float32)
    if not clamp:
        return np.clip(first, 0, source - 1), np.clip(first + 1, 0, source - 1), weight
    weight[first < 0], first[first < 0] = 0, 0
    last = first >= source - 1
    weight[last], first[last] = 0, source - 1
    return first, np.minimum(first + 1, source - 1), weight


def _fixed(weight):
    return np.rint(weight * np.float32(1 << RESIZE_BITS)).astype(np.int64)


def resize_linear(image, width, height, *, factor=None, dtype=None):
    """cv2.resize(image, (width, height), interpolation=INTER_LINEAR), or with `factor`
    cv2.resize(image, (0, 0), fx=factor, fy=factor) (give the size it makes: round(side * factor)).
    [H, W] or [H, W, C], uint8 or float32; the result is of `dtype` (default the image's; a uint8
    image asked for float32 is resized as OpenCV resizes its float32 copy), worked out a block of rows
    at a time so that a large photo costs its output, not a float copy of it."""
    image = np.asarray(image)
    dtype = np.dtype(dtype or image.dtype)
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image.astype(dtype, copy=True)
    scale_y, scale_x = (1 / factor,) * 2 if factor else (1 / (height / h), 1 / (width / w))
    top, bottom, wy = _taps(h, height, scale_y, clamp=False)
    left, right, wx = _taps(w, width, scale_x, clamp=True)
    extra = (1,) * (image.ndim - 2)
    fixed = dtype == np.uint8 and image.dtype == np.uint8
    if fixed:
        wx0, wx1 = _fixed(1 - wx).reshape((1, -1) + extra), _fixed(wx).reshape((1, -1) + extra)
    else:
        wx0, wx1 = (1 - wx).reshape((1, -1) + extra), wx.reshape((1, -1) + extra)
    out = np.empty((height, width) + image.shape[2:], dtype)
    for start in range(0, height, ROWS_PER_BLOCK):
        rows = slice(start, start + ROWS_PER_BLOCK)
        wy1 = wy[rows].reshape((-1, 1) + extra)
        kind = np.int64 if fixed else np.float32
        upper, lower = (image[r].astype(kind) for r in (top[rows], bottom[rows]))
        upper = upper[:, left] * wx0 + upper[:, right] * wx1
        lower = lower[:, left] * wx0 + lower[:, right] * wx1
        if fixed:  # the rounding of OpenCV's vectorised vertical pass
            b0, b1 = _fixed(1 - wy1), _fixed(wy1)
            out[rows] = (((upper >> 4) * b0 >> 16) + ((lower >> 4) * b1 >> 16) + 2) >> 2
        else:
            out[rows] = upper * (1 - wy1) + lower * wy1
    return out


def smooth(image):
    """cv2.filter2D(image, -1, SMOOTHING) of a uint8 [H, W, C] image."""
    padded = np.pad(np.asarray(image, np.float32), ((1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = image.shape[:2]
    out = sum(SMOOTHING[i, j] * padded[i:i + h, j:j + w] for i in range(3) for j in range(3))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def add_weighted(first, alpha, second):
    """cv2.addWeighted(first, alpha, second, 1 - alpha, 0) of uint8 images."""
    mixed = np.float32(alpha) * first.astype(np.float32) + np.float32(1 - alpha) * second.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
