"""Converting DPE's TensorFlow 1 checkpoints: every variable into its layer, the official outputs.

The checkpoints are written by tools/dpe_official.py with random values: the authors' demo layout
(exactly the 86 names and shapes of their released 90.000-new.ckpt, tests/fixtures/
dpe_lpgan_variables.txt, in both spellings) and the 2-way training code's (two generators with two BN
sets each, two critics; at 64 px). The same file computes the official networks in plain TensorFlow
ops by the variables' names, walking the official layer lists; the converted Keras networks must
give its outputs (images in BGR there, RGB here).
"""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from clitools import run, run_without_tensorflow
from common import export, images
from common.porting import PortingError
from common.pth import CheckpointError
from dpe_tf import DPE, checkpoints, official

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import dpe_official  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
DEMO = "netG-999_var_scope/netG-999_var_scopeA/netG-999"


def released_names():
    names = {}
    with open(os.path.join(FIXTURES, "dpe_lpgan_variables.txt")) as f:
        for line in f:
            if not line.startswith("#"):
                name, shape = line.split(" ", 1)
                names[name] = json.loads(shape)
    return names


def photo(size):
    """A real photo (the demo cat), RGB uint8, cut to `size` (height, width)."""
    image = images.read_image(os.path.join(os.path.dirname(__file__), "..", "common", "demo_data",
                                           "chelsea_cat.jpg"))
    return image[:size[0], :size[1]]


def official_uint8(values, prefix, rgb, size):
    """The official test of one photo of at most `size` px: BGR, symmetric padding bottom/right to
    size x size, the generator, the crop, safe_casting; back in RGB."""
    h, w = rgb.shape[:2]
    bgr = np.pad(rgb[..., ::-1] / 255.0, [(0, size - h), (0, size - w), (0, 0)], mode="symmetric")
    y = dpe_official.generator(values, prefix, bgr[None])[0, :h, :w]
    return dpe_official.safe_casting(y)[..., ::-1]


def test_the_fixture_has_the_released_names_and_shapes():
    assert dpe_official.names_and_shapes() == released_names()  # 86 variables
    spelled = dpe_official.names_and_shapes(spelling="netG")  # the .meta graph's spelling
    assert sorted(spelled.values()) == sorted(released_names().values())
    keys, unknown = checkpoints.parse(released_names())
    assert not unknown and len(keys) == 86 and checkpoints.layout(keys) == "generator"
    assert checkpoints.image_size(keys, released_names()) == 512


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("lpgan") / "90.000-new.ckpt")
    return prefix, dpe_official.write_checkpoint(prefix, "demo", 512, seed=0)


def test_the_demo_checkpoint_gives_the_official_pixels(demo, tmp_path):
    prefix, values = demo
    out = tmp_path / "dpe"
    result = run("dpe_tf.convert", f"--checkpoint={prefix}", f"--output={out}")
    assert "generator A, 512 px, supervised mode" in result.stdout
    assert sorted(os.listdir(out)) == ["config.json", "dpe.weights.h5", "saved_model"]
    loaded, metadata = export.load(str(out / "saved_model"), "DPE")
    assert metadata["config"]["mode"] == "supervised" and metadata["generator"] == "A"
    serve = loaded.signatures["serving_default"]
    for size in [(255, 384), (200, 90)]:
        rgb = photo(size)
        served = serve(images=tf.constant(rgb[None]))["images"].numpy()[0]
        difference = np.abs(served.astype(int) - official_uint8(values, DEMO, rgb, 512))
        assert difference.max() <= 1 and (difference == 0).mean() > 0.999
    model = DPE(**json.loads((out / "config.json").read_text()))
    model.load_weights(out / "dpe.weights.h5")  # the weights file fine-tunes


def test_both_spellings_put_every_variable_in_its_layer(tmp_path):
    rgb = photo((128, 160))
    for spelling in ("netG-999", "netG"):
        prefix = str(tmp_path / spelling / "model.ckpt")
        values = dpe_official.write_checkpoint(prefix, "demo", 512, seed=1, spelling=spelling)
        model, exported = official.convert(prefix)
        assert exported is model.generator
        x = np.pad(rgb / 255.0, [(0, 384), (0, 352), (0, 0)], mode="symmetric")[None]
        expected = dpe_official.generator(
            values, f"{spelling}_var_scope/{spelling}_var_scopeA/{spelling}", x[..., ::-1])
        np.testing.assert_allclose(model.generator(x.astype(np.float32))[..., ::-1], expected, atol=2e-5)


def test_a_2way_checkpoint_gives_every_network(tmp_path):
    values = dpe_official.random_values(dpe_official.names_and_shapes("2way", 64, "netG"), seed=2)
    keys, unknown = checkpoints.parse(values)
    assert not unknown and len(keys) == 328 and checkpoints.layout(keys) == "2way"
    model, exported = official.build(values, keys)
    assert model.options["mode"] == "2way" and model.options["image_size"] == 64
    assert exported is model.generator
    x = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    bgr = x[..., ::-1]
    g, d = "netG_var_scope/netG_var_scope", "netD_var_scope/netD_var_scope"
    for network, scope, bn_set in [(model.generator, "A", 0), (model.generator_cycle, "A", 1),
                                   (model.inverse_generator, "B", 0),
                                   (model.inverse_generator_cycle, "B", 1)]:
        expected = dpe_official.generator(values, f"{g}{scope}/netG", bgr, bn_set)
        np.testing.assert_allclose(network(x)[..., ::-1], expected, atol=2e-5)
    for critic, scope in [(model.discriminator, "A"), (model.inverse_discriminator, "B")]:
        np.testing.assert_allclose(critic(x), dpe_official.critic(values, f"{d}{scope}/netD", bgr),
                                   rtol=1e-4, atol=1e-5)
    assert official.build(values, keys, generator="B")[1].name == "inverse_generator"


def test_missing_extra_and_misshaped_variables_are_named(demo):
    _, values = demo
    name = f"{DEMO}_3/bn_9_0_mv_var"
    broken = {k: v for k, v in values.items() if k != name}
    broken[f"{DEMO}_2/conv_3_w"] = values[f"{DEMO}_2/conv_3_w"][:3]
    keys, _ = checkpoints.parse(broken)
    with pytest.raises(PortingError) as caught:
        official.build(broken, keys, source="x.ckpt")
    message = str(caught.value)
    assert f"missing key '{name}'" in message
    assert f"'{DEMO}_2/conv_3_w' has shape (3, 5, 128, 128), the model needs (5, 5, 128, 128)" in message
    keys, unknown = checkpoints.parse({**values, "global_step": np.int64(3)})
    assert unknown == ["global_step"]
    # A 2-way checkpoint without critic B: named.
    two_way = dpe_official.random_values(dpe_official.names_and_shapes("2way", 64, "netG"), seed=3)
    two_way = {k: v for k, v in two_way.items() if "netD_var_scopeB" not in k}
    with pytest.raises(PortingError, match="missing key 'netD_var_scope/netD_var_scopeB/netD_1/conv_0_w'"):
        official.build(two_way, checkpoints.parse(two_way)[0])
    with pytest.raises(CheckpointError, match="has no generator B"):
        official.build(values, checkpoints.parse(values)[0], generator="B")


def test_a_prefix_without_a_checkpoint_is_named_before_tensorflow_loads(demo, tmp_path):
    prefix, _ = demo
    for given, message in [(str(tmp_path / "none.ckpt"), f"{tmp_path / 'none.ckpt'} is not a TensorFlow "
                                                          f"checkpoint: there is no {tmp_path / 'none.ckpt'}.index"),
                           (prefix + ".index", f"{prefix}.index: give the checkpoint's prefix, without "
                                               f".index (--checkpoint={prefix})")]:
        result = run_without_tensorflow("dpe_tf.convert", f"--checkpoint={given}",
                                        f"--output={tmp_path / 'out'}")
        assert result.returncode == 1 and result.stderr.strip().splitlines() == [f"error: {message}"]
    (tmp_path / "fake.index").write_bytes(b"not a table")
    result = run_without_tensorflow("dpe_tf.convert", f"--checkpoint={tmp_path / 'fake'}",
                                    f"--output={tmp_path / 'out'}")
    assert result.returncode == 1 and "fake.index is not a TensorFlow checkpoint index" in result.stderr
    assert not (tmp_path / "out").exists()
