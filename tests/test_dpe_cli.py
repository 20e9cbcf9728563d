"""DPE's training command as a user runs it: a small supervised run, resume, its export, bad flags."""

import shutil

import numpy as np
import pytest

from clitools import run, state
from common import images

TINY = ["--mode=supervised", "--data=demo:enhance:train", "--val_data=demo:enhance:test",
        "--image_size=64", "--batch_size=2", "--steps_per_epoch=2", "--num_samples=2", "--seed=0",
        "--learning_rate=1e-3", "--decay_epochs=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    result = run("dpe_tf.train", *TINY, "--epochs=2", f"--model_dir={model_dir}")
    return model_dir, result


def test_training_writes_samples_metrics_checkpoint_and_savedmodel(trained):
    model_dir, result = trained
    grid = images.read_image(model_dir / "samples" / "epoch_0002.png")
    assert grid.shape == (2 * 64 + 2, 3 * 64 + 2 * 2, 3)  # 2 photos x (input | output | target)
    assert "val_psnr" in result.stdout + result.stderr
    assert state(model_dir)["epoch"] == 2 and state(model_dir)["model"] == "DPE"
    assert state(model_dir)["config"]["mode"] == "supervised"


def test_a_run_finds_its_checkpoint(trained, tmp_path):
    # Training on after a resume is tested (bit for bit) for pix2pix and GPEN, which share the code.
    shutil.copytree(trained[0] / "checkpoints", tmp_path / "checkpoints")
    result = run("dpe_tf.train", *TINY, "--epochs=2", "--export=false", f"--model_dir={tmp_path}")
    assert "at epoch 2" in result.stderr and state(tmp_path)["epoch"] == 2
    # The same folder with another mode is another model: refused with the setting named.
    other = run("dpe_tf.train", *TINY[1:], "--mode=1way", "--epochs=4", "--export=false",
                f"--model_dir={tmp_path}", check=False)
    assert other.returncode != 0 and "mode" in other.stderr


def test_enhance_keeps_every_size(trained, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    for name, shape in [("small", (20, 30, 3)), ("tall", (150, 70, 3))]:
        images.write_image(tmp_path / "in" / f"{name}.png", rng.integers(0, 256, shape, np.uint8))
    run("dpe_tf.enhance", f"--model={trained[0] / 'saved_model'}", f"--input={tmp_path / 'in'}",
        f"--output={tmp_path / 'out'}")
    assert images.read_image(tmp_path / "out" / "small.png").shape == (20, 30, 3)
    assert images.read_image(tmp_path / "out" / "tall.png").shape == (150, 70, 3)


@pytest.mark.parametrize("flags, message", [
    (["--mode=2way"], "--mode=2way trains on unpaired"),
    (["--image_size=100"], "--image_size=100"),
])
def test_bad_flags_are_named(tmp_path, flags, message):
    result = run("dpe_tf.train", *TINY, *flags, f"--model_dir={tmp_path}", check=False)
    assert result.returncode != 0 and message in result.stderr
