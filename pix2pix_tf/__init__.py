"""pix2pix (Isola et al., CVPR 2017) in TensorFlow 2 / Keras 3."""

from pix2pix_tf.model import Pix2Pix

__all__ = ["Pix2Pix"]
