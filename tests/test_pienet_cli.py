"""PieNet's commands as a user runs them: both training stages, the export, evaluate and enhance."""

import h5py
import numpy as np
import pytest

from clitools import run, state
from common import images

TINY = ["--data=demo:styles:train", "--image_size=32", "--batch_size=4", "--steps_per_epoch=2",
        "--embedding_width=4", "--enhancer_width=4", "--num_samples=2", "--seed=0",
        "--learning_rate=1e-3", "--embed_epochs=1", "--epochs=1"]


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


def test_evaluate_reports_every_held_out_user_against_n(trained):
    result = run("pienet_tf.evaluate", f"--model={trained / 'saved_model'}", "--data=demo:styles:test",
                 "--num_preferred=1,3", "--trials=1")
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    for user in ("moody", "vintage", "teal_orange"):
        assert [r[1] for r in rows if r[0] == user] == ["input", "N=1", "N=3"]
    # The untrained enhancer starts as the identity, so after two steps it is still near the input.
    scores = {(r[0], r[1]): float(r[2]) for r in rows if r[0] == "moody"}
    assert abs(scores[("moody", "N=1")] - scores[("moody", "input")]) < 3.0
