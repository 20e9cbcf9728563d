"""Image quality metrics: PSNR, SSIM, CIELab colour difference and SWD.

Every image argument is a float batch of shape [N, H, W, C] with values in
[0, 1]; callers map [-1, 1] outputs to [0, 1] themselves. `psnr`, `ssim` and
`delta_e` are TensorFlow ops (usable inside `tf.function` and
`tf.distribute`) that return one float32 value per image, shape [N].
`sliced_wasserstein_distance` is NumPy code for whole image sets.

By default the per-image metrics first round both images to the 256 uint8
levels (`quantize`), because the enhancement literature scores saved uint8
RGB files; pass `quantized=False` to score the raw float values.
"""

import numpy as np
import tensorflow as tf

# PSNR of identical images is +inf, which would poison any average; cap it.
PSNR_CAP_DB = 100.0

# sRGB (linear) -> XYZ, D65 (IEC 61966-2-1, full-precision form).
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
# The D65 white is the XYZ of sRGB white, so white maps exactly to a* = b* = 0.
_D65_WHITE = _SRGB_TO_XYZ.sum(axis=1)
_LAB_EPSILON = (6.0 / 29.0) ** 3


def _as_images(x, name):
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(f"{name} must be float images in [0, 1], got dtype {x.dtype.name}")
    if x.shape.rank != 4:
        raise ValueError(f"{name} must have rank 4 [N, H, W, C], got shape {x.shape}")
    return tf.cast(x, tf.float32)


def _as_pair(x, y, quantized):
    x = _as_images(x, "x")
    y = _as_images(y, "y")
    # Only statically known dimensions can be compared here; unknown ones are
    # checked by the TensorFlow ops themselves at run time.
    if not x.shape.is_compatible_with(y.shape):
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if quantized:
        x, y = quantize(x), quantize(y)
    return x, y


def quantize(images):
    """Round to the nearest of the 256 uint8 levels; float32 in [0, 1] out.

    Ties go to the even level (like np.rint and skimage's img_as_ubyte).
    """
    images = tf.cast(images, tf.float32)
    return tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0) / 255.0


def psnr(x, y, quantized=True):
    """Per-image PSNR in dB for peak value 1.0, capped at PSNR_CAP_DB (100 dB).

    The cap keeps identical images finite so averages stay meaningful.
    """
    x, y = _as_pair(x, y, quantized)
    mse = tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3])
    min_mse = 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * tf.math.log(1.0 / tf.maximum(mse, min_mse)) / tf.math.log(10.0)


def ssim(x, y, quantized=True):
    """Per-image SSIM (Wang et al. 2004), averaged over channels.

    11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, peak value 1.0,
    population (biased) local statistics. The SSIM map is averaged over the
    window positions that fit entirely inside the image ("valid"), which is
    what skimage does too after cropping its border, so H and W must be >= 11.
    """
    x, y = _as_pair(x, y, quantized)
    for size in x.shape[1:3]:
        if size is not None and size < 11:
            raise ValueError(f"ssim needs H and W >= 11 (the window size), got shape {x.shape}")
    return tf.image.ssim(x, y, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)


def rgb_to_lab(images):
    """sRGB in [0, 1] -> CIELab (D65), shape [..., 3] -> [..., 3].

    L is in [0, 100]; a and b are roughly in [-128, 128].
    """
    rgb = tf.cast(images, tf.float32)
    if rgb.shape.rank is not None and rgb.shape[-1] not in (None, 3):
        raise ValueError(f"rgb_to_lab needs 3 channels in the last axis, got shape {rgb.shape}")
    # Inverse sRGB gamma; the max() keeps the unused pow branch free of NaNs.
    linear = tf.where(
        rgb <= 0.04045,
        rgb / 12.92,
        tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4),
    )
    xyz = tf.linalg.matvec(tf.constant(_SRGB_TO_XYZ, tf.float32), linear)
    t = xyz / tf.constant(_D65_WHITE, tf.float32)
    f = tf.where(
        t > _LAB_EPSILON,
        tf.pow(tf.maximum(t, _LAB_EPSILON), 1.0 / 3.0),
        t / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0,
    )
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def delta_e(x, y, quantized=True):
    """Per-image mean CIE76 colour difference (Euclidean distance in Lab)."""
    x, y = _as_pair(x, y, quantized)
    if x.shape[-1] not in (None, 3):
        raise ValueError(f"delta_e needs RGB images (C = 3), got shape {x.shape}")
    diff = rgb_to_lab(x) - rgb_to_lab(y)
    return tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(diff), axis=-1)), axis=[1, 2])


# --- Sliced Wasserstein distance (Karras et al. 2018, "Progressive Growing of
# GANs", appendix D) ---------------------------------------------------------

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0
# Images per pyramid chunk; bounds memory for large evaluation sets.
_CHUNK = 64
_MIN_SIZE = 16


def _blur(images):
    """Separable 5x5 binomial filter on [N, H, W, C], mirror (reflect) borders."""
    h, w = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    rows = sum(k * padded[:, i : i + h] for i, k in enumerate(_BINOMIAL))
    return sum(k * rows[:, :, j : j + w] for j, k in enumerate(_BINOMIAL))


def _pyr_up(images, shape):
    """2x upsampling by zero insertion and blurring, cropped to `shape`."""
    n, h, w, c = images.shape
    up = np.zeros((n, 2 * h, 2 * w, c), dtype=images.dtype)
    up[:, ::2, ::2] = images
    # x4 restores the brightness lost to the three inserted zeros per pixel.
    return 4.0 * _blur(up)[:, : shape[1], : shape[2]]


def _laplacian_pyramid(images, levels):
    """List of band-pass images, finest first; the last entry is the low-pass."""
    pyramid = []
    current = images
    for _ in range(levels - 1):
        smaller = _blur(current)[:, ::2, ::2]
        pyramid.append(current - _pyr_up(smaller, current.shape))
        current = smaller
    pyramid.append(current)
    return pyramid


def _default_levels(height, width):
    """ProGAN's levels: full resolution, halved until the side would drop below 16."""
    levels, size = 1, min(height, width)
    while size // 2 >= _MIN_SIZE:
        levels, size = levels + 1, size // 2
    return levels


def _descriptors(images, levels, patch_size, patches_per_image, rng):
    """Random patches from every pyramid level: list of [N * P, k, k, C] arrays."""
    per_level = [[] for _ in range(levels)]
    offsets = np.arange(patch_size)
    for start in range(0, len(images), _CHUNK):
        for level, band in enumerate(_laplacian_pyramid(images[start : start + _CHUNK], levels)):
            n, h, w, _ = band.shape
            top = rng.integers(0, h - patch_size + 1, size=(n, patches_per_image))
            left = rng.integers(0, w - patch_size + 1, size=(n, patches_per_image))
            rows = (top[..., None] + offsets)[:, :, :, None]
            cols = (left[..., None] + offsets)[:, :, None, :]
            patches = band[np.arange(n)[:, None, None, None], rows, cols]
            per_level[level].append(patches.reshape(-1, patch_size, patch_size, band.shape[3]))
    return [np.concatenate(chunks) for chunks in per_level]


def _normalize(desc):
    """Per-channel standardisation over all descriptors of one level and set."""
    desc = desc - desc.mean(axis=(0, 1, 2), keepdims=True)
    std = desc.std(axis=(0, 1, 2), keepdims=True)
    # A constant channel (e.g. a flat test image) has std 0; leave it at zero.
    desc = desc / np.where(std > 0, std, 1.0)
    return desc.reshape(len(desc), -1)


def _sliced_wasserstein(a, b, directions):
    """Mean over unit directions of the 1-D Wasserstein-1 distance of projections."""
    total = 0.0
    # 128 directions at a time bounds the size of the projected arrays.
    for start in range(0, directions.shape[1], 128):
        block = directions[:, start : start + 128]
        proj_a = np.sort(a @ block, axis=0)
        proj_b = np.sort(b @ block, axis=0)
        total += np.abs(proj_a - proj_b).mean(axis=0).sum(dtype=np.float64)
    return total / directions.shape[1]


def sliced_wasserstein_distance(
    real,
    fake,
    *,
    patch_size=7,
    patches_per_image=128,
    num_projections=512,
    pyramid_levels=None,
    seed=0,
):
    """ProGAN's multi-scale sliced Wasserstein distance between two image sets.

    Both sets are decomposed into Laplacian pyramids (5x5 binomial filter, 2x
    decimation); from each level `patches_per_image` random patch_size^2
    neighbourhoods are drawn per image, standardised per channel (separately
    for each set and level), and compared with the sliced Wasserstein distance
    along `num_projections` random unit directions shared by both sets.

    Args:
        real, fake: arrays or tensors of identical shape [N, H, W, C] in
            [0, 1], N >= 1, H, W >= 16.
        pyramid_levels: number of levels; None uses ProGAN's choice (full
            resolution halved down to 16 px, e.g. 5 levels for 256x256).
        seed: patch positions and projections are drawn from this seed, so
            the result is deterministic for given inputs. Patch positions are
            drawn independently for the two sets, so a set against itself
            gives a small positive value, not exactly zero.

    Returns:
        dict with "levels": per-level SWD, finest (full-resolution band-pass)
        first and the low-pass last, and "mean": their average. All values are
        multiplied by 1e3, the units ProGAN reports in its tables.
    """
    real = np.asarray(real, dtype=np.float32)
    fake = np.asarray(fake, dtype=np.float32)
    if real.ndim != 4 or fake.ndim != 4:
        raise ValueError(f"real and fake must have rank 4 [N, H, W, C], got shapes {real.shape} and {fake.shape}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {real.shape} and {fake.shape}")
    n, height, width, _ = real.shape
    if n < 1 or height < _MIN_SIZE or width < _MIN_SIZE:
        raise ValueError(f"need N >= 1 and H, W >= {_MIN_SIZE}, got shape {real.shape}")
    levels = _default_levels(height, width) if pyramid_levels is None else int(pyramid_levels)
    smallest = min(height, width)
    for _ in range(levels - 1):
        smallest = (smallest + 1) // 2
    if levels < 1 or smallest < patch_size:
        raise ValueError(
            f"pyramid_levels={levels} leaves a {smallest}px level, smaller than patch_size={patch_size}"
        )

    rng = np.random.default_rng(seed)
    real_desc = _descriptors(real, levels, patch_size, patches_per_image, rng)
    fake_desc = _descriptors(fake, levels, patch_size, patches_per_image, rng)
    per_level = []
    for desc_a, desc_b in zip(real_desc, fake_desc):
        a, b = _normalize(desc_a), _normalize(desc_b)
        directions = rng.standard_normal((a.shape[1], num_projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        per_level.append(float(1e3 * _sliced_wasserstein(a, b, directions)))
    return {"levels": per_level, "mean": float(np.mean(per_level))}
