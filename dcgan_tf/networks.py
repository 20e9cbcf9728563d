"""The networks of DCGAN, layer for layer as pytorch/examples `dcgan/main.py`.

At 64x64 the generator lifts z to 4x4x512 and doubles the size four times (512 -> 256 -> 128 -> 64 ->
3 channels); the discriminator mirrors it. Other sizes add or remove one stride-2 block per factor of
two, keeping the widths next to the image at ngf / ndf, so 32x32 starts at 4x4x256 and 128x128 at
4x4x1024.
"""

import keras

from common.layers import conv, conv_transpose, leaky_relu, normal, normalization
from dcgan_tf import options


def generator(image_size=64, channels=3, latent_dim=100, ngf=64, name="generator"):
    """z [N, latent_dim] -> images [N, image_size, image_size, channels] in [-1, 1].

    ConvTranspose 4x4 from 1x1 to 4x4, then ConvTranspose 4x4 stride 2 blocks; every layer but the last
    is followed by BatchNorm and ReLU and has no bias; the last ends in tanh.
    """
    blocks = options.num_blocks(image_size)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Reshape((1, 1, latent_dim), name="z_as_map")(z)
    width = ngf * 2 ** (blocks - 1)
    x = keras.layers.Conv2DTranspose(width, 4, padding="valid", use_bias=False,
                                     kernel_initializer=normal(),
                                     name="block0_convT")(x)
    for k in range(1, blocks + 1):
        x = normalization("batch", name=f"block{k - 1}_bn")(x)
        x = keras.layers.ReLU(name=f"block{k - 1}_relu")(x)
        last = k == blocks
        x = conv_transpose(channels if last else width // 2 ** k, 4, use_bias=False,
                           name=f"block{k}_convT")(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, images, name=name)


def discriminator(image_size=64, channels=3, ndf=64, name="discriminator"):
    """images [N, image_size, image_size, channels] -> one logit per image [N, 1].

    Conv 4x4 stride 2 blocks with LeakyReLU(0.2), BatchNorm on all but the first, down to 4x4, then a
    4x4 valid conv to one logit. No biases, as the official code (it ends in a sigmoid; BCE on logits
    here is the same loss, computed stably).
    """
    blocks = options.num_blocks(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    for k in range(blocks):
        x = conv(ndf * 2 ** k, 4, 2, use_bias=False, name=f"block{k}_conv")(x)
        if k:
            x = normalization("batch", name=f"block{k}_bn")(x)
        x = leaky_relu(name=f"block{k}_lrelu")(x)
    x = conv(1, 4, padding="valid", use_bias=False, name="logit_conv")(x)
    logits = keras.layers.Flatten(dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)
