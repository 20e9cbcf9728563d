"""GPEN's degradation: each step against a known computation, seeds, and the face batches."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from common import data, images
from gpen_tf import degradation as dg

# Only the step under test: every other step off.
NOTHING = dg.Degradation(gray_prob=0.0, blur_sigma=None, downscale=None, noise_sigma=None,
                         jpeg_quality=None)


def only(**step):
    return dataclasses.replace(NOTHING, **step)


def basicsr_kernel(size, sigma_x, sigma_y, theta):
    """BasicSR's bivariate_Gaussian, written out in NumPy: the reference for gaussian_kernel."""
    ax = np.arange(-size // 2 + 1.0, size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    grid = np.stack([xx, yy], -1)
    u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    sigma = u @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ u.T
    kernel = np.exp(-0.5 * np.sum((grid @ np.linalg.inv(sigma)) * grid, -1))
    return kernel / kernel.sum()


def face(h=40, w=48, seed=0):
    """A smooth random uint8 'face'."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (4, 5, 3))
    return np.clip(np.round(ndimage.zoom(small, (h / 4, w / 5, 1), order=1)), 0, 255).astype(np.uint8)


def test_gaussian_kernel_is_basicsr_one():
    aniso = dg.gaussian_kernel(41, 3.0, 7.5, 0.7).numpy()
    np.testing.assert_allclose(aniso, basicsr_kernel(41, 3.0, 7.5, 0.7), atol=1e-7)
    iso = dg.gaussian_kernel(41, 2.5, 2.5, 0.0).numpy()
    np.testing.assert_allclose(iso, basicsr_kernel(41, 2.5, 2.5, 0.0), atol=1e-7)
    for kernel in (aniso, iso):
        assert kernel.shape == (41, 41) and abs(kernel.sum() - 1) < 1e-5
    np.testing.assert_allclose(iso, iso.T, atol=1e-8)  # isotropic: symmetric in every way
    np.testing.assert_allclose(iso, iso[::-1], atol=1e-8)
    assert np.abs(aniso - aniso.T).max() > 0.1 * aniso.max()  # a rotated elongated one is not


def test_random_kernel_kinds():
    seeds = [tf.constant([s, 1]) for s in range(4)]
    iso = [dg.random_kernel(s, dg.Degradation(aniso_prob=0.0)).numpy() for s in seeds]
    for kernel in iso:
        np.testing.assert_allclose(kernel, np.rot90(kernel), atol=1e-7)
        assert abs(kernel.sum() - 1) < 1e-5
    aniso = [dg.random_kernel(s, dg.Degradation(aniso_prob=1.0)).numpy() for s in seeds]
    assert all(np.abs(k - np.rot90(k)).max() > 0.01 * k.max() for k in aniso)  # elongated


def test_reflect_101_border_as_numpy_reflect():
    for n in (1, 2, 3, 5):
        np.testing.assert_array_equal(dg._reflect_101(n, 7).numpy(),
                                      np.pad(np.arange(n), 7, mode="reflect"))


def test_blur_is_opencv_filter2d():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(20, 23, 3)).astype(np.float32)
    kernel = rng.uniform(size=(7, 7)).astype(np.float32)
    kernel /= kernel.sum()  # not symmetric: checks correlation (no flip) and orientation
    expected = np.stack([ndimage.correlate(image[..., c], kernel, mode="mirror") for c in range(3)], -1)
    np.testing.assert_allclose(dg.blur(image, kernel).numpy(), expected, atol=1e-5)
    flat = np.full((10, 12, 3), 0.4, np.float32)  # smaller than the 41 x 41 kernel
    np.testing.assert_allclose(dg.blur(flat, dg.gaussian_kernel(41, 9.0, 4.0, 1.0)).numpy(), flat,
                               atol=1e-5)


def test_downscaled_size_is_floor():
    sizes = [tuple(int(v) for v in dg.downscaled_size(h, w, s))
             for h, w, s in [(512, 512, 8.0), (100, 37, 3.0), (10, 10, 0.8), (10, 10, 50.0)]]
    assert sizes == [(64, 64), (33, 12), (12, 12), (1, 1)]


def test_constant_face_stays_constant_under_blur_and_resizing():
    flat = np.full((37, 50, 3), 102, np.uint8)
    options = only(blur_sigma=(0.1, 10.0), downscale=(0.8, 8.0))
    for s in range(3):
        degraded, clean = dg.degrade(flat, tf.constant([s, 0]), options)
        assert degraded.shape == flat.shape
        np.testing.assert_allclose(degraded.numpy(), 102 / 255, atol=1e-6)
        np.testing.assert_array_equal(clean.numpy(), flat / np.float32(255))


def test_grayscale_weights_and_both_images():
    image = face()
    degraded, clean = dg.degrade(image, tf.constant([0, 0]), only(gray_prob=1.0, blur_sigma=(1, 2)))
    luma = image.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]) / 255
    for channel in range(3):
        np.testing.assert_allclose(clean.numpy()[..., channel], luma, atol=1e-6)
        np.testing.assert_array_equal(degraded.numpy()[..., channel], degraded.numpy()[..., 0])


def test_noise_sigma():
    flat = np.full((256, 256, 3), 128, np.uint8)
    degraded, _ = dg.degrade(flat, tf.constant([3, 4]), only(noise_sigma=(10.0, 10.0)))
    levels = degraded.numpy() * 255
    assert abs(levels.std() - np.sqrt(10.0 ** 2 + 1 / 12)) < 0.15  # + the rounding to 256 levels
    assert abs(levels.mean() - 128) < 0.1
    assert np.abs(levels[..., 0] - levels[..., 1]).max() > 0  # drawn per channel


def test_jpeg_gives_uint8_levels():
    image = face() / np.float32(255)
    levels = {q: dg.jpeg(image, q).numpy() * 255 for q in (20, 60, 100)}
    for out in levels.values():
        np.testing.assert_allclose(out, np.round(out), atol=1e-4)
    errors = {q: np.abs(out - image * 255).mean() for q, out in levels.items()}
    assert errors[100] < errors[60] < errors[20]
    degraded, _ = dg.degrade(face(), tf.constant([0, 0]), only(jpeg_quality=(20, 20)))
    np.testing.assert_allclose(degraded.numpy() * 255, levels[20], atol=1e-4)


def test_seeds_reproduce_and_clean_face_is_kept():
    image = face(33, 41)
    first, clean = dg.degrade(image, tf.constant([5, 6]))
    again, _ = dg.degrade(image, tf.constant([5, 6]))
    other, _ = dg.degrade(image, tf.constant([5, 7]))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert np.abs(first.numpy() - other.numpy()).mean() > 1e-3
    assert first.shape == image.shape and first.dtype == tf.float32
    assert 0 <= first.numpy().min() and first.numpy().max() <= 1
    _, kept = dg.degrade(image, tf.constant([5, 6]), dg.Degradation(gray_prob=0.0))
    np.testing.assert_array_equal(kept.numpy(), image / np.float32(255))  # no flip, no shift
    # Steps draw from seeds of their own: turning noise off leaves the blur and scale as they were.
    blurred, _ = dg.degrade(image, tf.constant([1, 2]), only(blur_sigma=(0.1, 10.0)))
    with_noise, _ = dg.degrade(image, tf.constant([1, 2]), only(blur_sigma=(0.1, 10.0),
                                                                noise_sigma=(2.0, 2.0)))
    assert 0 < np.abs(blurred.numpy() - with_noise.numpy()).mean() < 3 / 255


@pytest.mark.parametrize("field, value", [("blur_sigma", (0.0, 1.0)), ("downscale", (8.0, 2.0)),
                                          ("jpeg_quality", (60, 101)), ("blur_kernel_size", 40),
                                          ("gray_prob", 1.5), ("noise_sigma", (1.0,))])
def test_bad_settings_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        dg.Degradation(**{field: value})


def write_faces(folder, shapes):
    folder.mkdir()
    for i, (h, w) in enumerate(shapes):
        images.write_image(folder / f"face{i}.png", face(h, w, seed=i))
    return str(folder)


def test_faces_restore_pairs_from_non_square_images(tmp_path):
    folder = write_faces(tmp_path / "faces", [(40, 30), (30, 40), (36, 36)])
    ds = dg.faces(folder, size=16, batch_size=3, training=False, degradation=dg.Degradation(gray_prob=0))
    degraded, clean = next(iter(ds))
    assert degraded.shape == clean.shape == (3, 16, 16, 3)
    for i, image in enumerate(sorted((tmp_path / "faces").iterdir())):  # centred square, resized
        expected = data.to_range(data.resize(data.center_crop(images.read_image(image)), 16), (-1, 1))
        np.testing.assert_allclose(clean[i].numpy(), expected.numpy(), atol=1e-6)
    assert -1 <= degraded.numpy().min() and degraded.numpy().max() <= 1
    assert np.abs(degraded.numpy() - clean.numpy()).mean() > 0.01
    again, _ = next(iter(ds))  # evaluation: the same degradation on every pass
    np.testing.assert_array_equal(degraded.numpy(), again.numpy())


def test_faces_training_batches_repeat_with_new_degradations():
    def first_two(seed):
        ds = dg.faces("demo:faces", size=16, batch_size=3, training=True, seed=seed, repeat=True)
        return [tuple(x.numpy() for x in batch) for batch in ds.take(2)]

    a, b = first_two(0), first_two(0)
    for (da, ca), (db, cb) in zip(a, b):  # reproducible from the seed
        np.testing.assert_array_equal(da, db)
        np.testing.assert_array_equal(ca, cb)
    assert a[0][0].shape == (3, 16, 16, 3)
    assert np.abs(first_two(1)[0][0] - a[0][0]).mean() > 1e-3


def test_faces_prior_stage_and_paired_sources(tmp_path):
    clean = dg.faces("demo:faces:test", size=16, batch_size=2, training=False, stage="prior")
    assert next(iter(clean)).shape == (2, 16, 16, 3)
    low = write_faces(tmp_path / "low", [(20, 20), (20, 20)])
    high = write_faces(tmp_path / "high", [(20, 20), (20, 20)])
    # Pairs are used as they are; both folders hold the same faces here.
    x, y = next(iter(dg.faces(f"paired:{low},{high}", size=16, batch_size=2, training=False)))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    for source, stage in [(f"paired:{low},{high}", "prior"), ("demo:enhance", "restore"),
                          (low, "colorize")]:
        with pytest.raises(ValueError, match="stage"):
            dg.faces(source, size=16, batch_size=2, training=False, stage=stage)
