"""RetinaFace in Keras against GPEN's own class, both backbones (fixture: tools/make_retinaface_fixtures.py
with torch 2.14.1 and torchvision 0.29.1; the weights are made from a seed by tests/random_state.py on
both sides, so that only the outputs are shipped)."""

import pathlib

import numpy as np
import pytest

from common import export, porting, pth
from gpen_tf import checkpoints, retinaface, retinaface_boxes
from random_state import fixture_state

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "retinaface_net.npz")


def _official_state(backbone):
    # As the fixture script: ResNet-50's class head scaled down, so that the softmax is not saturated.
    return fixture_state(FIXTURE, backbone, seed=len(backbone),
                         scales={"ClassHead": 1e-6} if backbone == "resnet50" else {})


@pytest.mark.parametrize("backbone", ["resnet50", "mobilenet0.25"])
def test_converted_retinaface_equals_the_official_forward(backbone):
    model = retinaface.build_retinaface(backbone)
    port = porting.Porting(_official_state(backbone), f"RetinaFace {backbone}")
    retinaface.port(model, port)
    port.finish()  # every official key used, every shape right
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == int(FIXTURE[f"{backbone}_count"])  # 27,293,600 and 426,608
    bgr = FIXTURE["bgr"]
    out = {k: np.asarray(v)[0] for k, v in model(bgr[None]).items()}
    assert out["loc"].shape[0] == len(retinaface_boxes.priors(*bgr.shape[:2])) == 294
    for name in ("loc", "conf", "landms"):
        official = FIXTURE[f"{backbone}_{name}"]
        scale = np.abs(official).max()
        np.testing.assert_allclose(out[name], official, atol=1e-4 * scale, rtol=1e-4, err_msg=name)


def test_retinaface_files_are_told_by_their_keys_and_the_export_runs_the_forward(tmp_path):
    state = _official_state("mobilenet0.25")
    assert checkpoints.retinaface_config(state, "m.pth") == {"backbone": "mobilenet0.25"}
    assert checkpoints.retinaface_config(_official_state("resnet50"), "r.pth") == {"backbone": "resnet50"}
    with pytest.raises(pth.CheckpointError, match="is not a RetinaFace: no 'ssh1.conv3X3.0.weight'"):
        checkpoints.retinaface_config({k: v for k, v in state.items() if not k.startswith("ssh1.")}, "cut.pth")
    model = retinaface.convert({"backbone": "mobilenet0.25"}, state)
    retinaface.write(model, {"backbone": "mobilenet0.25"}, str(tmp_path))
    loaded, metadata = export.load(str(tmp_path), retinaface.MODEL)
    assert metadata["config"] == {"backbone": "mobilenet0.25"}
    out = loaded.signatures["raw"](image=FIXTURE["bgr"][None])
    for name in ("loc", "conf", "landms"):
        official = FIXTURE[f"mobilenet0.25_{name}"]
        np.testing.assert_allclose(np.asarray(out[name])[0], official, atol=1e-4 * np.abs(official).max(),
                                   rtol=1e-4)
