"""Runtime choices from flags, and the checkpoint callback's guards."""

import json

import keras
import numpy as np
import pytest

from common import callbacks, runtime
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
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1


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
