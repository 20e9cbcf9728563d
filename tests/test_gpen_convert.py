"""Converting the released GPEN checkpoints: key by key, and the official outputs reproduced.

The fixtures (tools/make_torch_fixtures.py, networks in tools/torch_gpen.py) are a 64 px FullGenerator
(narrow 1/32, channel multiplier 1, a 16-wide style of 2 mapping layers) and its Discriminator in the
official key layout, every parameter random, and what PyTorch computed from them on two faces.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from clitools import run, run_without_tensorflow
from common import export, pth
from common.porting import Porting, PortingError
from gpen_tf import GPEN, checkpoints, official

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
G, D = os.path.join(FIXTURES, "gpen_G.pth"), os.path.join(FIXTURES, "gpen_D.pth")
TRAIN = os.path.join(FIXTURES, "gpen_train.pth")  # {"g", "d", "g_ema", "g_optim", "d_optim"}


@pytest.fixture(scope="module")
def expected():
    f = np.load(os.path.join(FIXTURES, "gpen.npz"))
    return dict(f, x=(f["image"].astype(np.float32) / 255 - 0.5) / 0.5)  # the official input


@pytest.fixture(scope="module")
def converted():
    return official.convert(G, D)


def test_the_architecture_is_read_from_the_shapes(converted):
    o = converted.options
    assert (o["size"], o["channel_multiplier"], o["narrow"], o["style_dim"], o["n_mlp"]) == (
        64, 1, 1 / 32, 16, 2)


def test_both_networks_give_the_official_outputs(converted, expected):
    assert np.abs(expected["y"]).mean() > 0.1  # an output far from constant
    np.testing.assert_allclose(converted.generator(expected["x"], training=False), expected["y"],
                               atol=1e-4)
    # Two faces: the minibatch deviation of the whole batch enters the logits.
    np.testing.assert_allclose(converted.discriminator(expected["x"], training=False),
                               expected["logits"], atol=1e-5)


def test_a_state_dict_that_does_not_fit_names_its_keys():
    state = pth.load_state_dict(G)
    state["generator.convs.0.conv.weight"] = state["generator.convs.0.conv.weight"][:, :, :5]
    state["ecd1.0.0.kernel"] = state["ecd1.0.0.kernel"] * 2  # another blur
    del state["generator.to_rgbs.1.bias"]
    model = GPEN(size=64, channel_multiplier=1, narrow=1 / 32, style_dim=16, n_mlp=2)
    before = [w.numpy() for w in model.generator.weights]
    port = Porting(state, "G.pth")
    official.port_generator(port, model.generator, 64)
    with pytest.raises(PortingError) as caught:
        port.finish()
    message = str(caught.value)
    assert "'generator.convs.0.conv.weight' has shape (1, 16, 5, 3, 3), the model needs (16, 32, 3, 3)" \
        in message
    assert "'ecd1.0.0.kernel' differs from the fixed values of the model" in message
    assert "missing key 'generator.to_rgbs.1.bias'" in message
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.generator.weights))
    # A super-resolving generator (fewer encoder levels than decoder levels) is named as such.
    del state["ecd4.0.1.weight"]
    with pytest.raises(pth.CheckpointError, match="restores 32 px faces into 64 px ones"):
        checkpoints.generator_config(state, "SR.pth")
    with pytest.raises(pth.CheckpointError, match="is not a GPEN discriminator"):
        official.convert(G, G)


def test_the_tool_writes_a_model_that_restores_as_the_official_one(tmp_path, expected):
    out = tmp_path / "bfr"
    result = run("gpen_tf.convert", f"--checkpoint={G}", f"--discriminator={D}", f"--output={out}")
    assert "64 px, channel multiplier 1, narrow 0.03125" in result.stdout
    assert sorted(os.listdir(out)) == ["config.json", "gpen.weights.h5", "saved_model"]
    loaded, metadata = export.load(str(out / "saved_model"), "GPEN")
    assert metadata["config"]["size"] == 64 and metadata["value_range"] == [-1.0, 1.0]
    # Official pixels (FaceGAN.tensor2img): clip(y * 0.5 + 0.5, 0, 1) * 255, truncated to uint8, as ours.
    official_uint8 = (np.clip(expected["y"] * 0.5 + 0.5, 0, 1) * 255).astype(np.uint8)
    served = loaded.signatures["serving_default"](images=tf.constant(expected["image"]))["images"].numpy()
    assert np.abs(served.astype(int) - official_uint8).max() <= 1 and (served == official_uint8).mean() > 0.99
    model = GPEN(**json.loads((out / "config.json").read_text()))
    model.load_weights(out / "gpen.weights.h5")
    np.testing.assert_allclose(model.generator(expected["x"], training=False), expected["y"], atol=1e-4)


def test_a_model_trained_on_unit_values_is_served_in_them(converted, expected, tmp_path):
    official.write(converted, tmp_path / "seg2face", value_range=(0.0, 1.0))
    loaded, metadata = export.load(str(tmp_path / "seg2face" / "saved_model"), "GPEN")
    assert metadata["value_range"] == [0.0, 1.0]
    image = expected["image"][:1]
    served = loaded.signatures["serving_default"](images=tf.constant(image))["images"].numpy()
    y = converted.generator(image.astype(np.float32) / 255, training=False).numpy()
    unit = (np.clip(y, 0, 1) * 255).astype(np.uint8)  # truncated, as the official tensor2img
    assert np.abs(served.astype(int) - unit).max() <= 1 and (served == unit).mean() > 0.99


def test_a_training_checkpoint_gives_both_networks(converted, expected):
    model = official.convert(TRAIN, TRAIN)  # g_ema, and the discriminator under d
    for a, b in zip(converted.generator.weights + converted.discriminator.weights,
                    model.generator.weights + model.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(pth.CheckpointError, match=r"gpen_train.pth has no entry 'disc'; it holds: "
                                                  r"\['d', 'd_optim', 'g', 'g_ema', 'g_optim'\]"):
        checkpoints.read(TRAIN, TRAIN, discriminator_key="disc")


def test_a_wrong_file_is_named_before_tensorflow_loads(tmp_path):
    wrong = run_without_tensorflow("gpen_tf.convert", f"--checkpoint={G}", f"--discriminator={G}",
                                   f"--output={tmp_path / 'out'}")
    assert wrong.returncode == 1 and wrong.stderr.strip().splitlines() == [
        f"error: {G} is not a GPEN discriminator: no 'convs.0.0.weight' and 'final_conv.0.weight'"]
    assert not (tmp_path / "out").exists()
