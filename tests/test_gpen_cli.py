"""GPEN's training command as a user runs it: both stages, the export, bad flags, exact resume."""

import numpy as np
import pytest

from clitools import (assert_same_arrays, checkpoint_arrays, run, run_to_fault,
                      serve_in_fresh_process, state)

TINY = ["--data=demo:faces:train", "--image_size=16", "--channel_multiplier=1", "--narrow=0.03125",
        "--batch_size=2", "--steps_per_epoch=2", "--num_samples=2", "--seed=0", "--prior_epochs=1",
        "--epochs=1", "--blur_sigma=0.1,1", "--downscale=1,2",
        "--path_regularize=0"]  # its double-backward step costs traces; test_gpen_model.py covers it
# The uninterrupted run that the resume test compares with is the module's trained run.
EXACT = ["--prior_epochs=2", "--deterministic", "--mixed_precision=off"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    run("gpen_tf.train", *TINY, *EXACT, f"--model_dir={model_dir}")
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


def test_a_run_killed_in_a_save_of_its_first_stage_resumed_ends_as_the_uninterrupted_one(
        trained, tmp_path):
    args = [*TINY, *EXACT, "--noexport", f"--model_dir={tmp_path}"]
    run_to_fault("commit", 2, "gpen_tf.train", *args)  # the prior stage's last save, not renamed
    assert state(tmp_path / "prior")["epoch"] == 1 and not (tmp_path / "restore").exists()
    result = run("gpen_tf.train", *args)
    assert f"resumed from {tmp_path / 'prior' / 'checkpoints'} at epoch 1" in result.stderr
    for stage in ("prior", "restore"):
        assert_same_arrays(checkpoint_arrays(tmp_path / stage), checkpoint_arrays(trained / stage))
