"""The pix2pix networks against the official PyTorch code: counts, shapes, wiring, initialisation."""

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf import networks, options


def trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_official_parameter_counts():
    # Measured on junyanz/pytorch-CycleGAN-and-pix2pix: unet_256 and the basic 70x70 PatchGAN.
    assert trainable(networks.unet_generator(8)) == 54_413_955
    assert trainable(networks.patch_discriminator(6)) == 2_768_705
    # unet_128 lacks one ngf*8 block: conv 512->512, BN, convT 1024->512, BN = 12,584,960 fewer.
    assert trainable(networks.unet_generator(7)) == 54_413_955 - 12_584_960


def test_instance_norm_has_biases_and_no_affine():
    # Without BatchNorm every conv gets a bias; InstanceNorm2d's default has no scale or offset.
    g = networks.unet_generator(5, ngf=4, norm="instance")
    assert all(layer.use_bias for layer in g.layers if hasattr(layer, "use_bias"))
    assert not any("norm" in w.path for w in g.trainable_weights)


def test_patchgan_map_size_and_receptive_field():
    d = networks.patch_discriminator(6, ndf=4)
    assert d(np.zeros((1, 256, 256, 6), "float32")).shape == (1, 30, 30, 1)
    # The gradient of one logit reaches exactly a 70x70 window of the input.
    x = tf.random.normal((1, 256, 256, 6))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = d(x, training=False)[0, 15, 15, 0]
    touched = np.argwhere(np.abs(tape.gradient(logit, x).numpy()[0]).sum(-1) > 0)
    assert (touched.max(0) - touched.min(0) + 1).tolist() == [70, 70]


def test_unet_output_size_range_and_dropout_blocks():
    g = networks.unet_generator(8, ngf=4)
    y = g(np.random.uniform(-1, 1, (1, 256, 256, 3)).astype("float32"))
    assert y.shape == (1, 256, 256, 3) and y.dtype == tf.float32
    assert np.abs(y.numpy()).max() <= 1.0
    dropouts = [layer.name for layer in g.layers if "dropout" in layer.name]
    assert dropouts == ["up7_dropout", "up6_dropout", "up5_dropout"]  # 4x4, 8x8, 16x16 decoders
    assert len([l for l in networks.unet_generator(7, ngf=4).layers if "dropout" in l.name]) == 2


def test_skips_carry_leaky_relu_features():
    # In the official code the in-place LeakyReLU of block k+1 rewrites the tensor that block k
    # concatenates, so the skip holds LeakyReLU(features).
    g = networks.unet_generator(6, ngf=4)
    for k in range(2, 7):
        assert g.get_layer(f"up{k}_skip").input[0] is g.get_layer(f"down{k}_lrelu").output


def test_initialisation_is_normal_002():
    g = networks.unet_generator(8)
    kernel = g.get_layer("down5_conv").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 1e-3 and abs(kernel.mean()) < 1e-3
    gamma = g.get_layer("down5_norm").gamma.numpy()
    assert abs(gamma.mean() - 1.0) < 0.01 and 0.01 < gamma.std() < 0.03
    bn = g.get_layer("down5_norm")
    assert bn.epsilon == 1e-5 and bn.momentum == pytest.approx(0.9)


def test_generator_names():
    assert options.num_downs("unet_256") == 8 and options.num_downs("unet_32") == 5
    with pytest.raises(ValueError, match="unet_300"):
        options.num_downs("unet_300")
