"""GPEN's paste mask from ParseNet's classes (gpen_tf/masks.py) against OpenCV (fixture:
tools/make_mask_fixtures.py, which imports face_mask from here)."""

import pathlib

import numpy as np


def face_mask():
    """A 512 x 512 uint8 mask: an ellipse of 255 with a notch cut out, running into the border at the
    bottom (as a neck does), so that the zeroed border and the blur both show."""
    y, x = np.mgrid[0:512, 0:512]
    inside = (x - 256) ** 2 / 200 ** 2 + (y - 300) ** 2 / 240 ** 2 < 1
    inside &= ~((np.abs(x - 330) < 30) & (y < 200))
    return (inside * 255).astype(np.uint8)


def test_soften_is_mask_postprocess_with_cv2s_blur():
    from gpen_tf import masks
    expected = np.load(pathlib.Path(__file__).parent / "fixtures" / "paste_mask.npz")["every_4th"]
    ours = masks.soften(face_mask())
    assert ours.shape == (512, 512) and ours.dtype == np.float32
    np.testing.assert_allclose(ours[::4, ::4], expected, atol=1e-6)
    assert ours[:20].max() < 1e-3 and ours[256, 256] == np.float32(1.0)


def test_gaussian_taps_are_cv2s_kernel():
    from gpen_tf import masks
    taps = masks.gaussian_taps(5, 1.0)
    expected = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
    np.testing.assert_allclose(taps, expected / expected.sum())


def test_parse_mask_maps_classes_through_the_official_colour_map():
    from gpen_tf import masks
    scores = np.zeros((2, 3, 19), np.float32)
    for k, cls in enumerate([0, 1, 13, 14, 17, 18]):  # background, skin, hair, hat, neck, cloth
        scores.reshape(6, 19)[k, cls] = 1.0
    np.testing.assert_array_equal(masks.parse_mask(scores), [[0, 255, 255], [0, 255, 0]])
