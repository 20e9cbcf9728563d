"""PieNet: Personalized Image Enhancement (Kim, Koh, Kim, ECCV 2020) in TensorFlow 2 / Keras 3."""

from pienet_tf.model import PieNet

__all__ = ["PieNet"]
