"""PieNet: Personalized Image Enhancement (Kim, Koh, Kim, ECCV 2020) in TensorFlow 2 / Keras 3."""

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

from pienet_tf.model import PieNet

__all__ = ["PieNet"]
del common
