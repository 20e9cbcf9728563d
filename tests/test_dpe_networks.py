"""The Deep Photo Enhancer networks against the official TF code: counts, wiring, padding, iBN, precision."""

import keras
import numpy as np
import pytest

from dpe_tf import networks

SMALL = 64  # the smallest size the global path allows: 1/64 map of 1x1


def count(weights):
    return sum(int(np.prod(v.shape)) for v in weights)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


def test_official_parameter_counts():
    # Worked out by hand from the official DATA.py / CONVNET.py in dpe_tf/NOTES.md.
    g = networks.generator()
    assert count(g.trainable_weights) == 3_335_395
    encoder, global_path, decoder = networks.parts(g)
    assert [count(m.trainable_weights) for m in (encoder, global_path, decoder)] == [
        679_936, 1_885_184, 770_275]
    assert count(g.non_trainable_weights) == 2_720  # BN moving mean and variance
    assert count(networks.discriminator().trainable_weights) == 1_122_689
    # The official 2-way generator scope holds both BN sets: 3,335,395 + 2,720 trainable variables.
    main, cycle = networks.generator_pair()
    unique = {id(v): v for m in (main, cycle) for v in m.trainable_weights}
    assert count(main.trainable_weights) == 3_335_395
    assert count(unique.values()) == 3_338_115


def test_wiring_at_training_size():
    g = networks.generator()
    encoder, global_path, decoder = networks.parts(g)
    # The skips are the encoder conv outputs, before SELU/BN (official concat indices 1, 4, 7, 10).
    for k, out in enumerate(encoder.outputs[:4], 1):
        assert out is encoder.get_layer(f"enc{k}_conv").output
    assert encoder.outputs[4] is encoder.get_layer("enc5_bn").output
    assert global_path.get_layer("glob3_conv").kernel_size == (8, 8)  # the official 8x8 VALID at 512
    assert tuple(global_path.output.shape) == (None, 1, 1, 128)
    assert [decoder.get_layer(f"dec{k}_skip").output.shape[-1] for k in (3, 4, 5, 6)] == [
        256, 192, 96, 48]
    assert decoder.get_layer("dec1_global").output.shape[-1] == 256
    assert tuple(g.output.shape) == (None, 512, 512, 3)


def test_official_layers_and_initialisation():
    g = networks.generator()
    encoder = networks.parts(g).encoder
    bn = encoder.get_layer("enc3_bn")
    assert bn.momentum == pytest.approx(0.9) and bn.epsilon == 1e-5
    assert np.all(bn.gamma.numpy() == 1) and np.all(bn.beta.numpy() == 0)
    # contrib variance_scaling_initializer(1e-3): truncated normal with stddev sqrt(1.3e-3 / fan_in)
    # cut at 2 stddev, whose samples have std 0.8796 * sqrt(1.3e-3 / fan_in).
    conv = networks.parts(g).global_path.get_layer("glob3_conv")
    kernel = conv.kernel.numpy()
    expected = 0.87962566 * np.sqrt(1.3e-3 / (8 * 8 * 128))
    assert abs(kernel.std() / expected - 1) < 0.01
    assert np.abs(kernel).max() <= 2 * np.sqrt(1.3e-3 / (8 * 8 * 128)) * (1 + 1e-6)
    assert np.all(conv.bias.numpy() == 0)
    x = np.linspace(-3, 3, 13, dtype="float32")
    selu = networks.SELU()(x).numpy()
    official = 1.0026538655307724 * np.where(x >= 0, x, 1.0198755295894968 * (np.exp(x) - 1))
    np.testing.assert_allclose(selu, official, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape,pad", [((2, 5, 7, 3), 1), ((1, 6, 4, 2), 2), ((1, 2, 2, 1), 2)])
def test_symmetric_padding_is_numpy_symmetric(shape, pad):
    x = rand(*shape)
    y = networks.SymmetricPadding2D(pad)(x).numpy()
    np.testing.assert_array_equal(y, np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)], "symmetric"))


def test_symmetric_padding_larger_than_map_is_refused():
    with pytest.raises(ValueError, match="too small"):
        networks.SymmetricPadding2D(2)(rand(1, 1, 4, 3))


def test_small_generator_shape_and_residual():
    g = networks.generator(SMALL)
    x = rand(2, SMALL, SMALL, 3)
    assert g(x).shape == x.shape
    last = networks.parts(g).decoder.get_layer("dec8_conv")
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    last.bias.assign(np.zeros(last.bias.shape, "float32"))
    for training in (False, True):
        np.testing.assert_array_equal(g(x, training=training).numpy(), x)


def test_global_feature_from_a_training_size_copy():
    g = networks.generator(SMALL)
    x = rand(2, SMALL, SMALL, 3, seed=1)
    plain = g(x, training=False).numpy()
    np.testing.assert_array_equal(networks.enhance_with_global(g, x, x).numpy(), plain)
    features = networks.global_feature(g, x)
    assert features.shape == (2, 1, 1, 128)
    np.testing.assert_array_equal(networks.enhance_with_global(g, x, features=features).numpy(), plain)
    # Full resolution: any H, W divisible by 16, the global feature from a training-size copy.
    big = rand(1, 128, 192, 3, seed=2)
    assert networks.enhance_with_global(g, big, x[:1]).shape == big.shape
    with pytest.raises(ValueError, match="multiples of 16"):
        networks.enhance_with_global(g, rand(1, 72, 64, 3), x[:1])
    with pytest.raises(ValueError, match="exactly one"):
        networks.enhance_with_global(g, big)


def test_ibn_pair_shares_convs_not_batch_norms():
    main, cycle = networks.generator_pair(SMALL)
    assert cycle.name == "generator_cycle"
    assert count(main.trainable_weights) == count(networks.generator(SMALL).trainable_weights)
    assert count(cycle.trainable_weights) == count(main.trainable_weights)
    for part_main, part_cycle in zip(networks.parts(main), networks.parts(cycle)):
        convs = [l for l in part_main.layers if isinstance(l, keras.layers.Conv2D)]
        bns = [l for l in part_main.layers if isinstance(l, keras.layers.BatchNormalization)]
        for conv in convs:
            other = part_cycle.get_layer(conv.name)
            assert other is conv and other.kernel is conv.kernel and other.bias is conv.bias
        for bn in bns:
            other = part_cycle.get_layer(f"{bn.name}_cycle")
            assert other is not bn
            assert not {id(v) for v in bn.weights} & {id(v) for v in other.weights}
    # A training pass of the cycle generator moves its own BN statistics only.
    x = rand(2, SMALL, SMALL, 3, seed=3)
    bn_main = networks.parts(main).encoder.get_layer("enc1_bn")
    bn_cycle = networks.parts(cycle).encoder.get_layer("enc1_bn_cycle")
    cycle(x, training=True)
    assert np.all(bn_main.moving_mean.numpy() == 0)
    assert np.any(bn_cycle.moving_mean.numpy() != 0)


def test_critic_gives_one_score_per_image():
    d = networks.discriminator(SMALL)
    scores = d(rand(3, SMALL, SMALL, 3))
    assert scores.shape == (3,)
    assert d.get_layer("score_conv").kernel_size == (2, 2)  # image_size // 32: the whole 1/32 map
    assert networks.discriminator().get_layer("score_conv").kernel_size == (16, 16)
    norm = d.get_layer("layer1_in")
    assert norm.groups == 16 and norm.center and norm.scale and norm.epsilon == 1e-5  # one per channel
    # Official in_layer: per image and channel, moments over H and W (biased variance), eps 1e-5.
    h = rand(2, 5, 6, 16, seed=4)
    mean, var = h.mean((1, 2), keepdims=True), h.var((1, 2), keepdims=True)
    np.testing.assert_allclose(norm(h).numpy(), (h - mean) / np.sqrt(var + 1e-5), atol=1e-5)
    assert d.get_layer("layer1_lrelu").negative_slope == pytest.approx(0.2)


def test_mixed_bfloat16_returns_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    g, d = networks.generator(SMALL), networks.discriminator(SMALL)
    x = rand(2, SMALL, SMALL, 3)
    assert networks.parts(g).encoder.get_layer("enc1_conv").compute_dtype == "bfloat16"
    assert g(x).dtype == "float32"
    assert networks.enhance_with_global(g, x, x).dtype == "float32"
    assert d(x).dtype == "float32"


def test_keras_round_trip(tmp_path):
    g = networks.generator(SMALL)
    x = rand(1, SMALL, SMALL, 3)
    g.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), g(x).numpy())
    np.testing.assert_array_equal(networks.enhance_with_global(loaded, x, x).numpy(), g(x).numpy())
