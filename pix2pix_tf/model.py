"""Pix2Pix: conditional GAN for paired image-to-image translation (Isola et al., CVPR 2017)."""

import keras
import tensorflow as tf

from common import data, losses, metrics
from common.gan import GANModel, adam
from pix2pix_tf import networks, options

VALUE_RANGE = (-1.0, 1.0)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class Pix2Pix(GANModel):
    """pix2pix with the official PyTorch defaults: unet_256 generator, 70x70 PatchGAN, batch norm.

    Data are (A, B) pairs of float images in [-1, 1]; `call(A)` translates A to B.
    The generator loss is GAN(D(A, G(A)), real) + lambda_l1 * L1(G(A), B); the discriminator's is
    0.5 * (GAN(D(A, B), real) + GAN(D(A, G(A)), fake)), plus lambda_gp times the gradient penalty
    in `wgangp` mode.
    """

    def __init__(self, generator="unet_256", n_layers=3, norm="batch", gan_mode="vanilla",
                 input_channels=3, output_channels=3, ngf=64, ndf=64, dropout=True,
                 lambda_l1=100.0, lambda_gp=10.0, **kwargs):
        super().__init__(["d_loss", "g_gan", "g_l1", "l1", "psnr", "ssim"], **kwargs)
        if gan_mode not in losses.GAN_MODES:
            raise ValueError(f"gan_mode must be one of {losses.GAN_MODES}, got {gan_mode!r}")
        self.options = dict(generator=generator, n_layers=n_layers, norm=norm, gan_mode=gan_mode,
                            input_channels=input_channels, output_channels=output_channels,
                            ngf=ngf, ndf=ndf, dropout=dropout, lambda_l1=lambda_l1,
                            lambda_gp=lambda_gp)
        self.multiple = 2 ** options.num_downs(generator)  # H and W must divide by this
        self.generator = networks.unet_generator(
            options.num_downs(generator), input_channels, output_channels, ngf, norm, dropout)
        self.discriminator = networks.patch_discriminator(
            input_channels + output_channels, ndf, n_layers, norm)
        self.built = True

    learning_rate = 2e-4

    def default_optimizers(self, learning_rate):
        return adam(learning_rate, 0.5), adam(learning_rate, 0.5)

    def _discriminate(self, real_a, b):
        """D's logits for B given A: the conditional GAN sees both images stacked on channels."""
        return self.discriminator(tf.concat([real_a, b], -1), training=True)

    def train_step(self, batch):
        real_a, real_b, _ = keras.utils.unpack_x_y_sample_weight(batch)
        mode = self.options["gan_mode"]
        with tf.GradientTape() as g_tape:
            fake_b = self.generator(real_a, training=True)
            # The official order: update D on this fake, then G against the updated D.
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    d_loss = 0.5 * (losses.gan_loss(mode, self._discriminate(real_a, real_b), True)
                                    + losses.gan_loss(mode, self._discriminate(
                                        real_a, tf.stop_gradient(fake_b)), False))
                    if mode == "wgangp":
                        d_loss += self.options["lambda_gp"] * losses.gradient_penalty(
                            lambda x: self.discriminator(x, training=True),
                            tf.concat([real_a, real_b], -1), tf.concat([real_a, fake_b], -1),
                            seed_generator=self.noise_seed)
                self.minimize(d_tape, d_loss, self.d_optimizer, self.discriminator.trainable_variables)
            g_gan = losses.gan_loss(mode, self._discriminate(real_a, fake_b), True)
            g_l1 = losses.l1(fake_b, real_b)
            g_loss = g_gan + self.options["lambda_l1"] * g_l1
        self.minimize(g_tape, g_loss, self.g_optimizer, self.generator.trainable_variables)
        return self.track(d_loss=d_loss, g_gan=g_gan, g_l1=g_l1)

    def test_step(self, batch):
        real_a, real_b, _ = keras.utils.unpack_x_y_sample_weight(batch)
        fake_b = self.generator(real_a, training=False)
        x, y = (tf.cast(t, tf.float32) * 0.5 + 0.5 for t in (fake_b, real_b))
        return self.track(l1=losses.l1(fake_b, real_b), psnr=tf.reduce_mean(metrics.psnr(x, y)),
                          ssim=tf.reduce_mean(metrics.ssim(x, y)))

    def sample_rows(self, batch):
        """One row per example: input | output | target, as uint8."""
        real_a, real_b, _ = keras.utils.unpack_x_y_sample_weight(batch)
        fake_b = self(real_a, training=False)
        rows = [data.to_rgb(data.from_range(t, VALUE_RANGE)) for t in (real_a, fake_b, real_b)]
        return [list(row) for row in zip(*(r.numpy() for r in rows))]
