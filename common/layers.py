"""Network pieces shared by the generators and discriminators.

Only Keras layers and `keras.ops` are used here, so the same networks run under every Keras backend
(`Dropout` asks `tf.distribute` which replica it runs on, which is replica 0 of 1 elsewhere;
`BatchNormalization` calls TensorFlow's fused kernel under TensorFlow and is Keras' layer elsewhere).
Conventions follow the official PyTorch code the models come from: BatchNorm eps 1e-5 and momentum 0.1
(Keras momentum 0.9), LeakyReLU slope 0.2, N(0, 0.02) initialisation.
"""

import keras
import tensorflow as tf
from keras import ops

from common import distribute

NORMALIZATIONS = ("batch", "instance", "none")


def normal(stddev=0.02, mean=0.0):
    """The N(mean, stddev) initialiser of the DCGAN / pix2pix `weights_init`."""
    return keras.initializers.RandomNormal(mean=mean, stddev=stddev)


def conv(filters, kernel_size, strides=1, padding="same", use_bias=True, name=None):
    """A Conv2D with the DCGAN / pix2pix initialisation (weights N(0, 0.02), biases 0)."""
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
        kernel_initializer=normal(), name=name)


def conv_transpose(filters, kernel_size, strides=2, use_bias=True, name=None):
    """A Conv2DTranspose that doubles H and W; with kernel 4 and 'same' it equals PyTorch's padding=1."""
    return keras.layers.Conv2DTranspose(
        filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
        kernel_initializer=normal(), name=name)


def normalization(kind, name=None):
    """'batch' (gamma N(1, 0.02)), 'instance' (no affine, as PyTorch's default InstanceNorm2d) or 'none'."""
    if kind == "batch":
        return BatchNormalization(
            momentum=0.9, epsilon=1e-5, gamma_initializer=normal(mean=1.0), name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(
            groups=-1, epsilon=1e-5, center=False, scale=False, name=name)
    if kind == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")


@keras.saving.register_keras_serializable(package="common")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization whose training pass is TensorFlow's fused kernel.

    Keras computes batch statistics, normalisation and their gradients as a dozen whole-tensor ops;
    FusedBatchNormV3 (oneDNN's on x86) does each direction in one kernel, which made the DCGAN step 8%
    faster on a CPU (BUILD_NOTES.md, Speed). The results are Keras': normalised with the biased batch
    variance, moving statistics updated with it too (the kernel reports the unbiased one, which is
    converted). Inference, masks, renorm, synchronized statistics, other ranks and backends take Keras'
    path.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and mask is None and not self.renorm
                and not self.synchronized and keras.backend.backend() == "tensorflow"
                and len(inputs.shape) == 4 and self.axis in (-1, 3) and self.center and self.scale):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)  # as Keras: statistics in float32 under mixed precision
        y, mean, unbiased, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=tf.convert_to_tensor(self.gamma), offset=tf.convert_to_tensor(self.beta),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon,
            data_format="NHWC", is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        variance = unbiased * tf.maximum(count - 1.0, 0.0) / count
        for moving, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(moving * self.momentum + value * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)


def leaky_relu(name=None):
    # Keras' default slope is 0.3; every paper here uses 0.2.
    return keras.layers.LeakyReLU(negative_slope=0.2, name=name)


def synchronize_batch_norm(model, synchronized):
    """Set whether every BatchNormalization inside `model` normalises with the statistics of the
    global batch across replicas (Keras' `synchronized`, read when a train step is traced)."""
    def walk(layer):
        yield layer
        for sub in getattr(layer, "layers", ()):
            yield from walk(sub)

    for layer in walk(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized


class Dropout(keras.layers.Dropout):
    """Keras' Dropout whose masks differ between replicas: the mask of the global batch is drawn
    and each replica keeps its rows (`distribute.replica_share`), as one device would drop."""

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        uniform = distribute.replica_share(
            lambda full: keras.random.uniform(full, seed=self.seed_generator), ops.shape(inputs))
        return ops.where(uniform >= self.rate, inputs / (1.0 - self.rate), ops.zeros_like(inputs))
