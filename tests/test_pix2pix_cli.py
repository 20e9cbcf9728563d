"""The command-line tools as a user runs them: train, kill and resume, bad input, translate."""

import json
import os
import signal

import h5py
import numpy as np
import pytest

from clitools import (assert_same_arrays, checkpoint_arrays, g_steps, run, run_to_fault, state,
                      stop_after_first_checkpoint)
from common import export, images, run_folder

TINY = ["--data=demo:gray2color:train", "--val_data=demo:gray2color:test", "--generator=unet_32",
        "--image_size=32", "--load_size=40", "--ngf=4", "--ndf=4", "--batch_size=2",
        "--steps_per_epoch=3", "--num_samples=2", "--seed=0"]
# The module's trained run, which the resume test compares with: unet_64 has a dropout block, so the
# model's random state is part of what must resume.
EXACT = [*TINY, "--generator=unet_64", "--image_size=64", "--load_size=72", "--epochs=3",
         "--deterministic", "--mixed_precision=off"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    run("pix2pix_tf.train", *EXACT, f"--model_dir={model_dir}")
    return model_dir


def test_training_writes_samples_logs_checkpoint_and_savedmodel(trained):
    grid = images.read_image(trained / "samples" / "epoch_0003.png")
    assert grid.shape == (2 * 64 + 2, 3 * 64 + 4, 3)  # 2 examples x (input | output | target)
    assert os.listdir(trained / "logs" / "train") and os.listdir(trained / "logs" / "validation")
    assert state(trained)["epoch"] == 3 and state(trained)["model"] == "Pix2Pix"
    assert g_steps(trained) == 9
    assert (trained / "saved_model" / "saved_model.pb").exists()


def test_the_export_says_what_it_is_and_other_tools_refuse_it(trained):
    _, metadata = export.load(str(trained / "saved_model"), "Pix2Pix")
    assert metadata["package"] == "gan-zoo-tf" and metadata["epoch"] == 3
    assert metadata["config"]["generator"] == "unet_64" and metadata["config"]["ngf"] == 4
    assert metadata["value_range"] == [-1.0, 1.0]
    for tool, model in [("gpen_tf.restore", "GPEN"), ("dpe_tf.enhance", "DPE")]:
        result = run(tool, f"--model={trained / 'saved_model'}", f"--input={trained / 'samples'}",
                     f"--output={trained / 'refused'}", check=False)
        assert result.returncode == 2
        message = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert message == [f"error: the export in {trained / 'saved_model'} is a Pix2Pix model, "
                           f"not a {model} one: this tool runs {model} exports"]
        assert not (trained / "refused").exists()


def test_a_run_killed_at_every_point_of_a_save_resumes_and_ends_as_the_uninterrupted_one(
        trained, tmp_path):
    """Each rerun is killed in the middle of a later save (faulty_save.py), the last one just after
    the rename: every kill leaves the checkpoint of the save before it, whole, and the chain ends
    bit-identical to the uninterrupted run, random state included."""
    args = [*EXACT, "--noexport", f"--model_dir={tmp_path}"]
    folder = tmp_path / "checkpoints"
    run_to_fault("weights", 2, "pix2pix_tf.train", *args)  # half of epoch 2's file written
    for point, epoch, resumed, left in [("state", 3, 1, 2), ("commit", 3, 2, 2), ("renamed", 3, 2, 3)]:
        assert state(tmp_path)["epoch"] == resumed and g_steps(tmp_path) == 3 * resumed
        result = run_to_fault(point, epoch, "pix2pix_tf.train", *args)
        assert f"resumed from {folder} at epoch {resumed}" in result.stderr
        assert state(tmp_path)["epoch"] == left
    assert state(tmp_path)["data_seed"] == 0  # --seed
    assert state(tmp_path)["data_position"] == 3 * 3 * 2  # epochs x steps x batch
    assert_same_arrays(checkpoint_arrays(tmp_path), checkpoint_arrays(trained))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_says_where_it_stopped_in_one_line(tmp_path, sig, code):
    result = stop_after_first_checkpoint(sig, tmp_path, "pix2pix_tf.train", *TINY, "--epochs=1000")
    assert result.returncode == code and "Traceback" not in result.stderr, result.stderr[-3000:]
    epoch = state(tmp_path)["epoch"]
    assert epoch >= 1 and result.stderr.splitlines()[-1] == (
        f"stopped by {sig.name}: {tmp_path / 'checkpoints'} holds epoch {epoch}, the last finished; "
        "the same command resumes from there")


def test_checkpoint_of_another_model_is_refused(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with h5py.File(tmp_path / "checkpoints" / run_folder.WEIGHTS, "w") as f:
        f.attrs["gan_zoo_state"] = json.dumps({"model": "DCGAN", "config": {}, "epoch": 3,
                                               "data_position": 18})
    result = run("pix2pix_tf.train", *TINY, "--epochs=1", f"--model_dir={tmp_path}", check=False)
    assert result.returncode != 0
    assert "checkpoint of a DCGAN model, not of a Pix2Pix" in result.stderr


@pytest.mark.parametrize("flag, message", [
    ("--batch_size=0", "--batch_size"),
    ("--data=/no/such/folder", "--data=/no/such/folder: data folder"),
    ("--image_size=48", "--image_size=48 must divide by 32"),
    ("--data=demo:photos:train", "--data=demo:photos:train gives single images, but pix2pix trains "
                                 "on (input, target) pairs: give ab:DIR, paired:DIR_A,DIR_B"),
])
def test_bad_flag_values_are_named_and_leave_no_model_dir(tmp_path, flag, message):
    result = run("pix2pix_tf.train", *TINY, flag, f"--model_dir={tmp_path / 'run'}", check=False)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_bad_training_images_are_named_in_one_line(tmp_path):
    folder = tmp_path / "ab"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        images.write_image(folder / f"{k}.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    images.write_image(folder / "tiny.png", np.zeros((1, 1, 3), np.uint8))  # no room for A and B
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    args = [*TINY, f"--data=ab:{folder}", "--epochs=1", "--steps_per_epoch=1", "--noexport"]
    skipped = run("pix2pix_tf.train", *args, f"--model_dir={tmp_path / 'skip'}")
    assert "tiny.png: it is 1 px wide" in skipped.stderr and "broken.jpg" in skipped.stderr
    fatal = run("pix2pix_tf.train", *args, "--on_bad_image=fatal", f"--model_dir={tmp_path / 'fatal'}",
                check=False)
    assert fatal.returncode == 1 and "Traceback" not in fatal.stderr
    errors = [line for line in fatal.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ("tiny.png" in errors[0] or "broken.jpg" in errors[0]), fatal.stderr


def test_translate_writes_same_size_outputs_and_names_bad_files(trained, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    images.write_image(inputs / "gray.png", rng.integers(0, 256, (30, 50), dtype=np.uint8))
    from PIL import Image
    Image.fromarray(rng.integers(0, 256, (70, 40, 4), dtype=np.uint8), "RGBA").save(inputs / "rgba.png")
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}

    result = run("pix2pix_tf.translate", f"--model={trained / 'saved_model'}", f"--input={inputs}",
                 f"--output={tmp_path / 'out'}", check=False)
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr
    assert images.read_image(tmp_path / "out" / "gray.png").shape == (30, 50, 3)
    assert images.read_image(tmp_path / "out" / "rgba.png").shape == (70, 40, 3)
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before

    missing = run("pix2pix_tf.translate", f"--model={tmp_path}", f"--input={inputs}",
                  f"--output={tmp_path / 'out2'}", check=False)
    assert missing.returncode == 2 and "no SavedModel" in missing.stderr
