"""The command-line tools as a user runs them: train, kill and resume, bad input, translate."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from clitools import ENV, g_steps, run, state
from common import images

TINY = ["--data=demo:gray2color:train", "--val_data=demo:gray2color:test", "--generator=unet_32",
        "--image_size=32", "--load_size=40", "--ngf=4", "--ndf=4", "--batch_size=2",
        "--steps_per_epoch=3", "--num_samples=2", "--seed=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    run("pix2pix_tf.train", *TINY, "--epochs=2", f"--model_dir={model_dir}")
    return model_dir


def test_training_writes_samples_logs_checkpoint_and_savedmodel(trained):
    grid = images.read_image(trained / "samples" / "epoch_0002.png")
    assert grid.shape == (2 * 32 + 2, 3 * 32 + 4, 3)  # 2 examples x (input | output | target)
    assert os.listdir(trained / "logs" / "train") and os.listdir(trained / "logs" / "validation")
    assert state(trained)["epoch"] == 2 and state(trained)["model"] == "Pix2Pix"
    assert g_steps(trained) == 6
    assert (trained / "saved_model" / "saved_model.pb").exists()


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    cmd = [sys.executable, "-m", "pix2pix_tf.train", *TINY, "--epochs=1000", "--export=false",
           f"--model_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 240
    while not (tmp_path / "checkpoints" / "state.json").exists() and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = state(tmp_path)["epoch"]
    assert 1 <= done < 1000 and g_steps(tmp_path) == 3 * done

    result = run("pix2pix_tf.train", *TINY, f"--epochs={done + 1}", "--export=false",
                 f"--model_dir={tmp_path}")
    assert f"resumed from {tmp_path / 'checkpoints'} at epoch {done}" in result.stderr
    assert state(tmp_path)["epoch"] == done + 1
    assert g_steps(tmp_path) == 3 * (done + 1)  # optimizer state continued, not restarted


def test_checkpoint_of_another_model_is_refused(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "state.json").write_text(
        json.dumps({"model": "DCGAN", "config": {}, "epoch": 3}))
    result = run("pix2pix_tf.train", *TINY, "--epochs=1", f"--model_dir={tmp_path}", check=False)
    assert result.returncode != 0
    assert "checkpoint of a DCGAN model, not of a Pix2Pix" in result.stderr


@pytest.mark.parametrize("flag, message", [
    ("--xla=maybe", "--xla"),
    ("--batch_size=0", "--batch_size"),
    ("--data=/no/such/folder", "--data=/no/such/folder: data folder"),
    ("--image_size=48", "--image_size=48 must divide by 32"),
])
def test_bad_flag_values_are_named(tmp_path, flag, message):
    result = run("pix2pix_tf.train", *TINY, flag, f"--model_dir={tmp_path}", check=False)
    assert result.returncode != 0 and message in result.stderr


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
