"""DPE at any size: the serving function, its SavedModel, and the enhance / evaluate tools.

The generator is built at S = 64 (the smallest training size) with He-scaled random weights
(`serving.random_like`), so that its residual is as large as the image and any difference between two
ways of running it shows. The local path (encoder/decoder) is the same at every S, so its receptive field
and the tiling are those of the 512 model.
"""


import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage.color import deltaE_cie76, rgb2lab
from skimage.metrics import structural_similarity

from clitools import run, serve_in_fresh_process
from common import data, export, images
from dpe_tf import networks, serving

S = 64
TILE = 32  # the exported test model tiles photos larger than TILE + 80 + 64 = 176 px after padding
SIZES = [(17, 23), (64, 64), (100, 37), (200, 130), (1, 90)]


def rand_uint8(h, w, n=1, seed=0, high=256):
    return np.random.default_rng(seed).integers(0, high, (n, h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def gen():
    return serving.random_like(networks.generator(S))


@pytest.fixture(scope="module")
def identity_gen(gen):
    """The same network with its last conv zeroed: the residual output is the input itself."""
    g = serving.random_like(gen, seed=1)
    conv = networks.parts(g).decoder.get_layer("dec8_conv")
    conv.kernel.assign(tf.zeros_like(conv.kernel))
    conv.bias.assign(tf.zeros_like(conv.bias))
    return g


@pytest.fixture(scope="module")
def exported(gen, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dpe") / "saved_model")
    serving.export_enhancer(gen, path, tile=TILE, metadata=export.describe("DPE"))
    return path


@pytest.fixture(scope="module")
def identity_exported(identity_gen, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dpe_identity") / "saved_model")
    serving.export_enhancer(identity_gen, path, image_size=S, metadata=export.describe("DPE"))
    return path


@pytest.fixture(scope="module")
def serve(exported):
    return tf.saved_model.load(exported).signatures["serving_default"]


def served(serve, batch):
    return serve(images=tf.constant(batch))["images"].numpy()


def assert_close_uint8(a, b, levels=1):
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= levels


# --- the receptive field and the tiling ------------------------------------------------------------


def test_measured_receptive_field_is_the_documented_one(gen):
    assert serving.receptive_field(gen) == serving.RECEPTIVE_FIELD == (79, 64)
    assert serving.MARGIN == (80, 64)


def test_tiles_equal_the_untiled_full_resolution_pass_and_need_their_margin(gen):
    # 200x181, padded 208x192: both axes tiled with 32-px cores (7 x 6 windows of 176 x 176), every kind
    # of window: clamped at each border, interior, and (down) the last core shifted back to overlap.
    x = tf.constant(rand_uint8(200, 181, seed=3), tf.float32) / 255.0
    features = networks.global_feature(gen, serving.downsized_copy(x, S))
    untiled = serving.local_pass(gen, x, features, tile=None).numpy()
    assert np.abs(untiled - x.numpy()).mean() > 0.05  # a real residual, not the identity

    def tiled(margin):
        fn = tf.function(lambda im: serving.local_pass(gen, im, features, tile=TILE, margin=margin))
        return fn(x).numpy()

    np.testing.assert_allclose(tiled(serving.MARGIN), untiled, rtol=0, atol=1e-5)
    # One grid step less on either side and core pixels see the tile's edge.
    for margin in [(64, 64), (80, 48)]:
        assert np.abs(tiled(margin) - untiled).max() > 1e-3


def test_bad_tiling_arguments_are_refused(gen):
    for tile, margin in [(20, serving.MARGIN), (0, serving.MARGIN), (32, 90), (32, (80,))]:
        with pytest.raises(ValueError, match="multiple of 16"):
            serving.enhance(gen, tf.zeros([1, 8, 8, 3]), tile=tile, margin=margin)
    with pytest.raises(ValueError, match="image_size=128"):
        serving.export_enhancer(gen, "/nonexistent", image_size=128, metadata={})


# --- the SavedModel --------------------------------------------------------------------------------


def test_saved_model_keeps_any_size(serve):
    for k, (h, w) in enumerate(SIZES):
        out = served(serve, rand_uint8(h, w, seed=k))
        assert out.shape == (1, h, w, 3) and out.dtype == np.uint8
    assert served(serve, rand_uint8(200, 130, n=2)).shape == (2, 200, 130, 3)


def test_saved_model_equals_keras_generator_at_training_size(gen, serve):
    x = rand_uint8(S, S, n=2, seed=1)
    keras_out = data.from_range(gen.predict(x.astype(np.float32) / 255.0, verbose=0), (0, 1)).numpy()
    assert_close_uint8(served(serve, x), keras_out, levels=1)
    assert np.mean(served(serve, x) == keras_out) > 0.99


def test_small_photos_follow_the_official_symmetric_padding(gen, serve):
    # Official test code: np.pad(..., 'symmetric') bottom/right to S x S, generator, crop.
    x = rand_uint8(17, 23, seed=2)
    padded = np.pad(x, [(0, 0), (0, S - 17), (0, S - 23), (0, 0)], mode="symmetric")
    expected = data.from_range(gen(padded.astype(np.float32) / 255.0)[:, :17, :23], (0, 1)).numpy()
    assert_close_uint8(served(serve, x), expected)


def test_large_photos_follow_the_official_demo(gen, serve):
    # Official demo (LPGAN/TF.py): PIL ANTIALIAS to long side S, np.pad symmetric to S x S for the global
    # feature; the full photo (reflect-padded) through the local path; here padded to 16 only.
    x = rand_uint8(200, 130, seed=4)
    small = np.array(Image.fromarray(x[0]).resize((round(130 * S / 200), S), Image.LANCZOS))
    small = np.pad(small, [(0, 0), (0, S - small.shape[1]), (0, 0)], mode="symmetric")
    features = networks.global_feature(gen, small[None].astype(np.float32) / 255.0)
    full = np.pad(x, [(0, 0), (0, 8), (0, 14), (0, 0)], mode="symmetric").astype(np.float32) / 255.0
    expected = networks.enhance_with_global(gen, full, features=features)[:, :200, :130]
    # PIL's and TF's Lanczos differ by at most one level in the downsized copy.
    assert_close_uint8(served(serve, x), data.from_range(expected, (0, 1)).numpy(), levels=2)


def test_tiled_saved_model_equals_untiled_enhance(gen, serve):
    x = rand_uint8(200, 130, seed=5)  # padded 208 > 176: 7 tiles down, one across
    untiled = serving.enhance(gen, tf.constant(x), tile=None)
    assert_close_uint8(served(serve, x), data.from_range(untiled, (0, 1)).numpy())


def test_zeroed_last_conv_returns_the_input_exactly(identity_exported):
    serve = tf.saved_model.load(identity_exported).signatures["serving_default"]
    for k, (h, w) in enumerate(SIZES + [(1300, 20)]):  # 1300: two tiles of the default 1024
        x = rand_uint8(h, w, seed=10 + k)
        np.testing.assert_array_equal(served(serve, x), x)


def test_saved_model_runs_without_this_package(exported, gen, tmp_path):
    small, large = rand_uint8(30, 20, seed=6), rand_uint8(90, 190, seed=7)
    outputs = serve_in_fresh_process(exported, {"small": small, "large": large}, tmp_path,
                                     ("common", "dpe_tf"))
    for name, x in (("small", small), ("large", large)):
        expected = serving.enhance_uint8(gen, x, tile=TILE).numpy()
        assert_close_uint8(outputs[name], expected)


# --- python -m dpe_tf.enhance ----------------------------------------------------------------------


def test_enhance_writes_same_size_outputs_and_names_bad_files(exported, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    images.write_image(inputs / "thumb.png", rand_uint8(20, 30)[0])
    images.write_image(inputs / "photo.jpg", rand_uint8(150, 90, seed=1)[0])
    images.write_image(inputs / "gray.png", rand_uint8(40, 70, seed=2)[0, :, :, 0])
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}

    result = run("dpe_tf.enhance", f"--model={exported}", f"--input={inputs}", f"--output={tmp_path / 'out'}",
                 check=False)
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gray.png", "photo.png", "thumb.png"]
    for name, shape in [("thumb", (20, 30, 3)), ("photo", (150, 90, 3)), ("gray", (40, 70, 3))]:
        assert images.read_image(tmp_path / "out" / f"{name}.png").shape == shape
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before

    missing = run("dpe_tf.enhance", f"--model={tmp_path}", f"--input={inputs}", f"--output={tmp_path / 'o2'}",
                  check=False)
    assert missing.returncode == 2 and "no SavedModel" in missing.stderr
    no_output = run("dpe_tf.enhance", f"--model={exported}", f"--input={inputs}", check=False)
    assert no_output.returncode == 2 and "--output is required" in no_output.stderr


# --- python -m dpe_tf.evaluate ---------------------------------------------------------------------


def table(stdout, columns=3):
    """{name: (psnr, ssim, delta_e[, lpips])} from the printed table."""
    rows = {}
    lines = stdout.strip().splitlines()
    assert lines[-1] == "DPE paper (supervised, FiveK Expert C): PSNR 23.80 dB, SSIM 0.900"
    for line in lines[1:-1]:
        words = line.split()
        rows[" ".join(words[:-columns])] = tuple(float(v) for v in words[-columns:])
    return rows


@pytest.fixture(scope="module")
def eval_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    (root / "input").mkdir()
    (root / "target").mkdir()
    offsets = {"a": 3, "b": 10, "c": 25}
    pairs = {}
    for k, (name, d) in enumerate(offsets.items()):
        x = rand_uint8(40 + 10 * k, 70 - 7 * k, seed=20 + k, high=256 - d)[0]
        images.write_image(root / "input" / f"{name}.png", x)
        images.write_image(root / "target" / f"{name}.png", x + np.uint8(d))
        pairs[name] = (x, x + np.uint8(d), d)
    images.write_image(root / "input" / "wrong_size.png", rand_uint8(30, 30)[0])
    images.write_image(root / "target" / "wrong_size.tif", rand_uint8(30, 31)[0])
    images.write_image(root / "input" / "lonely.png", rand_uint8(30, 30)[0])
    images.write_image(root / "target" / "extra.png", rand_uint8(30, 30)[0])
    (root / "input" / "broken.png").write_bytes(b"\x89PNG not really")
    images.write_image(root / "target" / "broken.png", rand_uint8(30, 30)[0])
    return root, pairs


def test_evaluate_scores_exactly_and_names_every_failure(identity_exported, eval_folders):
    root, pairs = eval_folders
    args = [f"--input={root / 'input'}", f"--target={root / 'target'}"]
    with_model = run("dpe_tf.evaluate", f"--model={identity_exported}", *args, check=False)
    baseline = run("dpe_tf.evaluate", *args, check=False)
    for result in (with_model, baseline):
        assert result.returncode == 1, result.stderr
        assert "wrong_size.png" in result.stderr
        assert "is 30x30" in result.stderr and "is 31x30" in result.stderr  # W x H of input and target
        assert "lonely.png: no target" in result.stderr
        assert "broken.png" in result.stderr and "cannot read image" in result.stderr
        assert "extra.png" in result.stderr  # a target without an input: a note
        assert "3 of 6 inputs failed" in result.stderr
        assert ("note: LPIPS left out: give --metric_weights=DIR with lpips/alex.pth and "
                "alexnet-owt-7be5be79.pth in it") in result.stderr
    rows = table(with_model.stdout)
    assert rows == table(baseline.stdout)  # the identity generator changes nothing
    assert set(rows) == {"a.png", "b.png", "c.png", "mean (3 images)"}

    for name, (x, y, d) in pairs.items():
        p, s, e = rows[f"{name}.png"]
        assert p == pytest.approx(20 * np.log10(255 / d), abs=1e-3)
        expected_ssim = structural_similarity(x / 255.0, y / 255.0, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=1.0, channel_axis=-1)
        assert s == pytest.approx(expected_ssim, abs=2e-4)
        # skimage's sRGB matrix is rounded slightly differently (see tests/test_metrics.py).
        assert e == pytest.approx(deltaE_cie76(rgb2lab(x / 255.0), rgb2lab(y / 255.0)).mean(), abs=0.02)
    mean = rows["mean (3 images)"]
    assert mean[0] == pytest.approx(np.mean([20 * np.log10(255 / d) for *_, d in pairs.values()]), abs=1e-3)
    assert mean[1] == pytest.approx(np.mean([rows[f"{n}.png"][1] for n in pairs]), abs=1e-4)


def test_evaluate_bad_arguments_exit_2(eval_folders, tmp_path):
    root, _ = eval_folders
    no_target = run("dpe_tf.evaluate", f"--input={root / 'input'}", check=False)
    assert no_target.returncode == 2 and "--target is required" in no_target.stderr
    no_model = run("dpe_tf.evaluate", f"--model={tmp_path}", f"--input={root / 'input'}",
                   f"--target={root / 'target'}", check=False)
    assert no_model.returncode == 2 and "no SavedModel" in no_model.stderr


def test_evaluate_adds_lpips_from_the_metric_weights_folder(eval_folders, tmp_path):
    from test_lpips import _state  # the lpips package's heads and a seeded AlexNet (tests/fixtures/lpips.npz)
    from common import lpips, porting
    from pth_writer import save_state_dict

    state = _state("alex")
    (tmp_path / "weights" / "lpips").mkdir(parents=True)
    save_state_dict(tmp_path / "weights" / "lpips" / "alex.pth", {k: v for k, v in state.items() if k.startswith("lin")})
    save_state_dict(tmp_path / "weights" / "alexnet-owt-7be5be79.pth",
                    {k: v for k, v in state.items() if not k.startswith("lin")})
    root, pairs = eval_folders
    result = run("dpe_tf.evaluate", f"--input={root / 'input'}", f"--target={root / 'target'}",
                 f"--metric_weights={tmp_path / 'weights'}", check=False)
    assert result.returncode == 1 and "LPIPS" in result.stdout.splitlines()[0] and "LPIPS left out" not in result.stderr
    rows = table(result.stdout, columns=4)
    metric = porting.ported(lpips.LPIPS("alex"), lambda m, p: m.port(p), state)
    for name, (x, y, _) in pairs.items():
        expected = metric(x[None] / 255.0, y[None] / 255.0)[0]
        assert rows[f"{name}.png"][3] == pytest.approx(expected, abs=1e-4) and expected > 0
    weights = tmp_path / "weights"
    # Heads of the other backbone under alex.pth: the tool's one `error:` line and exit 2 come from
    # cli.bad_arguments_exit_2 (tested with the other evaluate tools); here, the refusal itself.
    save_state_dict(weights / "lpips" / "alex.pth", {f"lin{k}.model.1.weight": np.zeros((1, c, 1, 1))
                                                     for k, c in enumerate((64, 128, 256, 512, 512))})
    from common import metric_weights
    with pytest.raises(ValueError, match=r"'lin1.model.1.weight' has shape \(1, 128, 1, 1\)"):
        metric_weights.lpips_or_note(str(weights), "alex")
