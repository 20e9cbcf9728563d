"""Losses shared by the models, as per-replica means over the batch (see `GANModel.minimize`).

They are used in the TensorFlow train steps; the gradient penalty needs a tf.GradientTape.
"""

import keras
import tensorflow as tf
from keras import ops

from common import distribute
from common.options import GAN_MODES


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


def gradient_penalty(critic, real, fake, form="squared", seed_generator=None):
    """A gradient penalty on ||grad critic(x)|| at random points x between real and fake.

    `squared` (WGAN-GP): mean((||grad|| - 1)^2). `one_sided_linear` (the Deep Photo Enhancer code):
    mean(max(0, ||grad|| - 1)), which only penalises slopes above 1.
    Each example gets its own mixing weight, as in the official pix2pix `cal_gradient_penalty`,
    drawn from `seed_generator` (a model's, kept in its checkpoints) for the global batch
    (`distribute.replica_share`), or from TensorFlow's global generator without one.
    """
    if form not in GP_FORMS:
        raise ValueError(f"gradient penalty form must be one of {GP_FORMS}, got {form!r}")
    shape = [tf.shape(real)[0], 1, 1, 1]
    if seed_generator is None:
        alpha = tf.random.uniform(shape, dtype=real.dtype)
    else:
        alpha = tf.cast(distribute.replica_share(
            lambda full: keras.random.uniform(full, seed=seed_generator), shape), real.dtype)
    mixed = real + alpha * (tf.cast(fake, real.dtype) - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = tf.cast(critic(mixed), tf.float32)
    grads = tf.cast(tape.gradient(score, mixed), tf.float32)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-16)
    if form == "one_sided_linear":
        return tf.reduce_mean(tf.maximum(0.0, norms - 1.0))
    return tf.reduce_mean(tf.square(norms - 1.0))


def triplet(anchor, positive, negatives, margin=0.2, valid=None, count=None):
    """The triplet loss max(0, ||a - p||^2 - ||a - n||^2 + margin), averaged over the valid triplets.

    anchor, positive: [N, D]; negatives: [N, M, D], M candidates per anchor; valid: optional bool
    [N, M] choosing the (anchor, negative) pairs that count (all if None). 0 when none is valid.
    `count` replaces the number of valid triplets as the divisor (e.g. their mean over replicas).
    PieNet (margin 0.2) uses it with unit vectors, where ||a - b||^2 = 2 - 2 cos(a, b).
    """
    anchor, positive, negatives = (ops.cast(t, "float32") for t in (anchor, positive, negatives))
    to_positive = ops.sum(ops.square(anchor - positive), axis=-1)  # [N]
    to_negatives = ops.sum(ops.square(anchor[:, None, :] - negatives), axis=-1)  # [N, M]
    hinge = ops.relu(to_positive[:, None] - to_negatives + margin)
    weights = ops.ones_like(hinge) if valid is None else ops.cast(valid, "float32")
    count = ops.sum(weights) if count is None else count
    return ops.sum(hinge * weights) / ops.maximum(count, 1.0)


def weighted_tv(images, guide):
    """Edge-aware total variation of `images`, weighted by exp(-|gradient of guide|) (PieNet's TV term).

    mean(exp(-|dx guide|) * |dx images|) + mean(exp(-|dy guide|) * |dy images|), with forward
    differences per channel: `images` are kept smooth where `guide` (the input photo) is flat, and
    left free to change across its edges.
    """
    images, guide = ops.cast(images, "float32"), ops.cast(guide, "float32")

    def term(diff):
        return ops.mean(ops.exp(-ops.abs(diff(guide))) * ops.abs(diff(images)))

    return (term(lambda t: t[:, :, 1:] - t[:, :, :-1])  # along W
            + term(lambda t: t[:, 1:] - t[:, :-1]))  # along H


def nonsaturating_d_loss(real_logits, fake_logits):
    """The logistic discriminator loss of StyleGAN2: mean(softplus(-D(real))) + mean(softplus(D(fake)))."""
    real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def nonsaturating_g_loss(fake_logits):
    """The non-saturating generator loss: mean(softplus(-D(G(z)))) = -mean(log sigmoid(D(G(z))))."""
    return ops.mean(ops.softplus(-ops.cast(fake_logits, "float32")))


def r1_penalty(critic, real):
    """R1 (Mescheder et al. 2018): mean over the images of ||grad_x sum(critic(x))||^2 at real x.

    StyleGAN2 weighs it by gamma / 2 (and by the interval when it is applied lazily). Differentiable
    with respect to the critic's weights when called under an outer tf.GradientTape.
    """
    real = tf.convert_to_tensor(real)
    with tf.GradientTape() as tape:
        tape.watch(real)
        score = tf.reduce_sum(tf.cast(critic(real), tf.float32))
    grads = tf.cast(tape.gradient(score, real), tf.float32)
    return tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=list(range(1, grads.shape.rank))))
