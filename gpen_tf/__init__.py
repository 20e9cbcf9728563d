"""GPEN: GAN Prior Embedded Network for blind face restoration (Yang et al., CVPR 2021)."""

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

from gpen_tf.faces import PhotoRestorer, restore_photo
from gpen_tf.model import GPEN

__all__ = ["GPEN", "PhotoRestorer", "restore_photo"]
del common
