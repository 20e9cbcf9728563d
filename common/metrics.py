"""Image quality metrics: PSNR, SSIM, CIELab colour difference and SWD.

Every image argument is a float batch of shape [N, H, W, C] with values in
[0, 1]; callers map [-1, 1] outputs to [0, 1] themselves. `psnr`, `ssim` and
`delta_e` are TensorFlow ops (usable inside `tf.function` and
`tf.distribute`) that return one float32 value per image, shape [N].
`swd_levels` is the sliced Wasserstein distance between two image sets as a
TensorFlow op (also under XLA), one float32 value per pyramid level;
`sliced_wasserstein_distance` is its eager wrapper for whole evaluation sets.

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

# 5x5 binomial kernel, as a depthwise filter [5, 5, 1, 1]; its taps k_i k_j
# are exact binary fractions, so a flat image stays exactly flat.
_BINOMIAL = (np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0).astype(np.float32)[:, :, None, None]
# Images per pyramid chunk in the eager wrapper; bounds memory for large sets.
_CHUNK = 64
# Directions projected at a time; bounds the size of the sorted projections.
_PROJECTION_BLOCK = 128
_MIN_SIZE = 16
# Philox explicitly: "auto_select" maps some seeds differently under XLA.
_RNG = "philox"


def _blur(images):
    """5x5 binomial filter on [N, H, W, C], mirror (reflect) borders."""
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    kernel = tf.tile(_BINOMIAL, [1, 1, tf.shape(images)[3], 1])  # one filter per channel
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


def _pyr_up(images, shape):
    """2x upsampling by zero insertion and blurring, cropped to `shape`."""
    h, w = images.shape[1:3]
    # [N, h, 1, w, 1, C] padded to [N, h, 2, w, 2, C]: every pixel becomes the
    # top-left corner of a 2x2 block of zeros.
    up = tf.pad(images[:, :, None, :, None], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]])
    up = tf.reshape(up, [-1, 2 * h, 2 * w, tf.shape(images)[3]])
    # x4 restores the brightness lost to the three inserted zeros per pixel.
    return 4.0 * _blur(up)[:, : shape[1], : shape[2]]


def _laplacian_pyramid(images, levels):
    """List of band-pass images, finest first; the last entry is the low-pass."""
    pyramid = []
    current = tf.convert_to_tensor(images)
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


def _level_sizes(height, width, levels):
    """Static (H, W) of every pyramid level, finest first."""
    sizes = [(height, width)]
    for _ in range(levels - 1):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    return sizes


def _check_sets(real, fake, patch_size, pyramid_levels):
    """Float32 image sets and their number of pyramid levels; ValueError if unusable."""
    real = tf.cast(tf.convert_to_tensor(real), tf.float32)
    fake = tf.cast(tf.convert_to_tensor(fake), tf.float32)
    if real.shape.rank != 4 or fake.shape.rank != 4:
        raise ValueError(f"real and fake must have rank 4 [N, H, W, C], got shapes {real.shape} and {fake.shape}")
    if not real.shape.is_compatible_with(fake.shape):
        raise ValueError(f"real and fake must have the same shape, got {real.shape} and {fake.shape}")
    # The pyramid and the patch positions are laid out for static sizes.
    if None in (*real.shape[1:3], *fake.shape[1:3]):
        raise ValueError(f"real and fake need static H and W, got shapes {real.shape} and {fake.shape}")
    n, height, width, _ = real.shape
    if (n is not None and n < 1) or height < _MIN_SIZE or width < _MIN_SIZE:
        raise ValueError(f"need N >= 1 and H, W >= {_MIN_SIZE}, got shape {real.shape}")
    levels = _default_levels(height, width) if pyramid_levels is None else int(pyramid_levels)
    smallest = min(_level_sizes(height, width, max(levels, 1))[-1])
    if levels < 1 or smallest < patch_size:
        raise ValueError(
            f"pyramid_levels={levels} leaves a {smallest}px level, smaller than patch_size={patch_size}"
        )
    return real, fake, levels


def _seed_pair(seed):
    """An int or an int tensor of shape [2] -> int64 seed of shape [2] for stateless ops."""
    seed = tf.cast(seed, tf.int64)
    return tf.stack([seed, tf.zeros_like(seed)]) if seed.shape.rank == 0 else seed


def _stateless_normal(shape, seed):
    """Standard normal draws (Box-Muller) that are identical eagerly and under XLA.

    TensorFlow's float stateless ops turn the random bits into floats
    differently under XLA; its integer Philox draws agree, so build on those.
    """
    bits = tf.random.stateless_uniform([2, *shape], seed, minval=0, maxval=2**23, dtype=tf.int32, alg=_RNG)
    u = (tf.cast(bits, tf.float32) + 0.5) / 2**23  # exact, in (0, 1)
    return tf.sqrt(-2.0 * tf.math.log(u[0])) * tf.cos(2.0 * np.pi * u[1])


def _patch_corners(n, sizes, patch_size, patches_per_image, seeds):
    """Per level, [n, P] random flat indices (row * W + column) of patch top-left corners."""
    corners = []
    for (h, w), seed in zip(sizes, tf.unstack(seeds)):
        # One uniform draw over all valid corners, split into row and column.
        cols = w - patch_size + 1
        index = tf.random.stateless_uniform(
            [n, patches_per_image], seed, minval=0, maxval=(h - patch_size + 1) * cols, dtype=tf.int32, alg=_RNG
        )
        corners.append(index // cols * w + index % cols)
    return corners


def _descriptors(images, corners, patch_size, chunk=None):
    """Patches at `corners` from every pyramid level: list of [N * P, k, k, C] tensors.

    With `chunk` (eager, static N) the pyramids are built that many images at a time.
    """
    n = images.shape[0]
    if chunk is not None and n > chunk:
        parts = [
            _descriptors(images[i : i + chunk], [c[i : i + chunk] for c in corners], patch_size)
            for i in range(0, n, chunk)
        ]
        return [tf.concat(level, axis=0) for level in zip(*parts)]
    per_level = []
    offsets = np.arange(patch_size)
    for band, corner in zip(_laplacian_pyramid(images, len(corners)), corners):
        h, w = band.shape[1:3]
        channels = tf.shape(band)[3]
        # Flat pixel index of every patch pixel, [N, P, k, k], gathered per image.
        index = corner[:, :, None, None] + (offsets[:, None] * w + offsets)
        pixels = tf.reshape(band, [-1, h * w, channels])
        patches = tf.gather(pixels, index, batch_dims=1)
        per_level.append(tf.reshape(patches, [-1, patch_size, patch_size, channels]))
    return per_level


def _normalize(desc):
    """Per-channel standardisation over all descriptors of one level and set; [M, k*k*C] out."""
    mean, variance = tf.nn.moments(desc, axes=[0, 1, 2], keepdims=True)
    std = tf.sqrt(variance)
    # A constant channel (e.g. a flat test image) has std 0; leave it at zero.
    desc = (desc - mean) / tf.where(std > 0, std, 1.0)
    return tf.reshape(desc, [tf.shape(desc)[0], -1])


def _sliced_wasserstein(a, b, directions):
    """Mean over unit directions (columns) of the 1-D Wasserstein-1 distance of projections.

    a and b are [M, D] with the same M; directions is [D, num_projections].
    """
    total = 0.0
    # A python loop over blocks of directions bounds the projected [block, M]
    # arrays and unrolls into a fixed graph that XLA compiles as is.
    for start in range(0, directions.shape[1], _PROJECTION_BLOCK):
        block = directions[:, start : start + _PROJECTION_BLOCK]
        # Sorting every projection pairs up the quantiles of the two sets.
        proj_a = tf.sort(tf.matmul(block, a, transpose_a=True, transpose_b=True), axis=-1)
        proj_b = tf.sort(tf.matmul(block, b, transpose_a=True, transpose_b=True), axis=-1)
        total += tf.reduce_sum(tf.reduce_mean(tf.abs(proj_a - proj_b), axis=-1))
    return total / directions.shape[1]


def _swd(real, fake, patch_size, patches_per_image, num_projections, pyramid_levels, seed, chunk=None):
    """Body of `swd_levels`; `chunk` builds the pyramids in chunks of images (eager only)."""
    real, fake, levels = _check_sets(real, fake, patch_size, pyramid_levels)
    sizes = _level_sizes(real.shape[1], real.shape[2], levels)
    # Independent seeds per level for: real patches, fake patches, directions.
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), 3 * levels, alg=_RNG)
    real_seeds, fake_seeds, direction_seeds = tf.unstack(tf.reshape(seeds, [3, levels, 2]))
    per_set = []
    for images, set_seeds in ((real, real_seeds), (fake, fake_seeds)):
        corners = _patch_corners(tf.shape(images)[0], sizes, patch_size, patches_per_image, set_seeds)
        per_set.append(_descriptors(images, corners, patch_size, chunk))
    per_level = []
    for real_desc, fake_desc, level_seed in zip(*per_set, tf.unstack(direction_seeds)):
        a, b = _normalize(real_desc), _normalize(fake_desc)
        directions = _stateless_normal([tf.shape(a)[1], num_projections], level_seed)
        directions /= tf.norm(directions, axis=0, keepdims=True)
        per_level.append(_sliced_wasserstein(a, b, directions))
    return 1e3 * tf.stack(per_level)


def swd_levels(
    real,
    fake,
    *,
    patch_size=7,
    patches_per_image=128,
    num_projections=512,
    pyramid_levels=None,
    seed=0,
):
    """ProGAN's multi-scale sliced Wasserstein distance as a TensorFlow op.

    Pure TensorFlow with stateless random draws, so it runs eagerly, inside a
    `tf.function` (also with `jit_compile=True`) and per replica under
    `tf.distribute` (each replica then scores its own shard). See
    `sliced_wasserstein_distance` for the method and the arguments.

    Args:
        real, fake: float tensors [N, H, W, C] in [0, 1] with static H and W
            (H, W >= 16); N may be dynamic but must agree at run time.
        seed: an int, or an int tensor of shape [2] (e.g. varying per call).

    Returns:
        float32 tensor [levels]: per-level SWD x 1e3, finest band-pass first,
        low-pass last.
    """
    return _swd(real, fake, patch_size, patches_per_image, num_projections, pyramid_levels, seed)


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

    This is the eager wrapper over `swd_levels` for whole evaluation sets: the
    pyramids are built a chunk of images at a time to bound memory, then the
    SWD is computed on all descriptors, giving the values of `swd_levels`.

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
    levels = _swd(real, fake, patch_size, patches_per_image, num_projections, pyramid_levels, seed, _CHUNK)
    levels = levels.numpy().tolist()
    return {"levels": levels, "mean": float(np.mean(levels))}
