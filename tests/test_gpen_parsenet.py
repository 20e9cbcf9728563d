"""ParseNet in Keras against GPEN's own class (fixture: tools/make_parsenet_fixtures.py; the weights are
made from a seed by tests/random_state.py on both sides)."""

import pathlib

import numpy as np

from common import export, porting
from gpen_tf import checkpoints, parsenet
from random_state import fixture_state

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "parsenet.npz")
SMALL = dict(in_size=32, out_size=32, min_feat_size=8, base_ch=8, parsing_ch=19, res_depth=2, ch_range=(8, 32))


def _official_state():
    return fixture_state(FIXTURE, "parsenet", seed=7)


def _converted():
    model = parsenet.build_parsenet(**SMALL)
    port = porting.Porting(_official_state(), "ParseNet")
    parsenet.port(model, port)
    port.finish()  # every official key used, every shape right
    return model


def test_parameter_count_equals_gpens_parsenet():
    model = parsenet.build_parsenet(**parsenet.OFFICIAL)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == int(FIXTURE["official_count"]) == 21_303_254


def test_converted_parsenet_equals_the_official_forward():
    out = _converted()(FIXTURE["rgb"][None])
    for name in ("mask", "image"):
        official = FIXTURE[name]
        np.testing.assert_allclose(np.asarray(out[name])[0], official, atol=1e-4 * np.abs(official).max(),
                                   rtol=1e-4, err_msg=name)


def test_parsenet_files_are_told_by_their_keys_and_the_export_runs_the_forward(tmp_path):
    state = _official_state()
    config = checkpoints.parsenet_config(state, "p.pth", in_size=32)
    assert config == SMALL
    assert checkpoints.parsenet_config(state, "p.pth")["min_feat_size"] == 128  # 512 px, two halvings
    model = parsenet.convert(config, state)
    parsenet.write(model, config, str(tmp_path))
    loaded, metadata = export.load(str(tmp_path), parsenet.MODEL)
    out = loaded.signatures["raw"](image=FIXTURE["rgb"][None])
    np.testing.assert_allclose(np.asarray(out["mask"])[0], FIXTURE["mask"],
                               atol=1e-4 * np.abs(FIXTURE["mask"]).max(), rtol=1e-4)
