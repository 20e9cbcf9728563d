"""pix2pix at test time: eval mode, or the paper's mode.

`eval` (the default) is a trained network's usual inference: batch norm with its stored statistics, no
dropout (the official `test.py --eval`). `paper` is how the paper and the official `test.py` without
`--eval` ran, and so how the released models' results were made: batch norm normalises with the
statistics of the test batch itself (one image: that image's), and dropout stays on, so the output
varies from run to run (the paper's source of noise). The stored statistics are not touched.
"""

import keras
from keras import ops

from common.layers import Dropout

INFERENCE_MODES = ("eval", "paper")


class BatchStatistics(keras.layers.BatchNormalization):
    """Batch norm that normalises with the batch's own mean and (biased) variance, as PyTorch's in
    training mode, but never updates its moving statistics."""

    def call(self, inputs, training=None, mask=None):
        x = ops.cast(inputs, "float32")
        mean, variance = ops.moments(x, axes=[0, 1, 2], keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta
        return ops.cast(y, inputs.dtype)


class ActiveDropout(Dropout):
    """Dropout that drops at inference too."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def _paper_layer(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return BatchStatistics.from_config(layer.get_config())
    if isinstance(layer, Dropout):
        return ActiveDropout.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def generator_for(generator, mode):
    """The generator to run in `mode`: `generator` itself for eval, for paper a copy of it (same weights)
    with BatchStatistics for its batch norms and ActiveDropout for its dropouts."""
    if mode not in INFERENCE_MODES:
        raise ValueError(f"inference mode must be one of {INFERENCE_MODES}, got {mode!r}")
    if mode == "eval":
        return generator
    paper = keras.models.clone_model(generator, clone_function=_paper_layer)
    paper.set_weights(generator.get_weights())
    return paper
