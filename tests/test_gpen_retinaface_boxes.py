"""RetinaFace's post-processing against GPEN's own detect() on the same raw outputs (fixture made by
tools/make_retinaface_fixtures.py with the official face_detect/ code)."""

import pathlib

import numpy as np
import pytest

from gpen_tf import retinaface_boxes as boxes

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "retinaface_boxes.npz")


@pytest.mark.parametrize("name", ["small", "large"])
def test_detections_equal_the_official_detect(name):
    height, width = FIXTURE[f"{name}_photo_size"]
    ss = boxes.detection_scale(height, width)
    detected = tuple(FIXTURE[f"{name}_detected_size"])
    # The 1500 px rule: 1200 x 1600 is detected at 750 x 1000 and its results divided by 0.625.
    assert (ss, detected) == {"small": (1.0, (120, 160)), "large": (0.625, (750, 1000))}[name]
    assert detected == (round(height * ss), round(width * ss))
    dets, landmarks = boxes.detections(FIXTURE[f"{name}_loc"], FIXTURE[f"{name}_conf"],
                                       FIXTURE[f"{name}_landms"], *detected, ss=ss)
    official = FIXTURE[f"{name}_dets"]
    assert dets.shape == official.shape and len(dets) > 50  # the same faces kept, in the same order
    np.testing.assert_allclose(dets, official, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(landmarks, FIXTURE[f"{name}_landmarks"], rtol=1e-5, atol=1e-3)
    assert (dets[:, 4] > 1).all() == (name == "large")  # the official divides the scores by ss too


def test_priors_follow_the_feature_maps():
    prior = boxes.priors(120, 160)
    # ceil(120 / s) x ceil(160 / s) cells, two sizes each, for strides 8, 16, 32.
    assert len(prior) == 2 * (15 * 20 + 8 * 10 + 4 * 5)
    np.testing.assert_allclose(prior[0], [4 / 160, 4 / 120, 16 / 160, 16 / 120])
    np.testing.assert_allclose(prior[1], [4 / 160, 4 / 120, 32 / 160, 32 / 120])
    np.testing.assert_allclose(prior[2], [12 / 160, 4 / 120, 16 / 160, 16 / 120])


def test_nms_keeps_the_best_of_overlapping_boxes():
    dets = np.float32([[0, 0, 9, 9, 0.8], [1, 1, 10, 10, 0.95], [20, 20, 29, 29, 0.9]])
    # Boxes 0 and 1 overlap by 81 of 119 pixels (+1 areas): IoU 0.68 > 0.4.
    assert boxes.nms(dets, 0.4) == [1, 2]
    assert boxes.nms(dets, 0.7) == [1, 2, 0]


def test_raw_outputs_of_another_size_are_named():
    with pytest.raises(ValueError, match=r"loc for 120 x 160 is \[800, 4\], got \[10, 4\]"):
        boxes.detections(np.zeros((10, 4)), np.zeros((800, 2)), np.zeros((800, 10)), 120, 160)
