"""pix2pix in eval mode in exact tiles: the U-Net's receptive field, tiles equal to the whole photo, the
SavedModel's tiled signatures and `translate --tile`.

The generators are tiny U-Nets (ngf=4) with He-scaled random weights (`tiles.randomize`), so that every
output depends on its whole receptive field with values of the order of the input.
"""

import numpy as np
import pytest
import tensorflow as tf

from clitools import run
from common import data, export, images, tiles
from pix2pix_tf import inference, networks, serving

TILE = 32  # with unet_32's 64-px margins, a window is 160 px a side
VALUE_RANGE = (-1, 1)


def unet(downs, norm="batch", seed=0):
    return tiles.randomize(networks.unet_generator(downs, ngf=4, norm=norm), seed)


def photo(h, w, n=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def whole(generator, images):
    """The whole-photo pass, as eval-mode exports ran before tiling."""
    return export.translate_uint8(generator, images, value_range=VALUE_RANGE, multiple=32)


def export_unet_32(folder, generator, mode="eval"):
    path = str(folder / "saved_model")
    inference.export_generator(generator, path, mode, size=32, multiple=32, value_range=VALUE_RANGE,
                               metadata=export.describe("Pix2Pix"), tile=TILE)
    return path


@pytest.fixture(scope="module")
def generator():
    return unet(5)


@pytest.fixture(scope="module")
def exported(generator, tmp_path_factory):
    return export_unet_32(tmp_path_factory.mktemp("eval"), generator)


def assert_within_a_level(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(int) - b).max() <= 1 and np.mean(a == b) > 0.999


def test_the_receptive_field_reaches_two_grid_cells_beyond_a_cell(generator):
    # unet_32 only, to stay fast; unet_64 and unet_128 measure (127, 127) and (255, 255), as the
    # formula says (BUILD_NOTES.md).
    measured = tiles.receptive_field(lambda x: generator(x, training=False), multiple=32, size=160,
                                     width=32)
    assert measured == serving.receptive_field(32) == (63, 63)
    assert serving.margin(32) == (64, 64) and serving.margin(256) == (512, 512)


def test_tiles_equal_the_whole_photo_and_need_their_margin(generator):
    # 200x330, padded 224x352: 7 x 11 windows of 160 px, clamped at every border, the last core of
    # each axis shifted back onto its neighbour.
    x = data.to_range(export.pad_to_multiple(tf.constant(photo(200, 330, n=2, seed=1)), 32),
                      VALUE_RANGE)
    untiled = generator(x, training=False)[:, :200, :330].numpy()

    def tiled(margin):
        fn = tf.function(lambda im: tiles.tiled_map(lambda w: generator(w, training=False), im,
                                                    (200, 330), tile=TILE, margin=margin,
                                                    dtype=tf.float32))
        return fn(x).numpy()

    np.testing.assert_allclose(tiled(serving.margin(32)), untiled, rtol=0, atol=1e-5)
    for short in [(32, 64), (64, 32)]:  # one grid step less on either side: seams
        assert np.abs(tiled(short) - untiled).max() > 1e-3


def test_the_saved_model_serves_tiles_of_its_size_or_of_each_calls(generator, exported):
    loaded, metadata = export.load(exported, "Pix2Pix")
    assert metadata["inference"] == "eval" and metadata["multiple"] == 32 and metadata["tile"] == TILE
    assert set(loaded.signatures) == {"serving_default", "serving_tiled", "portable_serving_default",
                                      "metadata"}
    x = photo(150, 230, n=2, seed=2)  # padded 160x256: 5 x 8 windows
    expected = whole(generator, x)
    assert_within_a_level(loaded.signatures["serving_default"](images=tf.constant(x))["images"],
                          expected)
    for tile in (64, 256):  # 256: the width in one window
        served = loaded.signatures["serving_tiled"](images=tf.constant(x), tile=tf.constant(tile))
        assert_within_a_level(served["images"], expected)
    with pytest.raises(tf.errors.InvalidArgumentError, match="tile must be a positive multiple of 32"):
        loaded.signatures["serving_tiled"](images=tf.constant(x), tile=tf.constant(48))


def test_instance_norm_runs_the_photo_whole(tmp_path):
    generator = unet(5, norm="instance")
    loaded, metadata = export.load(export_unet_32(tmp_path, generator), "Pix2Pix")
    assert metadata["tile"] is None and "serving_tiled" not in loaded.signatures
    x = photo(200, 40, seed=3)  # taller than a window: tiles would normalise by their own statistics
    assert_within_a_level(loaded.signatures["serving_default"](images=tf.constant(x))["images"],
                          whole(generator, x))
    with pytest.raises(ValueError, match="tile must be a positive multiple of 32"):
        serving.export_translator(unet(5), str(tmp_path / "bad"), value_range=VALUE_RANGE,
                                  multiple=32, tile=48, metadata={})


def test_translate_takes_a_tile_and_names_a_bad_one(generator, exported, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    x = photo(150, 230, seed=4)
    images.write_image(inputs / "a.png", x[0])
    run("pix2pix_tf.translate", f"--model={exported}", f"--input={inputs}",
        f"--output={tmp_path / 'out'}", "--tile=64")
    assert_within_a_level(images.read_image(tmp_path / "out" / "a.png"), whole(generator, x)[0])

    paper = export_unet_32(tmp_path / "paper", generator, mode="paper")
    for model, tile, message in [
            (exported, 48, f"error: --tile=48: give a positive multiple of 32, the grid of {exported}'s "
                           "U-Net"),
            (paper, 64, f"error: --tile: {paper} runs each image at its training size, not in tiles")]:
        result = run("pix2pix_tf.translate", f"--model={model}", f"--input={inputs}",
                     f"--output={tmp_path / 'refused'}", f"--tile={tile}", check=False)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 2 and errors == [message], result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "refused").exists()


def test_evaluate_scores_the_translations_of_an_ab_split(generator, exported, tmp_path):
    from common import metrics
    split = tmp_path / "test"
    split.mkdir()
    a, b = photo(40, 64, n=3, seed=5), photo(40, 64, n=3, seed=6)
    for k in range(3):
        images.write_image(split / f"{k}.png", np.concatenate([a[k], b[k]], axis=1))  # A | B
    result = run("pix2pix_tf.evaluate", f"--model={exported}", f"--data=ab:{split}", "--direction=BtoA")
    assert "note: LPIPS left out" in result.stderr and "note: FID left out" in result.stderr
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in result.stdout.splitlines()[1:4]}
    for k in range(3):  # BtoA: the right half in, the left half the target
        out = whole(generator, b[k:k + 1])
        psnr = float(metrics.psnr(np.asarray(out, np.float32) / 255, a[k:k + 1].astype(np.float32) / 255)[0])
        assert rows[f"{k}.png"][0] == pytest.approx(psnr, abs=0.01)
    wrong = run("pix2pix_tf.evaluate", f"--model={exported}", f"--data=cd:{split}", check=False)
    assert wrong.returncode == 2 and wrong.stderr.strip() == f"error: --data=cd:{split}: give ab:DIR or paired:DIR_A,DIR_B"
