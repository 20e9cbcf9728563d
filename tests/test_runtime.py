"""Runtime choices from flags, and the checkpoint callback's guards."""

import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from common import callbacks, run_folder, runtime
from dcgan_tf import DCGAN
from dpe_tf import DPE
from gpen_tf import GPEN
from pienet_tf import PieNet
from pix2pix_tf import Pix2Pix


def test_configure_sets_policy_and_xla():
    rt = runtime.configure("default", "bfloat16", "on", seed=1)
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert rt.jit_compile and rt.device == "cpu" and rt.policy == "mixed_bfloat16"
    assert runtime.configure("default", "off", "off").policy == "float32"


@pytest.mark.parametrize("native, policy", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_on_cpu_follows_native_bfloat16(monkeypatch, native, policy):
    monkeypatch.setattr(runtime, "cpu_has_native_bfloat16", lambda: native)
    rt = runtime.configure("default", "auto", "auto")
    assert rt.policy == policy and rt.jit_compile is runtime.CPU_AUTO_XLA


@pytest.mark.parametrize("bfloat16, expected", [
    (True, {"Pix2Pix": "bfloat16", "DCGAN": "bfloat16", "PieNet": "bfloat16", "DPE": "bfloat16",
            "GPEN": "bfloat16"}),
    (False, {"Pix2Pix": "float16", "DCGAN": "float16", "PieNet": "float16", "DPE": "off",
             "GPEN": "off"}),
])
def test_auto_precision_on_a_gpu_is_chosen_per_model(monkeypatch, bfloat16, expected):
    monkeypatch.setattr(runtime, "gpu_has_bfloat16", lambda: bfloat16)
    chosen = {model.__name__: runtime.auto_precision("gpu", model.GPU_FLOAT16)
              for model in (Pix2Pix, DCGAN, PieNet, DPE, GPEN)}
    assert chosen == expected


@pytest.mark.parametrize("args, message", [
    (("default", "half", "off"), "mixed_precision"),
    (("default", "off", "yes"), "xla"),
    (("gpus", "off", "off"), "strategy"),
])
def test_bad_runtime_values_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        runtime.configure(*args)


def test_seed_makes_weights_reproducible():
    runtime.configure("default", "off", "off", seed=7)
    first = Pix2Pix(generator="unet_32", ngf=4, ndf=4).get_weights()
    runtime.configure("default", "off", "off", seed=7)
    second = Pix2Pix(generator="unet_32", ngf=4, ndf=4).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_checkpoint_keeps_the_last_good_epoch_when_losses_go_nan(tmp_path):
    model = Pix2Pix(generator="unet_32", ngf=4, ndf=4)
    model.compile()
    ckpt = callbacks.Checkpoint(str(tmp_path))
    ckpt.set_model(model)
    ckpt.on_epoch_end(0, {"g_l1": 0.5})
    saved = (tmp_path / "latest.weights.h5").read_bytes()
    ckpt.on_epoch_end(1, {"g_l1": float("nan")})
    assert model.stop_training
    assert (tmp_path / "latest.weights.h5").read_bytes() == saved
    assert run_folder.read_state(str(tmp_path))["epoch"] == 1


def test_checkpoint_of_a_different_architecture_names_the_settings(tmp_path):
    small = Pix2Pix(generator="unet_32", ngf=4, ndf=4)
    small.compile()
    ckpt = callbacks.Checkpoint(str(tmp_path))
    ckpt.set_model(small)
    ckpt.on_epoch_end(0, {})
    wider = Pix2Pix(generator="unet_32", ngf=8, ndf=4)
    wider.compile()
    ckpt.set_model(wider)
    with pytest.raises(ValueError, match="ngf"):
        ckpt.on_train_begin()


def test_the_data_seed_is_the_checkpoints_else_seed_else_drawn(tmp_path):
    strategy = tf.distribute.get_strategy()
    drawn = {callbacks.data_seed_of(str(tmp_path), None, strategy) for _ in range(3)}
    assert len(drawn) > 1  # three draws from 2**30 seeds
    assert callbacks.data_seed_of(str(tmp_path), 5, strategy) == 5
    # A stage's checkpoint (PieNet, GPEN) holds the seed that the whole run goes on with.
    (tmp_path / "prior" / "checkpoints").mkdir(parents=True)
    with h5py.File(tmp_path / "prior" / "checkpoints" / run_folder.WEIGHTS, "w") as f:
        f.attrs["gan_zoo_state"] = json.dumps({"epoch": 1, "data_seed": 123})
    assert callbacks.data_seed_of(str(tmp_path), None, strategy) == 123
    assert callbacks.data_seed_of(str(tmp_path), 5, strategy) == 123
