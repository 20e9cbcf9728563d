"""PieNet's commands as a user runs them: both training stages, the export, evaluate and enhance."""

import h5py
import numpy as np
import pytest

from clitools import run, state
from common import images

# Four training users: with all 54 demo users the fixture took 48 s instead of 19.
TINY = ["--data=demo:styles:train", "--users=warm,cool,noir,faded", "--image_size=32", "--batch_size=4",
        "--steps_per_epoch=2", "--embedding_width=4", "--enhancer_width=4", "--num_samples=2", "--seed=0",
        "--learning_rate=1e-3", "--embed_epochs=1", "--epochs=1", "--enhance_with=photos",
        "--max_preferred=3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    run("pienet_tf.train", *TINY, f"--model_dir={model_dir}")
    return model_dir


def _embedding_weights(model_dir):
    with h5py.File(model_dir / "checkpoints" / "latest.weights.h5") as f:
        found = []
        f["embedding"].visititems(lambda _, v: found.append(v[()]) if isinstance(v, h5py.Dataset) else None)
    return found


def test_the_enhance_stage_starts_from_the_embed_stage_and_keeps_it_frozen(trained):
    assert state(trained / "embed")["config"]["stage"] == "embed"
    assert state(trained / "enhance")["config"]["stage"] == "enhance"
    embed, enhance = _embedding_weights(trained / "embed"), _embedding_weights(trained / "enhance")
    assert len(embed) == len(enhance) > 0
    assert all(np.array_equal(a, b) for a, b in zip(embed, enhance))
    grid = images.read_image(trained / "enhance" / "samples" / "epoch_0001.png")
    assert grid.shape == (2 * 32 + 2, 3 * 32 + 2 * 2, 3)  # 2 photos x (input | output | target)


def _tables(lines):
    """{title: {label: [values per column]}} of evaluate's tables, each headed by its title line."""
    tables, current = {}, None
    for line in lines:
        if line.startswith(("PSNR (dB)", "SSIM")):
            current = tables.setdefault(line.split("  ")[0], {"columns": line.split()[-4:]})
        elif current is not None and line.split() and (line.split()[0] in ("input", "stored")
                                                       or line.startswith("N=")):
            current[line.split()[0]] = [float(v) for v in line.split()[1:]]
    return tables


def test_evaluate_tables_against_n_means_over_models_and_pictures(trained, tmp_path):
    model = trained / "saved_model"
    result = run("pienet_tf.evaluate", f"--model={model},{model}", "--data=demo:styles:test",
                 "--num_preferred=1,3", "--trials=1", f"--pictures={tmp_path}", "--picture_size=32")
    lines = result.stdout.splitlines()
    first = _tables(lines[:lines.index("mean of 2 models")])
    mean = _tables(lines[lines.index("mean of 2 models"):lines.index("each model's mean over the users")])
    per_model = _tables(lines[lines.index("each model's mean over the users"):])["PSNR (dB)"]
    psnr = first["PSNR (dB)"]
    assert psnr["columns"] == ["moody", "vintage", "teal_orange", "mean"]
    assert list(psnr)[1:] == ["input", "N=1", "N=3"]  # held-out users: no stored row
    for label in ("input", "N=1", "N=3"):
        assert psnr[label][3] == pytest.approx(np.mean(psnr[label][:3]), abs=0.01)
        # The same model twice (same draws): the mean over models is each model's table.
        assert mean["PSNR (dB)"][label] == psnr[label]
        assert mean["SSIM"][label] == first["SSIM"][label]
        assert per_model[label] == [psnr[label][3]] * 3  # model 1, model 2, their mean
    # A short run moves the outputs little from the input (the untrained enhancer is the identity).
    assert abs(psnr["N=1"][0] - psnr["input"][0]) < 3.0
    for user in ("moody", "vintage", "teal_orange"):  # 2 test photos x (input | N=1 | N=3 | retouch)
        assert images.read_image(tmp_path / f"{user}.jpg").shape == (2 * 32 + 2, 4 * 32 + 3 * 2, 3)


def test_evaluate_takes_every_set_of_liked_photos_when_they_are_few(trained):
    """With --trials at least the number of sets, the draws are every set: the seed cannot matter. A
    training user's stored vector is the mean over all its photos, which is the one set of N = 7."""
    rows = []
    for seed in (1, 2):
        result = run("pienet_tf.evaluate", f"--model={trained / 'saved_model'}", "--data=demo:styles:test",
                     "--users=warm", "--num_preferred=1,7", "--trials=7", f"--seed={seed}")
        rows.append(_tables(result.stdout.splitlines())["PSNR (dB)"])
    assert rows[0]["N=1"] == rows[1]["N=1"]
    assert rows[0]["stored"] == pytest.approx(rows[0]["N=7"], abs=0.01)
