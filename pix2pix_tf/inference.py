"""pix2pix at test time: eval mode or the paper's mode, and the export of each.

`eval` is a trained network's usual inference: batch norm with its stored statistics, no dropout (the
official `test.py --eval`), at the photo's own size, in exact tiles so that memory stays bounded
(pix2pix_tf/serving.py; `serving_tiled(images, tile)` takes another tile size). `paper` is how the official `test.py` serves the
released models (without `--eval`), so how their published results were made:
- each image is resized to the network's training size (the official test options set load_size to
  crop_size: 256 x 256 for unet_256), bicubic, and the output is resized back to the image's size
  (bicubic, as the official save_image does for other aspect ratios);
- batch norm normalises each image with its own mean and variance (the official test runs one image
  at a time; here every image of a served batch is normalised alone), and the stored statistics are
  not touched;
- dropout stays on. A paper-mode SavedModel's `serving_default(images)` draws fresh dropout masks in
  every call and in every process; `serving_seeded(images, seed)` draws them from an int64 seed, the
  same in every process (`pix2pix_tf.translate --seed`).
"""

import keras
import tensorflow as tf
from absl import app
from keras import ops

from common import export
from common.layers import Dropout
from pix2pix_tf import serving
from pix2pix_tf.options import INFERENCE_MODES


class ImageStatistics(keras.layers.BatchNormalization):
    """Batch norm that normalises each image with its own mean and (biased) variance over H and W, as
    PyTorch's training mode on a batch of one, and never updates its moving statistics."""

    def call(self, inputs, training=None, mask=None):
        x = ops.cast(inputs, "float32")
        mean, variance = ops.moments(x, axes=[1, 2], keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta
        return ops.cast(y, inputs.dtype)


class ActiveDropout(Dropout):
    """Dropout that drops at inference too."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def _paper_layer(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return ImageStatistics.from_config(layer.get_config())
    if isinstance(layer, Dropout):
        return ActiveDropout.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def generator_for(generator, mode):
    """The generator to run in `mode`: `generator` itself for eval, for paper a copy of it (same weights)
    with ImageStatistics for its batch norms and ActiveDropout for its dropouts."""
    if mode not in INFERENCE_MODES:
        raise ValueError(f"inference mode must be one of {INFERENCE_MODES}, got {mode!r}")
    if mode == "eval":
        return generator
    paper = keras.models.clone_model(generator, clone_function=_paper_layer)
    paper.set_weights(generator.get_weights())
    return paper


def seed_dropout(network, seed):
    """Start the dropout masks of `network` (a paper-mode generator) from the int64 `seed`: each
    dropout layer's random state becomes (seed, its index), so the layers draw different masks."""
    dropouts = [layer for layer in network.layers if isinstance(layer, ActiveDropout)]
    for k, layer in enumerate(dropouts):
        state = layer.seed_generator.state
        state.assign(tf.cast(tf.stack([tf.cast(seed, tf.int64), tf.constant(k, tf.int64)]), state.dtype))


def fresh_seed():
    """A seed that differs from call to call and from process to process: the op's own seeds are 0,
    which TensorFlow takes as "draw from the system", whatever global seed a training run set."""
    return tf.raw_ops.RandomUniformInt(shape=tf.constant([], tf.int32), minval=tf.constant(0, tf.int64),
                                       maxval=tf.constant(2 ** 62, tf.int64), seed=0, seed2=0)


def check_formats(mode, formats):
    """A usage error for paper mode with LiteRT or ONNX: their files hold no random dropout."""
    others = [name for name in formats if name != "saved_model"]
    if mode == "paper" and others:
        raise app.UsageError(f"--export_formats={','.join(formats)}: {' and '.join(others)} files "
                             "cannot draw paper mode's dropout masks; export them with --inference=eval")


def export_generator(generator, path, mode, *, size, multiple, value_range, metadata,
                     tile=serving.DEFAULT_TILE):
    """Write the SavedModel of a pix2pix `generator` (inputs divisible by `multiple`) in inference
    `mode`; `size` is its training size, where paper mode runs it; eval mode runs each photo at its
    own size in exact tiles of `tile` (pix2pix_tf/serving.py). `metadata` (common.export.describe)
    gains the mode and the size."""
    metadata = dict(metadata, inference=mode, size=size)
    if mode == "eval":
        return serving.export_translator(generator, path, value_range=value_range, multiple=multiple,
                                         tile=tile, metadata=metadata)
    paper = generator_for(generator, mode)

    def translate(images, seed):
        seed_dropout(paper, seed)
        return {"images": export.translate_uint8(paper, images, value_range=value_range, size=size)}

    archive = keras.export.ExportArchive()
    archive.track(paper)
    archive.add_endpoint("serving_default", lambda images: translate(images, fresh_seed()),
                         input_signature=[export.image_signature()])
    archive.add_endpoint("serving_seeded", translate, input_signature=[
        export.image_signature(), tf.TensorSpec([], tf.int64, name="seed")])
    return export.write_archive(archive, path, dict(metadata, value_range=list(value_range)))
