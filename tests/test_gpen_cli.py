"""GPEN's training command as a user runs it: both stages, the export, bad flags."""

import numpy as np
import pytest

from clitools import run, state, serve_in_fresh_process

TINY = ["--data=demo:faces:train", "--image_size=16", "--channel_multiplier=1", "--narrow=0.03125",
        "--batch_size=2", "--steps_per_epoch=2", "--num_samples=2", "--seed=0", "--prior_epochs=1",
        "--epochs=1", "--blur_sigma=0.1,1", "--downscale=1,2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    run("gpen_tf.train", *TINY, f"--model_dir={model_dir}")
    return model_dir


def test_both_stages_train_and_the_export_restores_any_size(trained, tmp_path):
    assert state(trained / "prior")["config"]["stage"] == "prior"
    assert state(trained / "restore")["config"]["stage"] == "restore"
    faces = {"odd": np.random.default_rng(0).integers(0, 256, (1, 21, 35, 3), np.uint8)}
    out = serve_in_fresh_process(trained / "saved_model", faces, tmp_path, ["gpen_tf", "common"])
    assert out["odd"].shape == (1, 21, 35, 3) and out["odd"].dtype == np.uint8


@pytest.mark.parametrize("flags, message", [
    (["--blur_sigma=5,1"], "blur_sigma"),
    (["--stage=restore"], "no checkpoint of the previous stage"),
])
def test_bad_flags_are_named(tmp_path, flags, message):
    result = run("gpen_tf.train", *TINY, *flags, f"--model_dir={tmp_path}", check=False)
    assert result.returncode != 0 and message in result.stderr
