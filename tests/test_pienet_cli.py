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
    assert lines.count("PieNet paper (FiveK): PSNR 25.28 dB, SSIM 0.908 for Expert C; 24.28 dB, 0.907 over "
                       "experts A-E") == 1  # beside the first model's tables
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


def test_evaluate_takes_every_set_of_liked_photos_when_they_are_few(trained, tmp_path):
    """With --trials at least the number of sets, the draws are every set: the seed cannot matter. A
    training user's stored vector is the mean over all its photos, which is the one set of N = 7."""
    rows = []
    for seed in (1, 2):
        result = run("pienet_tf.evaluate", f"--model={trained / 'saved_model'}", "--data=demo:styles:test",
                     "--users=warm", "--num_preferred=1,7", "--trials=7", f"--seed={seed}",
                     *(["--stored_styles=all", f"--pictures={tmp_path}", "--picture_size=32"]
                       if seed == 1 else ["--stored_styles=warm,moody"]), check=seed == 1)
        rows.append(_tables(result.stdout.splitlines())["PSNR (dB)"])
        if seed == 1:
            styles_table = result.stdout.splitlines()[-5:]
    # The second run named a style the model does not store: its tables, then one line and exit 2.
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
        f"error: --stored_styles: moody not stored in {trained / 'saved_model'}; its styles are warm, "
        "cool, noir, faded")
    assert rows[0]["N=1"] == rows[1]["N=1"]
    assert rows[0]["stored"] == pytest.approx(rows[0]["N=7"], abs=0.01)
    _check_stored_styles(trained / "saved_model", styles_table)
    # Per test photo a row of outputs and a row of retouches: the photo, then the four styles.
    assert images.read_image(tmp_path / "stored_styles.jpg").shape == (4 * 32 + 3 * 2, 5 * 32 + 4 * 2, 3)


def _check_stored_styles(model, lines):
    """evaluate --stored_styles=all: a row per stored style, each test photo's ΔE (photo -> output) to
    the style's own retouch, as computed here, and the count of photos the output is closer on."""
    import tensorflow as tf
    from common import metrics
    from pienet_tf import data, serving
    served = serving.load(str(model))
    assert lines[-1] == f"{sum(line.endswith('closer on 2 of 2') for line in lines)} of 4 styles closer " \
                        "on most photos"
    for line, name in zip(lines, ("warm", "cool", "noir", "faded")):
        words = line.split()
        assert words[0] == name
        photo, output = [float(words[i]) for i in (1, 4)], [float(words[i]) for i in (3, 6)]
        closer = sum(o < p for p, o in zip(photo, output))
        assert words[-4:] == ["on", str(closer), "of", "2"]
        vector = serving.stored_style(served, name)
        for k, (x, y) in enumerate(data.user_pairs("demo:styles:test", name)):
            out = served.signatures["serving_default"](images=x[None], preference=vector)["images"]
            x, y, out = (tf.cast(tf.reshape(im, (1, *x.shape)), tf.float32) / 255.0 for im in (x, y, out))
            assert float(metrics.delta_e(x, y)[0]) == pytest.approx(photo[k], abs=0.051)
            assert float(metrics.delta_e(out, y)[0]) == pytest.approx(output[k], abs=0.051)
