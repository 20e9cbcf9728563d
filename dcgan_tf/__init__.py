"""DCGAN (Radford, Metz, Chintala 2015) in Keras: unconditional image generation from a latent vector."""

from dcgan_tf.model import DCGAN

__all__ = ["DCGAN"]
