"""SavedModel export: any-size uint8 serving that matches the Keras model, loaded with TF alone;
metadata that tools check; folders replaced whole or not at all; every tool's --help."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from clitools import run, serve_in_fresh_process
from common import data, export
from pix2pix_tf import Pix2Pix, serving


def test_mirror_padding_reflects_and_allows_large_pads():
    x = tf.reshape(tf.range(3), [1, 1, 3, 1])
    padded = export.pad_to_multiple(x, 8)[0, 0, :, 0].numpy().tolist()
    assert padded == [0, 1, 2, 2, 1, 0, 0, 1]  # longer pad than the image: mirrored again
    assert export.pad_to_multiple(tf.zeros([2, 32, 64, 3]), 32).shape == (2, 32, 64, 3)
    assert export.pad_to_multiple(tf.zeros([1, 33, 5, 3]), 32).shape == (1, 64, 32, 3)


def test_saved_model_serves_any_size_like_keras(tmp_path):
    model = Pix2Pix(generator="unet_32", ngf=4, ndf=4)
    path = serving.export_translator(model.generator, str(tmp_path / "saved_model"), value_range=(-1, 1),
                                     multiple=32, metadata=export.describe("Pix2Pix"))
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    odd = rng.integers(0, 256, (1, 45, 37, 3), dtype=np.uint8)
    outputs = serve_in_fresh_process(path, {"square": square, "odd": odd}, tmp_path,
                                     ("common", "pix2pix_tf"))
    served = outputs["square"]
    assert served.dtype == np.uint8 and served.shape == square.shape
    keras_out = data.from_range(model.predict(data.to_range(square, (-1, 1)), verbose=0), (-1, 1))
    np.testing.assert_array_equal(served, keras_out.numpy())

    # The run folder stands for the SavedModel in it.
    assert export.load(str(tmp_path), "Pix2Pix")[1] == export.load(path, "Pix2Pix")[1]
    served_odd = outputs["odd"]
    assert served_odd.shape == odd.shape
    expected = export.translate_uint8(model.generator, odd, value_range=(-1, 1), multiple=32)
    np.testing.assert_array_equal(served_odd, expected.numpy())


def _write_files(names):
    def write(folder):
        os.makedirs(folder)
        for name in names:
            (pathlib.Path(folder) / name).write_text(name)
    return write


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "saved_model"
    export.replace_folder(str(target), _write_files(["old"]))

    def killed(folder):
        _write_files(["half"])(folder)
        raise KeyboardInterrupt  # stands for a kill in the middle of writing
    with pytest.raises(KeyboardInterrupt):
        export.replace_folder(str(target), killed)
    assert os.listdir(target) == ["old"] and os.listdir(tmp_path) == ["saved_model"]

    os.makedirs(tmp_path / ".saved_model.dead.partial")  # what a SIGKILL would leave
    export.replace_folder(str(target), _write_files(["new"]))
    assert os.listdir(target) == ["new"] and os.listdir(tmp_path) == ["saved_model"]


def test_an_export_without_metadata_is_refused(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda: tf.constant(1), input_signature=[])
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.f})
    with pytest.raises(ValueError, match="has no gan-zoo-tf metadata"):
        export.load(str(tmp_path), "Pix2Pix")


@pytest.mark.parametrize("tool, own_flags", [
    ("pix2pix_tf.translate", ["model", "input", "output"]),
    ("dpe_tf.enhance", ["model", "input", "output"]),
    ("gpen_tf.restore", ["model", "input", "output", "aligned", "save_faces", "compare",
                         "min_face"]),
    ("pienet_tf.enhance", ["model", "input", "output", "preferred", "style"]),
    ("dcgan_tf.sample", ["model", "num", "output"]),
    ("dpe_tf.evaluate", ["model", "input", "target"]),
    ("pienet_tf.evaluate", ["model", "data"]),
    ("gpen_tf.degrade", ["input", "output", "clean_output"]),
    ("pix2pix_tf.convert", ["checkpoint", "discriminator", "key", "output", "inference"]),
    ("gpen_tf.convert", ["checkpoint", "discriminator", "key", "output", "value_range"])])
def test_help_lists_the_tools_own_flags_and_exits_0(tool, own_flags):
    result = run(tool, "--help", check=False)
    assert result.returncode == 0
    assert all(f"  --{flag}:" in result.stdout or f"  --[no]{flag}:" in result.stdout
               for flag in own_flags), result.stdout
