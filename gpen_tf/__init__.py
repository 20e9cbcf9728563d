"""GPEN: GAN Prior Embedded Network for blind face restoration (Yang et al., CVPR 2021)."""

from gpen_tf.faces import PhotoRestorer, restore_photo
from gpen_tf.model import GPEN

__all__ = ["GPEN", "PhotoRestorer", "restore_photo"]
