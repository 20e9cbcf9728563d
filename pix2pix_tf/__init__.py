"""pix2pix (Isola et al., CVPR 2017) in TensorFlow 2 / Keras 3."""

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

from pix2pix_tf.model import Pix2Pix

__all__ = ["Pix2Pix"]
del common
