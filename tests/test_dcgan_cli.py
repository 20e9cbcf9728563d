"""DCGAN's command-line tools as a user runs them: train (with every export format), resume, sample
grids, walks, single images (from the SavedModel and the LiteRT file)."""

import shutil

import numpy as np
import pytest

from common import images
from clitools import run, state

TINY = ["--data=demo:photos:train", "--val_data=demo:photos:train", "--validation_steps=1",
        "--image_size=16", "--load_size=24", "--flip", "--ngf=4", "--ndf=4", "--latent_dim=6",
        "--batch_size=4", "--steps_per_epoch=3", "--num_samples=6", "--seed=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    # float32 on every CPU, so that the SavedModel and the LiteRT file compute alike (a mixed-precision
    # export's files are float32: test_formats.py).
    result = run("dcgan_tf.train", *TINY, "--epochs=2", f"--model_dir={model_dir}",
                 "--export_formats=saved_model,tflite,onnx", "--mixed_precision=off")
    return model_dir, result


def test_training_writes_samples_swd_checkpoint_and_the_three_formats(trained):
    model_dir, result = trained
    grid = images.read_image(model_dir / "samples" / "epoch_0002.png")
    assert grid.shape == (16, 6 * 16 + 5 * 2, 3)  # one row of the 6 fixed latents
    assert "val_swd" in result.stderr + result.stdout
    assert state(model_dir)["epoch"] == 2 and state(model_dir)["model"] == "DCGAN"
    assert (model_dir / "saved_model" / "saved_model.pb").exists()
    assert (model_dir / "model.tflite").exists() and (model_dir / "model.onnx").exists()


def test_a_run_continues_from_its_checkpoint(trained, tmp_path):
    shutil.copytree(trained[0] / "checkpoints", tmp_path / "checkpoints")
    result = run("dcgan_tf.train", *TINY, "--epochs=3", "--export=false", f"--model_dir={tmp_path}")
    assert "at epoch 2" in result.stderr and state(tmp_path)["epoch"] == 3


def test_samples_grids_walks_and_single_images_come_from_the_seed(trained, tmp_path):
    model = f"--model={trained[0] / 'saved_model'}"
    run("dcgan_tf.sample", model, "--num=6", "--seed=0", f"--output={tmp_path / 'a.png'}")
    run("dcgan_tf.sample", model, "--num=3", "--seed=4", f"--output_dir={tmp_path / 'single'}")
    run("dcgan_tf.sample", model, "--num=5", "--seed=4", "--end_seed=0", "--interpolate",
        f"--output={tmp_path / 'walk.png'}")
    run("dcgan_tf.sample", f"--model={trained[0] / 'model.tflite'}", "--num=6", "--seed=0",
        f"--output={tmp_path / 'lite.png'}")
    a, walk, lite = (images.read_image(tmp_path / n) for n in ("a.png", "walk.png", "lite.png"))
    assert np.abs(lite.astype(int) - a).max() <= 1  # the LiteRT file draws the same images
    assert a.shape == (2 * 16 + 2, 3 * 16 + 2 * 2, 3)  # 6 images: 3 columns, 2 rows
    # The training grid shows the latents of --seed=0 too (same images, another layout): the seed
    # alone decides what is drawn.
    epoch = images.read_image(trained[0] / "samples" / "epoch_0002.png")
    for k in range(6):
        np.testing.assert_array_equal(epoch[:, 18 * k:18 * k + 16],
                                      a[18 * (k // 3):18 * (k // 3) + 16, 18 * (k % 3):18 * (k % 3) + 16])
    assert sorted(p.name for p in (tmp_path / "single").iterdir()) == ["0000.png", "0001.png",
                                                                       "0002.png"]
    start = images.read_image(tmp_path / "single" / "0000.png")
    assert not np.array_equal(start, a[:16, :16])  # another seed, other images
    # The walk goes from the first image of --seed to that of --end_seed.
    assert walk.shape == (16, 5 * 16 + 4 * 2, 3)
    np.testing.assert_array_equal(walk[:, :16], start)
    np.testing.assert_array_equal(walk[:, -16:], a[:16, :16])


def test_sample_needs_an_output(tmp_path):
    nowhere = run("dcgan_tf.sample", f"--model={tmp_path}", check=False)
    assert nowhere.returncode == 2 and "give --output" in nowhere.stderr


def test_evaluate_gives_the_swd_of_the_generated_set_and_names_fid_as_left_out(trained):
    from common import data, metrics
    from dcgan_tf.model import latents, load_generator

    model = str(trained[0] / "saved_model")
    result = run("dcgan_tf.evaluate", f"--model={model}", "--data=demo:photos:train", "--seed=3")
    assert "note: FID left out: give --metric_weights=DIR with pt_inception-2015-12-05-6726825d.pth" in result.stderr
    assert "FID:" not in result.stdout and "KID:" not in result.stdout
    real = np.concatenate(list(data.pipeline("demo:photos:train", batch_size=50, image_size=16, training=False,
                                             value_range=(0.0, 1.0), center_crop_size=0)))
    generate, latent_dim = load_generator(model)
    fake = np.asarray(generate(latents(len(real), latent_dim, 3))) / np.float32(255)
    expected = metrics.sliced_wasserstein_distance(real, fake)
    assert f"{len(real)} real images (demo:photos:train), {len(real)} generated (seed 3)" in result.stdout
    assert f"SWD x 1e3 ({len(real)} images each): mean {expected['mean']:.2f}" in result.stdout
