"""DCGAN (Radford, Metz, Chintala 2015) in Keras: unconditional image generation from a latent vector."""

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

from dcgan_tf.model import DCGAN

__all__ = ["DCGAN"]
del common
