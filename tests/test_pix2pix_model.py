"""Pix2Pix as a Keras model: paper defaults, learning, XLA, mixed precision, saving (distribution:
test_distribute.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf import Pix2Pix

TINY = dict(generator="unet_32", ngf=4, ndf=4)


def _pairs(n=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return a, np.tanh(2 * a[..., ::-1])  # B: a fixed, learnable function of A


def _dataset(batch=2, **kw):
    return tf.data.Dataset.from_tensor_slices(_pairs(**kw)).batch(batch)


def test_defaults_are_the_papers():
    model = Pix2Pix()
    trainable = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_weights)
    assert trainable(model.generator) == 54_413_955
    assert trainable(model.discriminator) == 2_768_705
    assert model.generator.input_shape == (None, None, None, 3)
    assert model.options["lambda_l1"] == 100.0 and model.options["gan_mode"] == "vanilla"
    model.compile()
    for opt in (model.g_optimizer, model.d_optimizer):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(2e-4)
        assert opt.beta_1 == 0.5 and opt.beta_2 == 0.999


def test_overfits_one_batch():
    model = Pix2Pix(**TINY)
    model.compile(learning_rate=2e-3)
    ds = _dataset(batch=4)
    before = model.evaluate(ds, return_dict=True, verbose=0)
    model.fit(ds.repeat(), steps_per_epoch=150, epochs=1, verbose=0)
    after = model.evaluate(ds, return_dict=True, verbose=0)
    assert after["l1"] < 0.75 * before["l1"]
    assert after["ssim"] > before["ssim"] + 0.3


def test_both_networks_are_updated_each_step():
    model = Pix2Pix(**TINY)
    model.compile()
    g0 = [w.numpy() for w in model.generator.trainable_weights]
    d0 = [w.numpy() for w in model.discriminator.trainable_weights]
    logs = model.fit(_dataset(), epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_gan", "g_l1"}
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 2
    assert all(not np.array_equal(a, b.numpy()) for a, b in zip(g0, model.generator.trainable_weights))
    assert all(not np.array_equal(a, b.numpy())
               for a, b in zip(d0, model.discriminator.trainable_weights))


def test_jit_compiled_step():
    # wgangp: its double-backward gradient penalty is the hardest step to compile; the other modes
    # differ from it in the loss only.
    model = Pix2Pix(gan_mode="wgangp", **TINY)
    model.compile(jit_compile=True)
    logs = model.fit(_dataset(), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step(policy):
    keras.mixed_precision.set_global_policy(policy)
    model = Pix2Pix(**TINY)
    model.compile()
    wrapped = isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert wrapped == (policy == "mixed_float16")
    assert model.generator.get_layer("down2_conv").compute_dtype == policy.split("_")[1]
    logs = model.fit(_dataset(), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert model(_pairs()[0]).dtype == tf.float32
    assert model.discriminator(np.zeros((1, 32, 32, 6), "float32")).dtype == tf.float32
    assert all(w.dtype == "float32" for w in model.generator.trainable_weights)


def test_weights_and_keras_round_trips(tmp_path):
    model = Pix2Pix(**TINY)
    model.compile()
    model.fit(_dataset(), epochs=1, verbose=0)
    a = _pairs()[0]
    expected = model.predict(a, verbose=0)

    model.save_weights(tmp_path / "m.weights.h5")
    restored = Pix2Pix(**TINY)
    restored.compile()
    restored.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(restored.predict(a, verbose=0), expected)
    assert int(restored.g_optimizer.iterations) == 2  # optimizer state came back too

    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, Pix2Pix) and loaded.options == model.options
    np.testing.assert_array_equal(loaded.predict(a, verbose=0), expected)
    np.testing.assert_array_equal(loaded.g_optimizer.variables[-1].numpy(),
                                  model.g_optimizer.variables[-1].numpy())


def test_sample_rows_are_input_output_target():
    model = Pix2Pix(**TINY)
    a, b = _pairs(n=2)
    rows = model.sample_rows((a, b))
    assert len(rows) == 2 and all(len(r) == 3 for r in rows)
    assert rows[0][0].dtype == np.uint8 and rows[0][0].shape == (32, 32, 3)
    np.testing.assert_array_equal(rows[1][2], np.round((b[1] + 1) * 127.5).astype(np.uint8))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="gan_mode"):
        Pix2Pix(gan_mode="hinge", **TINY)
    with pytest.raises(ValueError, match="normalization"):
        Pix2Pix(norm="layer", **TINY)


def test_train_on_batch_and_evaluate_on_arrays():
    model = Pix2Pix(**TINY)
    model.compile()
    a, b = _pairs()
    logs = model.train_on_batch(a, b, return_dict=True)  # keras passes (x, y, sample_weight)
    assert set(logs) == {"d_loss", "g_gan", "g_l1"} and all(np.isfinite(list(logs.values())))
    assert int(model.g_optimizer.iterations) == 1
    assert set(model.evaluate(a, b, return_dict=True, verbose=0)) == {"l1", "psnr", "ssim"}
