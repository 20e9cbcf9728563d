"""The GPEN / StyleGAN2 layers and networks against yangxy/GPEN: counts, NumPy references, init, precision.

Every layer is checked against a NumPy computation written here from the official PyTorch code:
upfirdn2d (zero-stuff, pad, flipped FIR, decimate), equalized-lr dense and conv, the fused leaky ReLU,
the modulated convolution (per-sample kernels, demodulated to unit norm) and the minibatch stddev.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gpen_tf import networks
from gpen_tf import stylegan2 as sg

TINY = dict(channel_multiplier=1, narrow=1 / 16)  # 32 channels at every resolution up to 32


def count(weights):
    return sum(int(np.prod(v.shape)) for v in weights)


def rand(*shape, seed=0, low=-1.0):
    return np.random.default_rng(seed).uniform(low, 1, shape).astype("float32")


# -- NumPy references (NHWC, kernels [kh, kw, in, out]) -------------------------------------------


def np_upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    n, h, w, c = x.shape
    stuffed = np.zeros((n, h * up, w * up, c))
    stuffed[:, ::up, ::up] = x
    padded = np.pad(stuffed, ((0, 0), pad, pad, (0, 0)))
    flipped = kernel[::-1, ::-1]
    kh, kw = kernel.shape
    oh, ow = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    out = sum(flipped[i, j] * padded[:, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw))
    return out[:, ::down, ::down]


def np_conv(x, kernel, stride=1, pad=None):
    """Cross-correlation (PyTorch conv2d), zero padding k // 2 unless given."""
    k = kernel.shape[0]
    pad = k // 2 if pad is None else pad
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, kernel.shape[3]))
    for i in range(k):
        for j in range(k):
            patch = x[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += patch @ kernel[i, j]
    return out


def np_conv_transpose(x, kernel):
    """PyTorch conv_transpose2d, stride 2, no padding: out[2y + i, 2x + j] += x[y, x] @ kernel[i, j]."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    out = np.zeros((n, 2 * h + k - 2, 2 * w + k - 2, kernel.shape[3]))
    for i in range(k):
        for j in range(k):
            out[:, i:i + 2 * h:2, j:j + 2 * w:2] += x @ kernel[i, j]
    return out


def np_fused_lrelu(x, bias):
    y = x + bias
    return np.where(y >= 0, y, 0.2 * y) * math.sqrt(2)


def style_of(layer, w):
    """s = modulation(w) of a ModulatedConv2D, from its weights (official EqualLinear, lr_mul 1)."""
    m = layer.modulation
    return w @ (m.kernel.numpy() / math.sqrt(w.shape[1])) + m.bias.numpy()


# -- counts and wiring ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bfr256():
    return networks.generator(256, 1, 0.5), networks.discriminator(256, 1, 0.5)


def test_official_parameter_counts(bfr256):
    # Measured on yangxy/GPEN's FullGenerator / Generator / Discriminator (REFERENCE.md).
    g, d = bfr256
    assert count(g.trainable_weights) == 18_879_010
    assert count(g.get_layer("decoder").trainable_weights) == 14_623_458
    assert count(d.trainable_weights) == 6_002_977
    g = networks.generator(512, 2, 1.0)
    assert count(g.trainable_weights) == 71_005_223
    assert count(g.get_layer("decoder").trainable_weights) == 55_821_735
    assert count(g.get_layer("encoder").trainable_weights) == 71_005_223 - 55_821_735
    del g
    assert count(networks.discriminator(512, 2, 1.0).trainable_weights) == 28_982_849


def test_official_initialisation(bfr256):
    g, d = bfr256
    _, _, mapping_net, dec = networks.parts(g)
    mapping = mapping_net.get_layer("mapping_0")
    # Equalized lr with lr_mul 0.01: stored N(0, 1/0.01), used times 0.01 / sqrt(512).
    assert np.std(mapping.kernel.numpy()) == pytest.approx(100.0, rel=0.02)
    assert mapping.scale == pytest.approx(0.01 / math.sqrt(512))
    assert np.std(dec.get_layer("input").constant.numpy()) == pytest.approx(1.0, rel=0.1)
    conv = dec.get_layer("conv_64_up")
    assert np.std(conv.conv.kernel.numpy()) == pytest.approx(1.0, rel=0.02)
    assert conv.conv.scale == pytest.approx(1 / math.sqrt(512 * 9))  # input: 256 + 256 concatenated
    for layer in dec.layers:
        if isinstance(layer, (sg.StyledConv, sg.ToRGB)):
            assert np.all(layer.conv.modulation.bias.numpy() == 1.0)  # modulation bias_init=1
        if isinstance(layer, sg.StyledConv):
            assert layer.noise.weight.numpy().tolist() == [0.0]
            assert not np.any(layer.activate.bias.numpy())
    assert not np.any(dec.get_layer("to_rgb_256").bias.numpy())
    block = d.get_layer("block_256")
    assert block.skip.conv.bias is None and not np.any(block.conv2.act.bias.numpy())


def test_generator_wiring():
    g = networks.generator(32, style_dim=8, n_mlp=2, **TINY)
    enc, dec, _, synth = networks.parts(g)
    shapes = networks.noise_shapes(32, **TINY)
    assert shapes == [(4, 4, 32), (8, 8, 32), (16, 16, 32), (32, 32, 32)]
    assert [tuple(t.shape[1:]) for t in enc.outputs] == [(8,)] + shapes
    # The 4x4 map feeds one styled conv, every other map both convs of its resolution.
    assert [layer.name for layer in synth.layers if isinstance(layer, sg.StyledConv)] == [
        "conv_4", "conv_8_up", "conv_8", "conv_16_up", "conv_16", "conv_32_up", "conv_32"]
    assert networks.num_styles(32) == 8  # the official n_latent, log2(32) * 2 - 2
    x = rand(2, 32, 32, 3)
    np.testing.assert_allclose(g(x), dec(enc(x)), rtol=1e-6, atol=1e-6)
    # With the concatenation weights at their initial 0 the maps cannot matter; once set they do.
    z = rand(2, 8, seed=1)
    maps_a = [rand(2, *s, seed=2) for s in shapes]
    maps_b = [rand(2, *s, seed=3) for s in shapes]
    np.testing.assert_array_equal(dec([z] + maps_a), dec([z] + maps_b))
    for layer in synth.layers:
        if isinstance(layer, sg.StyledConv):
            layer.noise.weight.assign([0.5])
    assert np.abs(dec([z] + maps_a) - dec([z] + maps_b)).max() > 1e-3


def test_discriminator_features_share_its_layers():
    d = networks.discriminator(32, **TINY)
    features = networks.discriminator_features(d)
    x = rand(4, 32, 32, 3)
    *maps, score = features(x)
    assert [m.shape[1:3] for m in maps] == [(32, 32), (16, 16), (8, 8), (4, 4), (4, 4)]
    np.testing.assert_allclose(score, d(x), rtol=1e-6)
    assert count(features.trainable_weights) == count(d.trainable_weights)


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="size must be a power of two"):
        networks.generator(100)
    with pytest.raises(ValueError, match="size must be a power of two"):
        networks.discriminator(4096)


# -- layers against NumPy -------------------------------------------------------------------------


def test_upfirdn2d_matches_numpy():
    x = rand(2, 5, 6, 3)
    kernel = np.outer([1.0, 2.0, 4.0, 3.0], [2.0, 1.0, 0.0, 5.0]).astype("float32")  # not symmetric
    for up, down, pad in ((2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (2, 2)), (2, 2, (1, 2))):
        got = sg.upfirdn2d(x, kernel, up=up, down=down, pad=pad)
        np.testing.assert_allclose(got, np_upfirdn2d(x, kernel, up, down, pad), rtol=1e-5, atol=1e-5)
    # The toRGB skip upsampling: official Upsample, kernel [1,3,3,1] x 4, pad (2, 1), doubles H, W.
    up = sg.Upsample()(x)
    assert up.shape == (2, 10, 12, 3)
    np.testing.assert_allclose(up, np_upfirdn2d(x, sg.make_kernel(sg.BLUR) * 4, 2, 1, (2, 1)),
                               rtol=1e-5, atol=1e-6)


def test_blur_keeps_a_constant_image():
    const = np.full((1, 8, 8, 2), 0.7, "float32")
    np.testing.assert_allclose(sg.make_kernel(sg.BLUR).sum(), 1.0)
    # Away from the zero padding, a constant stays constant through the blur and the 2x upsampling.
    np.testing.assert_allclose(sg.Blur((2, 2))(const)[:, 2:-2, 2:-2], 0.7, rtol=1e-6)
    np.testing.assert_allclose(sg.Upsample()(const)[:, 2:-2, 2:-2], 0.7, rtol=1e-6)
    down = sg.ConvLayer(2, 3, downsample=True)
    down.build(const.shape)
    assert down(const).shape == (1, 4, 4, 2)  # blur pad (2, 2), 3x3 stride 2: 8 -> 4


def test_equalized_dense_and_conv():
    x = rand(3, 4)
    dense = sg.EqualDense(2, lr_mul=0.01, bias_init=0.5)
    dense.build(x.shape)
    assert np.all(dense.bias.numpy() == 0.5)
    kernel = rand(4, 2, seed=1)
    dense.kernel.assign(kernel)
    expected = x @ kernel * 0.01 / 2 + 0.5 * 0.01
    np.testing.assert_allclose(dense(x), expected, rtol=1e-5)
    dense.activation = "fused_lrelu"
    np.testing.assert_allclose(dense(x), np_fused_lrelu(x @ kernel * 0.01 / 2, 0.005), rtol=1e-5)

    images = rand(2, 6, 6, 3, seed=2)
    for strides, padding, pad in ((1, "same", 1), (2, "valid", 0)):
        conv = sg.EqualConv2D(4, 3, strides=strides, padding=padding)
        conv.build(images.shape)
        conv.bias.assign(np.arange(4, dtype="float32"))
        expected = np_conv(images, conv.kernel.numpy() / math.sqrt(3 * 9), strides, pad) + np.arange(4)
        np.testing.assert_allclose(conv(images), expected, rtol=1e-5, atol=1e-5)


def test_fused_leaky_relu_has_gain_sqrt2():
    layer = sg.FusedLeakyReLU()
    layer.build((None, 3))
    layer.bias.assign([0.5, -1.0, 0.0])
    x = np.array([[-2.0, 0.5, 3.0]], "float32")
    np.testing.assert_allclose(layer(x), [[-1.5 * 0.2 * math.sqrt(2), -0.5 * 0.2 * math.sqrt(2),
                                           3.0 * math.sqrt(2)]], rtol=1e-6)


def test_pixel_norm():
    x = rand(3, 5)
    expected = x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(sg.PixelNorm()(x), expected, rtol=1e-5)


def _modulated(layer_kwargs, x, w):
    layer = sg.ModulatedConv2D(**layer_kwargs)
    layer.build((x.shape, w.shape))
    layer.modulation.kernel.assign(rand(*layer.modulation.kernel.shape, seed=5))
    return layer


def test_demodulated_kernels_have_unit_norm_per_output_channel():
    # The response to a unit impulse in input channel i is the sample's kernel [., ., i, o] (flipped):
    # summed over i and the 3x3 patch, its squares give the norm of output channel o's kernel.
    channels, w = 4, rand(2, 6, seed=3)
    layer = _modulated(dict(filters=5, kernel_size=3), np.zeros((2, 5, 5, channels)), w)
    norms = 0.0
    for i in range(channels):
        impulse = np.zeros((2, 5, 5, channels), "float32")
        impulse[:, 2, 2, i] = 1.0
        norms += np.sum(np.square(layer([impulse, w])), axis=(1, 2))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-4)  # [samples, output channels]


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_kernels(upsample, demodulate):
    # The official code builds one kernel per sample: scale * weight * s[n, i], demodulated per (n, o).
    x, w = rand(2, 4, 4, 3), rand(2, 6, seed=1)
    layer = _modulated(dict(filters=5, kernel_size=3, demodulate=demodulate, upsample=upsample), x, w)
    s = style_of(layer, w)
    expected = []
    for n in range(2):
        kernel = layer.kernel.numpy() / math.sqrt(3 * 9) * s[n][None, None, :, None]
        if demodulate:
            kernel = kernel / np.sqrt(np.sum(kernel ** 2, axis=(0, 1, 2)) + 1e-8)
        if upsample:  # stride-2 transposed conv, then blur [1,3,3,1] x 4 with pad (1, 1)
            out = np_upfirdn2d(np_conv_transpose(x[n:n + 1], kernel), sg.make_kernel(sg.BLUR) * 4,
                               pad=(1, 1))
        else:
            out = np_conv(x[n:n + 1], kernel)
        expected.append(out[0])
    got = layer([x, w])
    assert got.shape == (2, 8 if upsample else 4, 8 if upsample else 4, 5)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-4, atol=1e-5)


def test_noise_concat_doubles_the_channels():
    x, noise = rand(2, 3, 3, 4), rand(2, 3, 3, 4, seed=1)
    layer = sg.NoiseConcat()
    layer.build((x.shape, noise.shape))
    np.testing.assert_array_equal(layer([x, noise]), np.concatenate([x, 0 * noise], -1))
    layer.weight.assign([0.5])
    np.testing.assert_allclose(layer([x, noise]), np.concatenate([x, 0.5 * noise], -1), rtol=1e-6)


def np_minibatch_stddev(x, group):
    n, h, w, c = x.shape
    y = x.reshape(group, n // group, h, w, c)
    std = np.sqrt(y.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))  # [n // group]
    extra = np.broadcast_to(np.tile(std, group)[:, None, None, None], (n, h, w, 1))
    return np.concatenate([x, extra], axis=-1)


@pytest.mark.parametrize("batch, group", [(8, 4), (3, 3), (2, 2), (6, 3), (1, 1)])
def test_minibatch_stddev_matches_numpy(batch, group):
    # Official: groups of min(N, 4) taken with stride N / G; (6, 3) is where the official code fails.
    x = rand(batch, 4, 4, 5)
    np.testing.assert_allclose(sg.MinibatchStdDev()(x), np_minibatch_stddev(x, group),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 5, 6, 8])
def test_the_discriminator_takes_the_whole_batch_as_one_group(batch):
    # The released GPEN discriminator: group = batch, for any batch size (5 and 7 degenerated with groups
    # of up to 4).
    layer = networks.discriminator(16, **TINY).get_layer("minibatch_stddev")
    x = rand(batch, 4, 4, 5)
    np.testing.assert_allclose(layer(x), np_minibatch_stddev(x, batch), rtol=1e-5, atol=1e-6)
    if batch == 8:  # not what groups of 4 give
        assert not np.allclose(layer(x), np_minibatch_stddev(x, 4), rtol=1e-3)


# -- precision and saving -------------------------------------------------------------------------


def test_mixed_bfloat16_computes_in_bfloat16_and_returns_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    g = networks.generator(16, style_dim=8, n_mlp=1, **TINY)
    d = networks.discriminator(16, **TINY)
    x = rand(2, 16, 16, 3)
    assert g(x).dtype == "float32" and d(x).dtype == "float32"
    assert all(v.dtype == "float32" for v in g.weights + d.weights)
    assert networks.parts(g).synthesis.get_layer("conv_16").compute_dtype == "bfloat16"
    assert np.all(np.isfinite(g(x))) and np.all(np.isfinite(d(x)))


def test_keras_round_trip(tmp_path):
    g = networks.generator(16, style_dim=8, n_mlp=1, **TINY)
    d = networks.discriminator(16, **TINY)
    for layer in networks.parts(g).synthesis.layers:  # make the encoder maps count
        if isinstance(layer, sg.StyledConv):
            layer.noise.weight.assign([0.3])
    x = rand(4, 16, 16, 3)
    for model in (g, d):
        path = str(tmp_path / f"{model.name}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_array_equal(loaded(x), model(x))


def test_networks_compile_with_xla():
    # No custom ops: the generator and the discriminator compile with XLA and give the same numbers.
    g = networks.generator(16, style_dim=8, n_mlp=1, **TINY)
    d = networks.discriminator(16, **TINY)
    x = rand(4, 16, 16, 3)
    for model in (g, d):
        compiled = tf.function(lambda t, m=model: m(t), jit_compile=True)
        np.testing.assert_allclose(compiled(x), model(x), rtol=1e-4, atol=1e-5)
