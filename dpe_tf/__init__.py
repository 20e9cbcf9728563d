"""Deep Photo Enhancer (Chen et al., CVPR 2018) in TensorFlow 2 / Keras 3."""

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

from dpe_tf.model import DPE

__all__ = ["DPE"]
del common
