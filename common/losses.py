"""Losses shared by the models, as per-replica means over the batch (see `GANModel.minimize`).

They are used in the TensorFlow train steps; the gradient penalty needs a tf.GradientTape.
"""

import keras
import tensorflow as tf
from keras import ops

GAN_MODES = ("vanilla", "lsgan", "wgangp")


def gan_loss(mode, logits, target_is_real):
    """The adversarial loss of pix2pix's `GANLoss` for predictions that should be real or fake.

    vanilla: binary cross-entropy on logits; lsgan: squared error to 1 or 0; wgangp: -mean for real,
    +mean for fake (the critic's score).
    """
    logits = ops.cast(logits, "float32")
    if mode == "vanilla":
        labels = ops.ones_like(logits) if target_is_real else ops.zeros_like(logits)
        return ops.mean(keras.losses.binary_crossentropy(labels, logits, from_logits=True))
    if mode == "lsgan":
        return ops.mean(ops.square(logits - (1.0 if target_is_real else 0.0)))
    if mode == "wgangp":
        return -ops.mean(logits) if target_is_real else ops.mean(logits)
    raise ValueError(f"gan_mode must be one of {GAN_MODES}, got {mode!r}")


def l1(x, y):
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


GP_FORMS = ("squared", "one_sided_linear")


def gradient_penalty(critic, real, fake, form="squared"):
    """A gradient penalty on ||grad critic(x)|| at random points x between real and fake.

    `squared` (WGAN-GP): mean((||grad|| - 1)^2). `one_sided_linear` (the Deep Photo Enhancer code):
    mean(max(0, ||grad|| - 1)), which only penalises slopes above 1.
    Each example gets its own mixing weight, as in the official pix2pix `cal_gradient_penalty`.
    """
    if form not in GP_FORMS:
        raise ValueError(f"gradient penalty form must be one of {GP_FORMS}, got {form!r}")
    alpha = tf.random.uniform([tf.shape(real)[0], 1, 1, 1], dtype=real.dtype)
    mixed = real + alpha * (tf.cast(fake, real.dtype) - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = tf.cast(critic(mixed), tf.float32)
    grads = tf.cast(tape.gradient(score, mixed), tf.float32)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-16)
    if form == "one_sided_linear":
        return tf.reduce_mean(tf.maximum(0.0, norms - 1.0))
    return tf.reduce_mean(tf.square(norms - 1.0))
