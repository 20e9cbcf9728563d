"""GPEN's training degradation as TensorFlow ops for tf.data, and the face data the trainer reads.

The released training (yangxy/GPEN `training/data_loader/dataset_face.py`) adopts GFPGAN's degradation
(BasicSR's `degradations.py`). Each clean face, in this order:

    flip           left-right with probability 0.5 (the pipeline's augmentation; clean and degraded alike)
    grayscale      with probability 0.2, OpenCV's weights (0.299, 0.587, 0.114); the clean face too
    blur           41 x 41 Gaussian kernel, isotropic or anisotropic with probability 0.5 each, sigma_x
                   (and sigma_y) uniform in [0.1, 10], rotation uniform in [-pi, pi]; cv2.filter2D:
                   correlation with the border reflected as BORDER_REFLECT_101
    downscale      by s uniform in [0.8, 8] to floor(H / s) x floor(W / s), bilinear without antialiasing
                   (cv2.INTER_LINEAR)
    noise          Gaussian, sigma uniform in [0, 20] / 255, per pixel and channel, clipped to [0, 1]
    JPEG           quality uniform in [60, 100) truncated to an integer (OpenCV's int parameter)
    resize back    rounded to 256 levels, bilinear to H x W

Values are float32 in [0, 1] as in the official code. Every draw is a stateless random op of a per-image
seed: a seed gives the same degraded face every time, and each step has a seed of its own, so turning a
step off (a range of None, a probability of 0) leaves the others' draws as they were.
"""

import math

import tensorflow as tf

from common import data
from gpen_tf.options import STAGES, Degradation

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # cv2.COLOR_BGR2GRAY, for R, G, B


def _uniform(seed, value_range, shape=()):
    low, high = value_range
    return tf.random.stateless_uniform(shape, seed, low, high)


# -- the steps, each a function of its parameters -------------------------------------------------


def grayscale(image):
    """[H, W, 3] -> the luma repeated on three channels (OpenCV's BGR2GRAY weights)."""
    gray = tf.reduce_sum(image * tf.constant(GRAY_WEIGHTS, image.dtype), axis=-1, keepdims=True)
    return tf.tile(gray, [1, 1, 3])


def gaussian_kernel(size, sigma_x, sigma_y, theta):
    """A size x size Gaussian kernel summing to 1, BasicSR's `bivariate_Gaussian`.

    Its covariance is R diag(sigma_x^2, sigma_y^2) R^T with R the rotation by theta (radians); x runs
    along columns and y along rows; sigma_x == sigma_y gives the isotropic kernel.
    """
    half = size // 2
    ax = tf.range(-half, half + 1, dtype=tf.float32)
    y, x = tf.meshgrid(ax, ax, indexing="ij")
    cos, sin = tf.cos(theta), tf.sin(theta)
    # The point in the kernel's own axes (rotated back by theta) gives the quadratic form of the inverse.
    u, v = cos * x + sin * y, -sin * x + cos * y
    kernel = tf.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return kernel / tf.reduce_sum(kernel)


def random_kernel(seed, options):
    """A kernel of `options`: anisotropic with probability aniso_prob, else isotropic (sigma_y = sigma_x)."""
    kind_seed, sigma_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    aniso = tf.random.stateless_uniform([], kind_seed) < options.aniso_prob
    low, high = options.blur_sigma
    u = tf.random.stateless_uniform([3], sigma_seed)
    sigma_x, sigma_y = low + (high - low) * u[0], low + (high - low) * u[1]
    theta = math.pi * (2.0 * u[2] - 1.0)
    return gaussian_kernel(options.blur_kernel_size, sigma_x, tf.where(aniso, sigma_y, sigma_x),
                           tf.where(aniso, theta, 0.0))


def _reflect_101(n, pad):
    """Indices -pad .. n + pad - 1 folded into 0 .. n - 1 as OpenCV's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba),
    for any pad, also larger than n."""
    period = tf.maximum(2 * n - 2, 1)
    i = tf.math.floormod(tf.range(-pad, n + pad), period)
    return tf.where(i < n, i, period - i)


def blur(image, kernel):
    """[H, W, C] correlated with a [K, K] kernel (K odd) at the same size, borders reflected (cv2.filter2D).

    Computed with FFTs, as OpenCV does for large kernels: 20x faster than a 41 x 41 convolution at 512 px.
    """
    size = kernel.shape[0]
    pad = size // 2
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    padded = tf.gather(tf.gather(image, _reflect_101(h, pad), axis=0), _reflect_101(w, pad), axis=1)
    fft_size = tf.stack([h + 2 * pad, w + 2 * pad])
    # A product of FFTs is a circular convolution: flip the kernel to correlate, and keep the outputs
    # whose window lies inside the padded image (they start at K - 1).
    spectrum = (tf.signal.rfft2d(tf.transpose(padded, [2, 0, 1]), fft_length=fft_size)
                * tf.signal.rfft2d(kernel[::-1, ::-1], fft_length=fft_size))
    out = tf.signal.irfft2d(spectrum, fft_length=fft_size)[:, size - 1:, size - 1:]
    return tf.transpose(out, [1, 2, 0])


def resize_bilinear(image, height, width):
    """Bilinear resize without antialiasing, half-pixel centres: cv2.resize with INTER_LINEAR."""
    return tf.image.resize(image, tf.stack([height, width]), method="bilinear", antialias=False)


def downscaled_size(height, width, scale):
    """floor(H / scale) x floor(W / scale), at least 1 x 1 (the official `int(w // scale)`)."""
    def side(n):
        return tf.maximum(tf.cast(tf.floor(tf.cast(n, tf.float32) / scale), tf.int32), 1)
    return side(height), side(width)


def add_noise(image, sigma, seed):
    """image + N(0, sigma^2) per pixel and channel (sigma on the [0, 1] scale), clipped to [0, 1]."""
    noise = tf.random.stateless_normal(tf.shape(image), seed) * sigma
    return tf.clip_by_value(image + noise, 0.0, 1.0)


def to_uint8(image):
    """[0, 1] float -> uint8, rounded (OpenCV's conversion before imencode)."""
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def jpeg(image, quality):
    """JPEG-compress a [0, 1] image at an integer quality; the result is on 256 levels, in [0, 1]."""
    return tf.cast(tf.image.adjust_jpeg_quality(to_uint8(image), quality), tf.float32) / 255.0


# -- the whole degradation -------------------------------------------------------------------------


def degrade(image, seed, options=Degradation()):
    """A clean face -> (degraded, clean), both float32 [H, W, 3] in [0, 1].

    `image` is uint8 [H, W, 3] (or float in [0, 1]) of any size; `seed` a [2] integer tensor. The clean
    face is the input, grayscale when the grayscale step fires (as in the released training).
    """
    image = tf.convert_to_tensor(image)
    clean = tf.cast(image, tf.float32)
    if image.dtype == tf.uint8:
        clean /= 255.0
    gray_seed, kernel_seed, scale_seed, sigma_seed, noise_seed, jpeg_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 6))
    if options.gray_prob:
        gray = tf.random.stateless_uniform([], gray_seed) < options.gray_prob
        clean = tf.where(gray, grayscale(clean), clean)

    out = clean
    if options.blur_sigma is not None:
        out = blur(out, random_kernel(kernel_seed, options))
    h, w = tf.shape(out)[0], tf.shape(out)[1]
    if options.downscale is not None:
        out = resize_bilinear(out, *downscaled_size(h, w, _uniform(scale_seed, options.downscale)))
    if options.noise_sigma is not None:
        out = add_noise(out, _uniform(sigma_seed, options.noise_sigma) / 255.0, noise_seed)
    if options.jpeg_quality is not None:
        out = jpeg(out, tf.cast(tf.floor(_uniform(jpeg_seed, options.jpeg_quality)), tf.int32))
    out = tf.cast(to_uint8(out), tf.float32) / 255.0
    return resize_bilinear(out, h, w), clean


def faces(source, *, size, batch_size, training, stage="restore", degradation=Degradation(), seed=0,
          on_bad_image="skip", cache=True, repeat=False, start=0):
    """Batches of faces for GPEN, float32 in [-1, 1], built on common.data.pipeline.

    stage "prior": clean faces [N, size, size, 3]; stage "restore": (degraded, clean) pairs, each face
    degraded on the fly with a seed of its own (a new degradation every epoch in training, the same one
    on every pass in evaluation), or taken as they are from a `paired:DEGRADED,CLEAN` source (e.g. the
    output of gpen_tf.degrade). `source` is any one-domain source of common.data: a folder of aligned
    face crops, `tfds:celeb_a`, `demo:faces[:SPLIT]`. Each image is cut to its centred square (tfds
    celeb_a's 178 x 218 photos lose rows at the top and bottom), resized to `size`, cached (`cache`);
    training shuffles, flips with probability 0.5 and, with `repeat`, repeats; only full batches.
    `start` resumes the training stream (common.data.pipeline).
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    src = data.parse_source(source) if isinstance(source, str) else source
    paired = src.kind == "paired"
    if src.kind in ("ab", "unpaired") or (paired and stage == "prior") or (
            src.kind == "demo" and src.name != "faces"):
        raise ValueError(f"the {stage} stage reads clean faces (a folder, tfds:NAME, demo:faces)"
                         f"{' or paired:DEGRADED,CLEAN' if stage == 'restore' else ''}, not {source!r}")

    def pair(image, element_seed):
        degraded, clean = degrade(image, element_seed, degradation)
        return degraded * 255.0, clean * 255.0  # the pipeline scales from 0-255 to [-1, 1]

    transform = pair if stage == "restore" and not paired else None
    return data.pipeline(src, batch_size=batch_size, image_size=size, training=training,
                         center_crop_size=0, value_range=(-1.0, 1.0), on_bad_image=on_bad_image,
                         cache=cache, seed=seed, repeat=repeat, transform=transform, start=start)
