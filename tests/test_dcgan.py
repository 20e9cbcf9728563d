"""DCGAN: the paper's networks, learning in both players, XLA and mixed precision, saving, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import data, export
from dcgan_tf import DCGAN, options
from dcgan_tf.model import export_sampler, latents
from dcgan_tf.sample import walk

TINY = dict(image_size=8, ngf=4, ndf=4, latent_dim=6)


def trainable(network):
    return sum(int(np.prod(v.shape)) for v in network.trainable_weights)


def test_defaults_are_the_papers():
    model = DCGAN()
    assert trainable(model.generator) == 3_576_704
    assert trainable(model.discriminator) == 2_765_568
    assert model.generator.input_shape == (None, 100)
    assert model.generator.output_shape == (None, 64, 64, 3)
    model.compile()
    for opt in (model.g_optimizer, model.d_optimizer):
        assert float(opt.learning_rate) == pytest.approx(2e-4) and opt.beta_1 == 0.5


def test_layer_order_follows_pytorch_examples():
    kinds = lambda net: [type(layer).__name__ for layer in net.layers[1:]]
    g = ["Reshape"] + ["Conv2DTranspose", "BatchNormalization", "ReLU"] * 4 + ["Conv2DTranspose",
                                                                               "Activation"]
    d = (["Conv2D", "LeakyReLU"] + ["Conv2D", "BatchNormalization", "LeakyReLU"] * 3
         + ["Conv2D", "Flatten"])
    model = DCGAN()
    assert kinds(model.generator) == g and kinds(model.discriminator) == d
    widths = [layer.filters for layer in model.generator.layers if hasattr(layer, "filters")]
    assert widths == [512, 256, 128, 64, 3]
    assert not any(getattr(layer, "use_bias", False) for layer in model.generator.layers
                   + model.discriminator.layers)
    stddev = np.std(model.generator.get_layer("block1_convT").kernel.numpy())
    assert stddev == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("size, channels, g_count, d_count", [
    # Counted by hand: 32x32 drops the 512 block, 128x128 adds a 1024 one; MNIST has one channel.
    (32, 1, 100 * 256 * 16 + 256 * 128 * 16 + 128 * 64 * 16 + 64 * 16 + 2 * (256 + 128 + 64),
     16 * 64 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 16 + 2 * (128 + 256)),
    (128, 3, 100 * 1024 * 16 + (1024 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 3) * 16
     + 2 * (1024 + 512 + 256 + 128 + 64),
     (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1024 + 1024) * 16
     + 2 * (128 + 256 + 512 + 1024)),
])
def test_other_sizes_add_or_remove_blocks(size, channels, g_count, d_count):
    model = DCGAN(image_size=size, channels=channels)
    assert model.generator.output_shape == (None, size, size, channels)
    assert trainable(model.generator) == g_count and trainable(model.discriminator) == d_count


def test_image_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        options.num_blocks(48)


def _reals(n=16, size=8, seed=0, channels=3):
    """Smooth colour blobs in [-1, 1]."""
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2, 2, channels)).astype("float32")
    return tf.image.resize(x, (size, size)).numpy()


def _fit(model, steps, **compile_kwargs):
    model.compile(**compile_kwargs)
    ds = tf.data.Dataset.from_tensors(_reals(channels=model.options["channels"])).repeat()
    return model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0).history


def test_each_player_learns_against_the_other_held_fixed():
    keras.utils.set_random_seed(0)
    model = DCGAN(**TINY)
    frozen = lambda: keras.optimizers.SGD(0.0)  # noqa: E731
    # D alone: it learns to tell the reals from the fixed generator's samples.
    d_first = _fit(model, 1, g_optimizer=frozen())["d_loss"][0]
    d_last = _fit(model, 60, g_optimizer=frozen(), d_optimizer=keras.optimizers.Adam(1e-2))
    assert d_last["d_loss"][0] < 0.5 * d_first
    assert d_last["d_real"][0] > d_last["d_fake"][0] + 0.3  # epoch means of D(x) and D(G(z))
    # Then G alone: it learns to fool that discriminator.
    g_first = _fit(model, 1, d_optimizer=frozen())["g_loss"][0]
    g_last = _fit(model, 60, d_optimizer=frozen(), g_optimizer=keras.optimizers.Adam(1e-2))
    assert g_last["g_loss"][0] < 0.5 * g_first


def test_evaluate_reports_swd_also_under_xla():
    keras.utils.set_random_seed(0)
    model = DCGAN(image_size=16, ngf=4, ndf=4, latent_dim=6)
    reals = tf.data.Dataset.from_tensors(tf.image.resize(_reals(size=8), (16, 16)))
    for jit in (False, True):
        model.compile(jit_compile=jit)
        result = model.evaluate(reals, return_dict=True, verbose=0)
        assert set(result) == {"swd"} and 0.0 < result["swd"] < 1e4


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step(policy):
    keras.mixed_precision.set_global_policy(policy)
    model = DCGAN(**TINY)
    logs = _fit(model, 2)
    assert all(np.isfinite(v[0]) for v in logs.values())
    assert model(latents(2, 6)).dtype == "float32"
    if policy == "mixed_float16":
        assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)


def test_keras_round_trip_keeps_outputs_and_optimizer_state(tmp_path):
    model = DCGAN(**TINY, channels=1)
    _fit(model, 2)
    path = str(tmp_path / "dcgan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    z = latents(3, 6)
    np.testing.assert_array_equal(model(z).numpy(), loaded(z).numpy())
    assert loaded.options == model.options
    assert int(loaded.g_optimizer.iterations) == int(model.g_optimizer.iterations) == 2


@pytest.mark.parametrize("channels", [3, 1])
def test_saved_model_maps_latents_to_uint8_images(tmp_path, channels):
    model = DCGAN(**TINY, channels=channels)
    export_sampler(model.generator, str(tmp_path / "sm"), metadata=export.describe("DCGAN"))
    serve = export.load(str(tmp_path / "sm"), "DCGAN")[0].signatures["serving_default"]
    z = latents(5, 6, seed=3)
    out = serve(latents=tf.constant(z))["images"]
    assert out.dtype == tf.uint8 and out.shape == (5, 8, 8, channels)
    np.testing.assert_array_equal(out.numpy(), data.from_range(model(z), (-1, 1)).numpy())
    with pytest.raises(ValueError, match="is a DCGAN model, not a Pix2Pix one"):
        export.load(str(tmp_path / "sm"), "Pix2Pix")


def test_latents_depend_on_the_seed_only():
    np.testing.assert_array_equal(latents(4, 100, seed=7), latents(4, 100, seed=7))
    np.testing.assert_array_equal(latents(4, 100, seed=7)[:2], latents(2, 100, seed=7))
    assert not np.array_equal(latents(4, 100, seed=7), latents(4, 100, seed=8))


@pytest.mark.parametrize("slerp", [False, True])
def test_walk_goes_from_start_to_end(slerp):
    start, end = latents(2, 50, seed=1)
    path = walk(start, end, 5, slerp)
    np.testing.assert_allclose(path[0], start, atol=1e-5)
    np.testing.assert_allclose(path[-1], end, atol=1e-5)
    if not slerp:
        np.testing.assert_allclose(path[2], (start + end) / 2, atol=1e-5)
    else:  # the great circle keeps the norm between equal-norm ends
        unit = walk(start / np.linalg.norm(start), end / np.linalg.norm(end), 5, True)
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
