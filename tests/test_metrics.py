import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import convolve, gaussian_filter
from skimage.color import rgb2lab
from skimage.metrics import structural_similarity

from common import metrics
from common.metrics import (
    delta_e,
    psnr,
    quantize,
    rgb_to_lab,
    sliced_wasserstein_distance,
    ssim,
    swd_levels,
)


def random_images(shape=(3, 24, 20, 3), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def noisy(images, scale=0.1, seed=1):
    noise = scale * np.random.default_rng(seed).standard_normal(images.shape)
    return np.clip(images + noise, 0, 1).astype(np.float32)


def constant(value, shape=(1, 4, 4, 3)):
    return np.full(shape, value, np.float32)


# --- quantize -----------------------------------------------------------------


def test_quantize_rounds_and_clips_to_uint8_levels():
    x = np.array([0.0, 1.0, -0.2, 1.3, 100.4 / 255, 100.6 / 255], np.float32)
    expected = np.array([0, 255, 0, 255, 100, 101]) / 255
    out = quantize(x)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-7)


# --- psnr ---------------------------------------------------------------------


@pytest.mark.parametrize("quantized", [True, False])
def test_psnr_of_constant_offset(quantized):
    x = constant(0.5)
    y = constant(0.5 + 10 / 255)
    out = psnr(x, y, quantized=quantized).numpy()
    np.testing.assert_allclose(out, [20 * np.log10(255 / 10)], atol=1e-4)


def test_psnr_on_uint8_levels_is_exact():
    out = psnr(constant(100 / 255), constant(103 / 255)).numpy()
    np.testing.assert_allclose(out, [20 * np.log10(255 / 3)], atol=1e-4)


def test_psnr_is_capped_when_quantized_levels_agree():
    x, y = constant(100.2 / 255), constant(99.8 / 255)
    assert psnr(x, y).numpy()[0] == pytest.approx(metrics.PSNR_CAP_DB)
    # Unquantized, the 0.4-level difference is visible.
    np.testing.assert_allclose(psnr(x, y, quantized=False).numpy(), [20 * np.log10(255 / 0.4)], atol=1e-3)
    assert psnr(x, x, quantized=False).numpy()[0] == pytest.approx(100.0)


def test_psnr_is_per_image_mean_over_all_pixels():
    x = np.zeros((2, 4, 4, 3), np.float32)
    y = x.copy()
    y[0, 0, 0, 0] = 1.0  # mse = 1/48
    y[1] = 0.5  # mse = 0.25 (0.5 quantizes to 128/255)
    out = psnr(x, y, quantized=False).numpy()
    assert out.shape == (2,)
    np.testing.assert_allclose(out, [10 * np.log10(48), 10 * np.log10(4)], atol=1e-4)


# --- ssim ---------------------------------------------------------------------


def skimage_ssim(x, y):
    return [
        structural_similarity(
            a.astype(np.float64),
            b.astype(np.float64),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
        for a, b in zip(x, y)
    ]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("quantized", [True, False])
def test_ssim_matches_skimage(channels, quantized):
    x = random_images((3, 24, 19, channels))
    y = noisy(x)
    out = ssim(x, y, quantized=quantized).numpy()
    if quantized:
        x, y = quantize(x).numpy(), quantize(y).numpy()
    assert out.shape == (3,)
    np.testing.assert_allclose(out, skimage_ssim(x, y), rtol=0, atol=1e-5)


def test_ssim_of_smooth_images_matches_skimage():
    x = gaussian_filter(random_images((2, 32, 32, 3)), sigma=(0, 2, 2, 0))
    y = np.clip(x * 0.8 + 0.1, 0, 1)
    np.testing.assert_allclose(ssim(x, y).numpy(), skimage_ssim(quantize(x).numpy(), quantize(y).numpy()), atol=1e-5)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    x = random_images()
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0, atol=1e-6)
    assert np.all(ssim(x, noisy(x, 0.3)).numpy() < 0.9)


def test_ssim_rejects_images_smaller_than_window():
    x = random_images((1, 10, 16, 3))
    with pytest.raises(ValueError, match="11"):
        ssim(x, x)


# --- rgb_to_lab ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((1, 1, 1), (100, 0, 0)),
        ((0, 0, 0), (0, 0, 0)),
        ((1, 0, 0), (53.24, 80.09, 67.20)),
        ((0, 1, 0), (87.73, -86.18, 83.18)),
        ((0, 0, 1), (32.30, 79.19, -107.86)),
    ],
)
def test_rgb_to_lab_known_colours(rgb, lab):
    out = rgb_to_lab(np.array(rgb, np.float32)).numpy()
    np.testing.assert_allclose(out, lab, atol=0.05)


def test_rgb_to_lab_matches_skimage_including_dark_branches():
    levels = np.array([0, 0.01, 0.03, 0.05, 0.08, 0.12, 0.3, 0.6, 1.0], np.float32)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
    images = np.concatenate([grid.reshape(1, 27, 27, 3), random_images((1, 27, 27, 3))])
    out = rgb_to_lab(images).numpy()
    assert out.shape == images.shape
    # skimage's sRGB matrix is rounded slightly differently, hence 0.02.
    reference = np.stack([rgb2lab(image.astype(np.float64)) for image in images])
    np.testing.assert_allclose(out, reference, atol=0.02)


def test_rgb_to_lab_has_finite_gradients_at_black_and_white():
    rgb = tf.constant([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.02, 0.5, 0.9]])
    with tf.GradientTape() as tape:
        tape.watch(rgb)
        lab = rgb_to_lab(rgb)
    assert np.all(np.isfinite(tape.gradient(lab, rgb).numpy()))


# --- delta_e ------------------------------------------------------------------


def test_delta_e_white_vs_black_is_100():
    np.testing.assert_allclose(delta_e(constant(1.0), constant(0.0)).numpy(), [100.0], atol=1e-4)


def test_delta_e_is_symmetric_zero_on_identity_and_matches_reference():
    x = random_images()
    y = noisy(x)
    forward, backward = delta_e(x, y).numpy(), delta_e(y, x).numpy()
    assert forward.shape == (3,)
    np.testing.assert_allclose(forward, backward, atol=1e-4)
    np.testing.assert_allclose(delta_e(x, x).numpy(), 0.0, atol=1e-6)
    qx, qy = quantize(x).numpy(), quantize(y).numpy()
    diff = np.stack([rgb2lab(a.astype(np.float64)) - rgb2lab(b.astype(np.float64)) for a, b in zip(qx, qy)])
    reference = np.sqrt((diff**2).sum(-1)).mean(axis=(1, 2))
    np.testing.assert_allclose(forward, reference, atol=0.02)


def test_delta_e_needs_rgb():
    x = random_images((1, 4, 4, 1))
    with pytest.raises(ValueError, match="C = 3"):
        delta_e(x, x)


# --- graph mode and errors ----------------------------------------------------


def test_metrics_work_inside_tf_function_with_unknown_sizes():
    x = random_images((2, 16, 16, 3))
    y = noisy(x)
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def all_metrics(a, b):
        return psnr(a, b), ssim(a, b), delta_e(a, b)

    for graph, eager in zip(all_metrics(x, y), (psnr(x, y), ssim(x, y), delta_e(x, y))):
        np.testing.assert_allclose(graph.numpy(), eager.numpy(), rtol=1e-5)


def test_metrics_run_per_replica_under_mirrored_strategy(two_cpu_strategy):
    strategy = two_cpu_strategy
    x = random_images((4, 16, 16, 3))
    y = noisy(x)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def step(a, b):
        return strategy.run(lambda a, b: (psnr(a, b), ssim(a, b), delta_e(a, b)), args=(a, b))

    for per_replica, eager in zip(step(*batch), (psnr(x, y), ssim(x, y), delta_e(x, y))):
        gathered = strategy.gather(per_replica, axis=0)
        np.testing.assert_allclose(gathered.numpy(), eager.numpy(), rtol=1e-5)


@pytest.mark.parametrize("metric", [psnr, ssim, delta_e, sliced_wasserstein_distance])
def test_mismatched_shapes_name_both_shapes(metric):
    x = random_images((2, 16, 16, 3))
    y = random_images((2, 16, 20, 3))
    with pytest.raises(ValueError, match=r"\(2, 16, 16, 3\).*\(2, 16, 20, 3\)"):
        metric(x, y)


@pytest.mark.parametrize("metric", [psnr, ssim, delta_e, sliced_wasserstein_distance])
def test_wrong_rank_is_rejected(metric):
    x = random_images((16, 16, 3))
    with pytest.raises(ValueError, match="rank 4"):
        metric(x, x)


def test_integer_images_are_rejected():
    x = np.zeros((1, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        psnr(x, x)


# --- sliced Wasserstein distance ----------------------------------------------


def smooth_images(n, seed, size=32):
    """Grey, spatially correlated random fields."""
    z = np.random.default_rng(seed).standard_normal((n, size, size, 1))
    z = gaussian_filter(z, sigma=(0, 3, 3, 0), mode="wrap")
    z = np.clip(0.5 + 0.25 * z / z.std(), 0, 1)
    return np.repeat(z, 3, axis=-1).astype(np.float32)


def test_blur_is_the_5x5_binomial_filter_with_mirror_borders():
    x = random_images((2, 9, 12, 3))
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    expected = np.stack([convolve(x[n, ..., c], kernel, mode="mirror") for n in range(2) for c in range(3)])
    out = metrics._blur(x).numpy()
    np.testing.assert_allclose(out.transpose(0, 3, 1, 2).reshape(6, 9, 12), expected, atol=1e-6)


def test_laplacian_pyramid_shapes_and_constant_image():
    pyramid = metrics._laplacian_pyramid(constant(0.3, (2, 33, 20, 3)), 3)
    assert [tuple(level.shape) for level in pyramid] == [(2, 33, 20, 3), (2, 17, 10, 3), (2, 9, 5, 3)]
    for band in pyramid[:-1]:
        np.testing.assert_allclose(band, 0.0, atol=1e-6)
    np.testing.assert_allclose(pyramid[-1], 0.3, atol=1e-6)


def test_patches_are_uniform_over_valid_corners_and_gathered_per_image():
    # Pixel values encode (image, row, column); one pyramid level is the image itself.
    n, h, w, k = 2, 9, 12, 4
    grid = np.stack(np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij"), axis=-1)
    corners = metrics._patch_corners(n, [(h, w)], k, 500, tf.constant([[1, 2]]))
    patches = metrics._descriptors(grid.astype(np.float32), corners, k)[0].numpy()
    assert patches.shape == (n * 500, k, k, 3)
    top, left = patches[:, 0, 0, 1], patches[:, 0, 0, 2]
    np.testing.assert_array_equal(np.unique(top), np.arange(h - k + 1))
    np.testing.assert_array_equal(np.unique(left), np.arange(w - k + 1))
    np.testing.assert_array_equal(patches[:, 0, 0, 0], np.repeat(np.arange(n), 500))
    expected = np.stack([grid[int(i), int(r) : r + k, c : c + k] for i, r, c in patches[:, 0, 0].astype(int)])
    np.testing.assert_array_equal(patches, expected)


def test_sliced_wasserstein_core():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 10)).astype(np.float32)
    # 200 directions: more than one block of 128, and a partial last block.
    directions = rng.standard_normal((10, 200))
    directions = (directions / np.linalg.norm(directions, axis=0)).astype(np.float32)
    # Order of descriptors is irrelevant; a translation by c moves every
    # projection onto d by exactly d . c.
    permuted = metrics._sliced_wasserstein(a, rng.permutation(a), directions)
    assert float(permuted) == pytest.approx(0.0, abs=1e-6)
    shift = rng.standard_normal(10).astype(np.float32)
    expected = np.abs(shift @ directions).mean()
    assert float(metrics._sliced_wasserstein(a, a + shift, directions)) == pytest.approx(expected, rel=1e-5)


def test_stateless_normal_is_standard_normal():
    z = metrics._stateless_normal([200, 100], metrics._seed_pair(0)).numpy()
    assert z.shape == (200, 100)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.mean(np.abs(z)) - np.sqrt(2 / np.pi)) < 0.02


def test_swd_levels_follow_progan_resolutions():
    x = smooth_images(2, 0, size=64)
    result = sliced_wasserstein_distance(x, x, patches_per_image=16, num_projections=32)
    assert len(result["levels"]) == 3  # 64, 32, 16
    assert result["mean"] == pytest.approx(np.mean(result["levels"]))
    assert len(sliced_wasserstein_distance(x[:, :16, :16], x[:, :16, :16])["levels"]) == 1
    with pytest.raises(ValueError, match="patch_size"):
        sliced_wasserstein_distance(x, x, pyramid_levels=5)


def test_swd_separates_distributions():
    kwargs = dict(patches_per_image=256)
    smooth_a, smooth_b = smooth_images(32, 1), smooth_images(32, 2)
    noise = random_images((32, 32, 32, 3), seed=3)
    itself = sliced_wasserstein_distance(smooth_a, smooth_a, **kwargs)["mean"]
    same = sliced_wasserstein_distance(smooth_a, smooth_b, **kwargs)["mean"]
    different = sliced_wasserstein_distance(smooth_a, noise, **kwargs)["mean"]
    assert itself < 0.15 * different
    assert same < 0.35 * different


def test_swd_is_deterministic_and_invariant_to_per_channel_affine_changes():
    real, fake = smooth_images(4, 1), random_images((4, 32, 32, 3), seed=5)
    first = sliced_wasserstein_distance(real, fake, seed=7)
    assert sliced_wasserstein_distance(tf.constant(real), tf.constant(fake), seed=7) == first
    assert sliced_wasserstein_distance(real, fake, seed=8) != first
    # Descriptors are standardised per channel and set, as in ProGAN.
    rescaled = sliced_wasserstein_distance(real * 0.5 + 0.2, fake, seed=7)
    np.testing.assert_allclose(rescaled["levels"], first["levels"], rtol=1e-3)


def test_swd_of_flat_images_is_zero_not_nan():
    x = constant(0.5, (2, 16, 16, 3))
    assert sliced_wasserstein_distance(x, x)["mean"] == 0.0


def test_swd_levels_is_a_tensor_matching_the_wrapper():
    real, fake = smooth_images(3, 1), random_images((3, 32, 32, 3), seed=5)
    levels = swd_levels(real, fake, seed=7)
    assert levels.dtype == tf.float32 and levels.shape == (2,)
    wrapped = sliced_wasserstein_distance(real, fake, seed=7)["levels"]
    np.testing.assert_allclose(levels.numpy(), wrapped, rtol=1e-6)


def test_swd_wrapper_chunks_do_not_change_the_result(monkeypatch):
    real, fake = smooth_images(5, 1, size=16), random_images((5, 16, 16, 3), seed=5)
    whole = swd_levels(real, fake, seed=3).numpy()
    monkeypatch.setattr(metrics, "_CHUNK", 2)  # chunks of 2, 2 and 1 images
    np.testing.assert_allclose(sliced_wasserstein_distance(real, fake, seed=3)["levels"], whole, rtol=1e-5)


def test_swd_levels_under_xla_matches_eager_with_dynamic_batch():
    real, fake = smooth_images(2, 1), random_images((2, 32, 32, 3), seed=5)
    kwargs = dict(patches_per_image=32, num_projections=256, seed=7)  # two levels, two direction blocks
    spec = tf.TensorSpec([None, 32, 32, 3], tf.float32)

    @tf.function(jit_compile=True, input_signature=[spec, spec])
    def compiled(a, b):
        return swd_levels(a, b, **kwargs)

    np.testing.assert_allclose(compiled(real, fake).numpy(), swd_levels(real, fake, **kwargs).numpy(), rtol=1e-4)


def test_swd_levels_seed_tensor_varies_inside_one_graph():
    real, fake = smooth_images(2, 1, size=16), random_images((2, 16, 16, 3), seed=5)
    kwargs = dict(patches_per_image=32, num_projections=64)
    step = tf.function(lambda seed: swd_levels(real, fake, seed=seed, **kwargs))
    first = step(tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(step(tf.constant([1, 2])).numpy(), first)
    assert not np.allclose(step(tf.constant([1, 3])).numpy(), first)
    assert step.experimental_get_tracing_count() == 1
    # An int seed s is the seed tensor [s, 0] (graph and eager may differ in rounding).
    np.testing.assert_allclose(swd_levels(real, fake, seed=1, **kwargs), step(tf.constant([1, 0])), rtol=1e-5)


def test_swd_levels_runs_per_replica_under_mirrored_strategy(two_cpu_strategy):
    strategy = two_cpu_strategy
    real, fake = smooth_images(4, 1, size=16), random_images((4, 16, 16, 3), seed=5)
    dataset = tf.data.Dataset.from_tensor_slices((real, fake)).batch(4)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
    kwargs = dict(patches_per_image=32, num_projections=64)

    @tf.function(jit_compile=True)
    def replica_swd(a, b):
        return swd_levels(a, b, **kwargs)[None]

    gathered = strategy.gather(strategy.run(replica_swd, args=batch), axis=0).numpy()
    # Each replica scores its own shard of two images.
    expected = [swd_levels(real[i : i + 2], fake[i : i + 2], **kwargs).numpy() for i in (0, 2)]
    np.testing.assert_allclose(gathered, expected, rtol=1e-4)


def test_swd_levels_needs_static_height_and_width():
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    step = tf.function(lambda a: swd_levels(a, a), input_signature=[spec])
    with pytest.raises(ValueError, match=r"static H and W.*\(None, None, None, 3\)"):
        step.get_concrete_function()
