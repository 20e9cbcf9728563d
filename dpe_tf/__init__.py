"""Deep Photo Enhancer (Chen et al., CVPR 2018) in TensorFlow 2 / Keras 3."""

from dpe_tf.model import DPE

__all__ = ["DPE"]
