"""The networks of pix2pix (Isola et al. 2017), layer for layer as junyanz/pytorch-CycleGAN-and-pix2pix.

`unet_256` / `unet_128` generators (any `unet_N` with N a power of two from 32 up) and the PatchGAN
discriminator. Built as functional Keras models over inputs of any height and width.
"""

import keras

from common.layers import Dropout, conv, conv_transpose, leaky_relu, normalization


def unet_generator(downs, input_channels=3, output_channels=3, ngf=64, norm="batch",
                   dropout=True, name="generator"):
    """The U-Net generator of pix2pix (`unet_128` has 7 downsamplings, `unet_256` 8).

    Every conv is 4x4 stride 2. Encoder block k: LeakyReLU -> Conv -> norm (the first block is the Conv
    alone, the innermost has no norm). Decoder: ReLU -> ConvTranspose -> norm, dropout 0.5 in the
    `downs - 5` ngf*8 blocks above the innermost, ReLU -> ConvTranspose (with bias) -> tanh at the top.

    The skips carry the encoder features *after* the LeakyReLU: in the official code the in-place
    LeakyReLU of the next block overwrites the tensor that is later concatenated.
    """
    if downs < 5:
        raise ValueError(f"a U-Net needs at least 5 downsamplings (32x32 inputs), got {downs}")
    # As in the official code, every conv but the last transposed one has a bias only without BatchNorm,
    # even the first and innermost convs that no norm follows.
    use_bias = norm != "batch"
    widths = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (downs - 3)

    inputs = keras.Input((None, None, input_channels), name="input")
    x = conv(widths[0], 4, 2, use_bias=use_bias, name="down1_conv")(inputs)
    skips = []
    for k in range(2, downs + 1):
        x = leaky_relu(name=f"down{k}_lrelu")(x)
        skips.append(x)
        x = conv(widths[k - 1], 4, 2, use_bias=use_bias, name=f"down{k}_conv")(x)
        if k < downs:
            x = normalization(norm, name=f"down{k}_norm")(x)

    for k in range(downs, 1, -1):
        x = keras.layers.ReLU(name=f"up{k}_relu")(x)
        x = conv_transpose(widths[k - 2], 4, use_bias=use_bias, name=f"up{k}_convT")(x)
        x = normalization(norm, name=f"up{k}_norm")(x)
        if dropout and 5 <= k < downs:
            x = Dropout(0.5, name=f"up{k}_dropout")(x)
        x = keras.layers.Concatenate(name=f"up{k}_skip")([skips[k - 2], x])

    x = keras.layers.ReLU(name="up1_relu")(x)
    x = conv_transpose(output_channels, 4, use_bias=True, name="up1_convT")(x)
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def patch_discriminator(input_channels, ndf=64, n_layers=3, norm="batch", name="discriminator"):
    """The PatchGAN of pix2pix: n_layers=3 gives the 70x70 receptive field, one logit per patch.

    Convs are 4x4 with explicit zero padding 1, as in PyTorch: the stride-1 layers then give a 30x30 map
    at 256x256, which Keras' 'same' padding would not.
    """
    use_bias = norm != "batch"
    inputs = keras.Input((None, None, input_channels), name="input")

    def padded_conv(x, filters, strides, bias, tag):
        x = keras.layers.ZeroPadding2D(1, name=f"{tag}_pad")(x)
        return conv(filters, 4, strides, padding="valid", use_bias=bias, name=f"{tag}_conv")(x)

    x = padded_conv(inputs, ndf, 2, True, "layer0")
    x = leaky_relu(name="layer0_lrelu")(x)
    for n in range(1, n_layers + 1):
        strides = 2 if n < n_layers else 1
        x = padded_conv(x, ndf * min(2 ** n, 8), strides, use_bias, f"layer{n}")
        x = normalization(norm, name=f"layer{n}_norm")(x)
        x = leaky_relu(name=f"layer{n}_lrelu")(x)
    x = padded_conv(x, 1, 1, True, "logits")
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits_f32")(x)
    return keras.Model(inputs, outputs, name=name)
