"""DCGAN: a generator from latent vectors to images against a discriminator (Radford et al. 2015)."""

import keras
import numpy as np
import tensorflow as tf

from common import data, distribute, export, images, losses, metrics
from common.gan import GANModel, adam
from dcgan_tf import networks

VALUE_RANGE = (-1.0, 1.0)


def latents(num, latent_dim=100, seed=0):
    """`num` latent vectors N(0, 1) drawn from `seed`: the same seed gives the same vectors anywhere."""
    return np.random.default_rng(seed).standard_normal((num, latent_dim)).astype(np.float32)


@keras.saving.register_keras_serializable(package="dcgan_tf")
class DCGAN(GANModel):
    """DCGAN with the defaults of pytorch/examples: 64x64x3 images, a 100-d z, ngf = ndf = 64.

    Data are batches of float images in [-1, 1] (a tuple's first element is taken, so labelled datasets
    work too); `call(z)` generates. Losses are binary cross-entropy on logits: D on real and fake
    batches separately (summed, not halved), then G against the updated D on the same fake batch.
    `test_step` reports the sliced Wasserstein distance (ProGAN) between the batch and as many samples.
    """

    def __init__(self, image_size=64, channels=3, latent_dim=100, ngf=64, ndf=64, **kwargs):
        super().__init__(["d_loss", "g_loss", "d_real", "d_fake", "swd"], **kwargs)
        self.options = dict(image_size=image_size, channels=channels, latent_dim=latent_dim,
                            ngf=ngf, ndf=ndf)
        self.latent_dim = latent_dim
        self.generator = networks.generator(image_size, channels, latent_dim, ngf)
        self.discriminator = networks.discriminator(image_size, channels, ndf)
        self.built = True

    learning_rate = 2e-4

    def default_optimizers(self, learning_rate):
        return adam(learning_rate, 0.5), adam(learning_rate, 0.5)

    def _noise(self, real):
        return distribute.replica_normal([tf.shape(real)[0], self.latent_dim], self.noise_seed)

    @staticmethod
    def _images(batch):
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def train_step(self, batch):
        real = self._images(batch)
        with tf.GradientTape() as g_tape:
            fake = self.generator(self._noise(real), training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real_logits = self.discriminator(real, training=True)
                    fake_logits = self.discriminator(tf.stop_gradient(fake), training=True)
                    d_loss = (losses.gan_loss("vanilla", real_logits, True)
                              + losses.gan_loss("vanilla", fake_logits, False))
                self.minimize(d_tape, d_loss, self.d_optimizer, self.discriminator.trainable_variables)
            g_loss = losses.gan_loss("vanilla", self.discriminator(fake, training=True), True)
        self.minimize(g_tape, g_loss, self.g_optimizer, self.generator.trainable_variables)
        # D(x) and D(G(z)) as pytorch/examples prints them: mean probabilities of "real".
        return self.track(d_loss=d_loss, g_loss=g_loss,
                          d_real=tf.reduce_mean(tf.sigmoid(real_logits)),
                          d_fake=tf.reduce_mean(tf.sigmoid(fake_logits)))

    def test_step(self, batch):
        real = self._images(batch)
        fake = self.generator(self._noise(real), training=False)
        swd = metrics.swd_levels(tf.cast(real, tf.float32) * 0.5 + 0.5, fake * 0.5 + 0.5)
        return self.track(swd=tf.reduce_mean(swd))

    def sample_rows(self, z):
        """The images of the latent batch z in rows of 8, as uint8 RGB."""
        return images.rows_of(data.from_range(self(z, training=False), VALUE_RANGE).numpy(),
                              min(8, len(z)))


def export_sampler(generator, path, *, metadata):
    """SavedModel whose serving_default maps float32 latents [N, latent_dim] to uint8 [N, H, W, C];
    `metadata` from `common.export.describe`."""
    signature = tf.TensorSpec([None, generator.input_shape[-1]], tf.float32, name="latents")
    return export.export_function(
        generator, path,
        lambda latents: {"images": data.from_range(generator(latents, training=False), VALUE_RANGE)},
        [signature], metadata=dict(metadata, value_range=list(VALUE_RANGE),
                                   latent_dim=int(generator.input_shape[-1])))


def load_generator(path):
    """The exported serving function (latents -> uint8 images), in any format, and the latent length
    it takes."""
    from common import formats
    served = formats.load(path, "DCGAN")
    if "latent_dim" not in served.metadata:
        raise ValueError(f"{path} does not say its latent length: export it again with this version")
    serve = served.signatures["serving_default"]
    return (lambda z: serve(latents=z)["images"]), int(served.metadata["latent_dim"])
