"""The GPEN networks (Yang et al., CVPR 2021), layer for layer as yangxy/GPEN `face_model/gpen_model.py`.

    encoder        degraded face [N, S, S, 3] -> [latent [N, style_dim], f_4, f_8, ..., f_S]
                   official FullGenerator's ecd* convs and final_linear; f_r is the r x r feature map
                   (channels(r) channels) that replaces StyleGAN2's noise at resolution r.
    decoder        [z, f_4, f_8, ..., f_S] -> image [N, S, S, 3] (float32): the StyleGAN2 generator,
                   official Generator with isconcat: `mapping` (z -> w) and `synthesis` (a style per
                   layer and the maps -> image, toRGB skips). The prior stage drives it with
                   z ~ N(0, 1) and N(0, 1) maps of `noise_shapes`.
    generator      image -> decoder(encoder(image)): official FullGenerator.
    discriminator  image -> score [N, 1] (float32): the StyleGAN2 residual discriminator with
                   minibatch standard deviation, official Discriminator.

The encoder's latent goes through the decoder's mapping network (the official FullGenerator calls its
Generator with input_is_latent=False), and all synthesis layers use that one style. Each feature map is
used by both styled convolutions of its resolution (only one exists at 4 x 4), as the official
`noise[1:]` of the repeated, reversed encoder outputs.

Flattening before a dense layer is done in channels-first order (official `view(N, -1)` of NCHW), so
that official weights port one to one.
"""

import collections
import math

import keras

from gpen_tf import stylegan2 as sg

SIZES = tuple(2 ** i for i in range(3, 12))  # 8 .. 2048


def channels(resolution, channel_multiplier=2, narrow=1.0):
    """Feature channels at a resolution (official `channels` dict)."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier,
            128: 128 * channel_multiplier, 256: 64 * channel_multiplier,
            512: 32 * channel_multiplier, 1024: 16 * channel_multiplier, 2048: 8 * channel_multiplier}
    return int(base[resolution] * narrow)


def check_size(size):
    if size not in SIZES:
        raise ValueError(f"size must be a power of two from {SIZES[0]} to {SIZES[-1]}, got {size!r}")
    return int(math.log2(size))


def resolutions(size):
    """4, 8, ..., size: the decoder's resolutions, in the order of its noise inputs."""
    return [2 ** i for i in range(2, check_size(size) + 1)]


def noise_shapes(size, channel_multiplier=2, narrow=1.0):
    """Shapes (r, r, c) of the decoder's feature/noise inputs, r = 4 .. size."""
    return [(r, r, channels(r, channel_multiplier, narrow)) for r in resolutions(size)]


def _flatten_channels_first(x, name):
    """NHWC -> [N, C*H*W] in NCHW order, as the official `view(N, -1)`."""
    return keras.layers.Flatten(name=name)(keras.layers.Permute((3, 1, 2), name=name + "_nchw")(x))


def encoder(size, channel_multiplier=2, narrow=1.0, style_dim=512, name="encoder"):
    """Degraded image -> [latent, f_4, ..., f_size] (official FullGenerator minus its generator)."""
    check_size(size)
    ch = lambda r: channels(r, channel_multiplier, narrow)  # noqa: E731
    image = keras.Input((size, size, 3), name="image")
    x = sg.ConvLayer(ch(size), 1, name=f"ecd_{size}")(image)
    features = {size: x}
    for r in reversed(resolutions(size)[:-1]):
        x = sg.ConvLayer(ch(r), 3, downsample=True, name=f"ecd_{r}")(x)
        features[r] = x
    latent = sg.EqualDense(style_dim, activation="fused_lrelu", name="final_linear")(
        _flatten_channels_first(x, "flatten"))
    return keras.Model(image, [latent] + [features[r] for r in resolutions(size)], name=name)


def num_styles(size):
    """How many per-layer styles the synthesis network takes (official `n_latent`)."""
    return 2 * check_size(size) - 2


def mapping(style_dim=512, n_mlp=8, lr_mlp=0.01, name="mapping"):
    """z -> w: PixelNorm and n_mlp equalized dense layers (official Generator.style)."""
    z = keras.Input((style_dim,), name="z")
    w = sg.PixelNorm(name="pixel_norm")(z)
    for i in range(n_mlp):
        w = sg.EqualDense(style_dim, lr_mul=lr_mlp, activation="fused_lrelu", name=f"mapping_{i}")(w)
    return keras.Model(z, w, name=name)


def synthesis(size, channel_multiplier=2, narrow=1.0, style_dim=512, name="synthesis"):
    """[w_0, ..., w_{n-1}, f_4, ..., f_size] -> image, n = num_styles(size).

    Each layer takes its own style, as the official latent [N, n_latent, style_dim] indexed per layer
    (conv_4: 0, to_rgb_4: 1, then per resolution k = 0, 1, ...: conv_up 1 + 2k, conv 2 + 2k,
    to_rgb 3 + 2k): GPEN passes one w everywhere, and path-length regularisation differentiates
    with respect to each.
    """
    check_size(size)
    styles = [keras.Input((style_dim,), name=f"w_{i}") for i in range(num_styles(size))]
    noises = [keras.Input(shape, name=f"noise_{shape[0]}")
              for shape in noise_shapes(size, channel_multiplier, narrow)]
    ch = lambda r: channels(r, channel_multiplier, narrow)  # noqa: E731
    x = sg.ConstantInput(ch(4), name="input")(styles[0])
    x = sg.StyledConv(ch(4), name="conv_4")([x, styles[0], noises[0]])
    skip = sg.ToRGB(upsample=False, name="to_rgb_4")([x, styles[1]])
    for k, (r, noise) in enumerate(zip(resolutions(size)[1:], noises[1:])):
        x = sg.StyledConv(ch(r), upsample=True, name=f"conv_{r}_up")([x, styles[1 + 2 * k], noise])
        x = sg.StyledConv(ch(r), name=f"conv_{r}")([x, styles[2 + 2 * k], noise])
        skip = sg.ToRGB(name=f"to_rgb_{r}")([x, styles[3 + 2 * k], skip])
    image = keras.layers.Activation("linear", dtype="float32", name="image_f32")(skip)
    return keras.Model(styles + noises, image, name=name)


def decoder(size, channel_multiplier=2, narrow=1.0, style_dim=512, n_mlp=8, lr_mlp=0.01,
            name="decoder"):
    """[z, f_4, ..., f_size] -> image (official Generator, isconcat=True): the sub-models "mapping"
    and "synthesis", one style w for all layers."""
    z = keras.Input((style_dim,), name="z")
    noises = [keras.Input(shape, name=f"noise_{shape[0]}")
              for shape in noise_shapes(size, channel_multiplier, narrow)]
    synth = synthesis(size, channel_multiplier, narrow, style_dim)
    w = mapping(style_dim, n_mlp, lr_mlp)(z)
    return keras.Model([z] + noises, synth([w] * num_styles(size) + noises), name=name)


def generator(size, channel_multiplier=2, narrow=1.0, style_dim=512, n_mlp=8, lr_mlp=0.01,
              name="generator"):
    """Degraded face -> restored face, float32 (official FullGenerator).

    Its layers are the sub-models "encoder" and "decoder": see `parts`.
    """
    enc = encoder(size, channel_multiplier, narrow, style_dim)
    dec = decoder(size, channel_multiplier, narrow, style_dim, n_mlp, lr_mlp)
    image = keras.Input((size, size, 3), name="degraded")
    return keras.Model(image, dec(enc(image)), name=name)


Parts = collections.namedtuple("Parts", ["encoder", "decoder", "mapping", "synthesis"])


def parts(gen):
    """The encoder, decoder, and the decoder's mapping and synthesis sub-models of a `generator`,
    sharing its weights."""
    dec = gen.get_layer("decoder")
    return Parts(gen.get_layer("encoder"), dec, dec.get_layer("mapping"), dec.get_layer("synthesis"))


FEATURE_LAYERS = "from_rgb", "block_", "final_conv"


def discriminator(size, channel_multiplier=2, narrow=1.0, name="discriminator"):
    """Image -> one logit per image, float32 [N, 1] (official Discriminator).

    Layers: from_rgb (1x1), block_<r> (ResBlock r -> r/2) for r = size .. 8, minibatch_stddev,
    final_conv (3x3), final_linear (fused leaky ReLU), score.
    """
    check_size(size)
    ch = lambda r: channels(r, channel_multiplier, narrow)  # noqa: E731
    image = keras.Input((size, size, 3), name="image")
    x = sg.ConvLayer(ch(size), 1, name="from_rgb")(image)
    for r in reversed(resolutions(size)[1:]):
        x = sg.ResBlock(ch(r // 2), name=f"block_{r}")(x)
    x = sg.MinibatchStdDev(group_size=None, name="minibatch_stddev")(x)  # the whole batch, as released
    x = sg.ConvLayer(ch(4), 3, name="final_conv")(x)
    x = sg.EqualDense(ch(4), activation="fused_lrelu", name="final_linear")(
        _flatten_channels_first(x, "flatten"))
    x = sg.EqualDense(1, name="score")(x)
    return keras.Model(image, keras.layers.Activation("linear", dtype="float32", name="score_f32")(x),
                       name=name)


def discriminator_features(disc):
    """A model sharing `disc`'s layers: image -> [from_rgb, block_*, final_conv outputs..., score].

    The feature-matching loss compares these intermediate features of restored and clean faces.
    Building it only wires existing layers (no new weights), so it is cheap to call in a step.
    """
    features = [layer.output for layer in disc.layers if layer.name.startswith(FEATURE_LAYERS)]
    return keras.Model(disc.input, features + [disc.output], name=disc.name + "_features")
