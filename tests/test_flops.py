"""tools/flops.py: forward FLOP counted from the layers' shapes, checked against counts by hand."""

import os
import sys

import keras

from gpen_tf import stylegan2
from pix2pix_tf import networks

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import flops  # noqa: E402


def test_conv2d():
    # 'same' stride 2 on 8x8: 4x4x5 outputs of 3*3*3 multiply-adds each, per image.
    count = flops.forward(keras.layers.Conv2D(5, 3, strides=2, padding="same"), (2, 8, 8, 3))
    assert count == flops.Count(2 * (2 * 4 * 4 * 5) * (3 * 3 * 3))  # 8640


def test_grouped_conv2d():
    # Two groups: each of the 4x4x4 outputs sees 3*3 pixels of 4 / 2 input channels.
    count = flops.forward(keras.layers.Conv2D(4, 3, groups=2), (1, 6, 6, 4))
    assert count.flop == 2 * (4 * 4 * 4) * (3 * 3 * 2)  # 2304


def test_conv2d_transpose():
    # Each of the 3x3x2 input values scatters into 4*4 pixels of 4 output channels.
    count = flops.forward(keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same"), (1, 3, 3, 2))
    assert count.flop == 2 * (3 * 3 * 2) * (4 * 4 * 4)  # 2304


def test_dense():
    assert flops.forward(keras.layers.Dense(7), (3, 5)).flop == 2 * 3 * 5 * 7  # 210


def test_pix2pix_unet_32():
    # unet_32 at ngf=4 on one 32x32 RGB image: every conv 4x4 stride 2, widths 4, 8, 16, 32, 32.
    # Encoder, 2 * outputs * (16 * in):  down1 16x16x4 from 3:   2 * 1024 * 48  =  98304
    #   down2 8x8x8 from 4:  2 * 512 * 64 = 65536;  down3 4x4x16 from 8:  2 * 256 * 128 = 65536
    #   down4 2x2x32 from 16: 2 * 128 * 256 = 65536; down5 1x1x32 from 32: 2 * 32 * 512  = 32768
    # Decoder, 2 * inputs * (16 * out), each input the previous output and its skip concatenated:
    #   up5 1x1x32 -> 32:    2 * 32 * 512 = 32768;  up4 2x2x(32+32) -> 16: 2 * 256 * 256 = 131072
    #   up3 4x4x(16+16) -> 8: 2 * 512 * 128 = 131072; up2 8x8x(8+8) -> 4:   2 * 1024 * 64 = 131072
    #   up1 16x16x(4+4) -> 3: 2 * 2048 * 48 = 196608
    # Total 327680 + 622592 = 950272.
    count = flops.forward(networks.unet_generator(5, ngf=4), (1, 32, 32, 3))
    assert count == flops.Count(950272)


def test_gpen_modulated_conv_upsampling():
    # On x [1, 4, 4, 2] and w [1, 8]: the modulation (dense 8 -> 2): 2 * 8 * 2 = 32; the transposed
    # conv, 3x3 stride 2, to 4 channels: 2 * 32 * (9 * 4) = 2304; the demodulation [1, 2] @ [2, 4]: 16;
    # the blur (4x4 taps) on the 9x9 map padded by 1 each side, giving 8x8x4: 2 * 256 * 16 = 8192.
    layer = stylegan2.ModulatedConv2D(4, 3, upsample=True)
    assert flops.forward(layer, (1, 4, 4, 2), (1, 8)) == flops.Count(32 + 2304 + 16 + 8192)


def test_uncounted_layers_are_named():
    count = flops.forward(keras.Sequential([keras.Input((5, 5, 3)), keras.layers.SeparableConv2D(2, 3),
                                            keras.layers.ReLU(), keras.layers.Dense(2)]), (1, 5, 5, 3))
    assert count == flops.Count(2 * (3 * 3 * 2) * 2, frozenset({"SeparableConv2D"}))
