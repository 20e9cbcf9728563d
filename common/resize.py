"""Antialiased image resizing as two matrix products, for graphs that LiteRT and ONNX can express.

`tf.image.resize(..., antialias=True)` runs TensorFlow's ScaleAndTranslate op, which neither LiteRT's
built-in ops nor tf2onnx know. A separable resize is a linear map per axis, so the same result is
`rows @ image @ cols^T` with weight matrices built from the output and input sizes by elementwise ops,
shapes known only at run time included. The weights follow ScaleAndTranslate (scale = out / in, no
translation): output pixel o samples the input at s = (o + 0.5) * in / out, input pixel i gets
kernel(|i + 0.5 - s| / k) with k = max(in / out, 1) (the kernel widened when shrinking), and each row
is divided by its sum. tests/test_formats.py checks the result against tf.image.resize.
`resize(..., portable=True)` is that form; without, the op itself.
"""

import math

import tensorflow as tf


def _keys_cubic(x):
    """Keys' cubic convolution kernel with a = -0.5 (ScaleAndTranslate's "keyscubic", resize's bicubic)."""
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return tf.where(x < 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _lanczos3(x):
    """The Lanczos kernel of radius 3; 1 near 0, where sin(x) / x is 0 / 0."""
    safe = tf.maximum(x, 1e-3)
    value = 3.0 * tf.sin(math.pi * safe) * tf.sin(math.pi * safe / 3.0) / (math.pi ** 2 * safe * safe)
    return tf.where(x <= 1e-3, tf.ones_like(x), tf.where(x <= 3.0, value, tf.zeros_like(x)))


KERNELS = {"bicubic": _keys_cubic, "lanczos3": _lanczos3}


def weights(out_size, in_size, method):
    """The [out_size, in_size] float32 matrix of a resize along one axis; sizes may be tensors."""
    out_f, in_f = tf.cast(out_size, tf.float32), tf.cast(in_size, tf.float32)
    inv_scale = 1.0 / (out_f / in_f)
    widen = tf.maximum(inv_scale, 1.0)
    samples = (tf.range(out_f) + 0.5) * inv_scale
    taps = KERNELS[method](tf.abs(tf.range(in_f)[None, :] + 0.5 - samples[:, None]) / widen)
    return taps / tf.reduce_sum(taps, axis=1, keepdims=True)


def resize(images, height, width, method, *, portable=False):
    """[N, H, W, C] images (uint8 or float) resized to float32 [N, height, width, C] with antialiasing:
    tf.image.resize(images, (height, width), method, antialias=True), or with `portable` the same
    up to float rounding as two matrix products. Those cost a dense product per axis (a 12 MP photo
    shrunk to 512 px: ~30 GFLOP where the op sums ~50 taps per pixel), so the SavedModel keeps the op.
    """
    if not portable:
        return tf.image.resize(images, [height, width], method=method, antialias=True)
    images = tf.cast(images, tf.float32)
    batch, in_h, in_w, channels = (tf.shape(images)[i] for i in range(4))
    rows = tf.broadcast_to(weights(height, in_h, method), tf.stack([batch, height, in_h]))
    x = tf.linalg.matmul(rows, tf.reshape(images, tf.stack([batch, in_h, -1])))  # [N, h, W * C]
    x = tf.reshape(x, tf.stack([batch, height, in_w, channels]))
    return tf.linalg.matmul(weights(width, in_w, method)[None, None], x)  # [N, h, w, C]
