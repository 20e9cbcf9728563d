"""GAN losses, the gradient penalty and the learning-rate schedule against values worked out by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import losses, schedules


def test_gan_losses_known_values():
    zeros = np.zeros((2, 3, 3, 1), "float32")
    assert float(losses.gan_loss("vanilla", zeros, True)) == pytest.approx(math.log(2), 1e-6)
    big = np.full((1, 2, 2, 1), 20.0, "float32")
    assert float(losses.gan_loss("vanilla", big, True)) < 1e-8
    assert float(losses.gan_loss("vanilla", big, False)) == pytest.approx(20.0, 1e-5)
    half = np.full((1, 2), 0.5, "float32")
    assert float(losses.gan_loss("lsgan", half, True)) == pytest.approx(0.25)
    scores = np.array([[1.0, 3.0]], "float32")
    assert float(losses.gan_loss("wgangp", scores, True)) == pytest.approx(-2.0)
    assert float(losses.gan_loss("wgangp", scores, False)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="hinge"):
        losses.gan_loss("hinge", scores, True)


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = sum(w * x) has gradient w everywhere: the penalty is (||w|| - 1)^2 exactly.
    w = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype("float32")
    real = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype("float32")
    penalty = losses.gradient_penalty(lambda x: keras.ops.sum(x * w, axis=[1, 2, 3]), real, real + 1)
    assert float(penalty) == pytest.approx((np.linalg.norm(w) - 1.0) ** 2, rel=1e-5)


def test_l1():
    assert float(losses.l1(np.zeros(4), np.array([1.0, -1.0, 2.0, 0.0]))) == pytest.approx(1.0)


def test_linear_decay_matches_the_official_lambda_rule():
    # pix2pix: 100 constant + 100 decaying epochs; lr factor in epoch e = 1 - max(0, e+1-100)/101.
    lr = schedules.LinearDecay(2e-4, steps_per_epoch=10, constant_epochs=100, decay_epochs=100)
    for epoch in (0, 50, 99, 100, 150, 199):
        expected = 2e-4 * (1 - max(0, epoch + 1 - 100) / 101)
        for step in (epoch * 10, epoch * 10 + 9):
            assert float(lr(step)) == pytest.approx(expected, rel=1e-5)
    assert float(lr(10_000)) == 0.0  # never negative past the end
    assert schedules.LinearDecay.from_config(lr.get_config()).get_config() == lr.get_config()


def test_nonsaturating_losses_known_values():
    zeros = np.zeros((3, 1), "float32")
    assert float(losses.nonsaturating_d_loss(zeros, zeros)) == pytest.approx(2 * math.log(2), 1e-6)
    assert float(losses.nonsaturating_g_loss(zeros)) == pytest.approx(math.log(2), 1e-6)
    real, fake = np.array([[2.0], [-1.0]], "float32"), np.array([[0.5], [3.0]], "float32")
    softplus = lambda t: np.log1p(np.exp(t))  # noqa: E731
    expected = softplus(-real).mean() + softplus(fake).mean()
    assert float(losses.nonsaturating_d_loss(real, fake)) == pytest.approx(expected, 1e-6)
    assert float(losses.nonsaturating_g_loss(fake)) == pytest.approx(softplus(-fake).mean(), 1e-6)


def test_r1_penalty_of_known_critics_and_its_weight_gradient():
    x = np.random.default_rng(2).normal(size=(3, 4, 4, 2)).astype("float32")
    # critic(x) = sum(x^2) per image: gradient 2x, penalty mean_n 4 * sum(x_n^2).
    penalty = losses.r1_penalty(lambda t: tf.reduce_sum(t * t, axis=[1, 2, 3]), x)
    assert float(penalty) == pytest.approx(4 * np.mean(np.sum(x ** 2, axis=(1, 2, 3))), rel=1e-5)
    # critic(x) = a * sum(x): penalty a^2 * 32 per image, so d penalty / d a = 2 a * 32.
    a = tf.Variable(1.5)
    with tf.GradientTape() as tape:
        penalty = losses.r1_penalty(lambda t: a * tf.reduce_sum(t, axis=[1, 2, 3]), x)
    assert float(penalty) == pytest.approx(1.5 ** 2 * 32, rel=1e-6)
    assert float(tape.gradient(penalty, a)) == pytest.approx(2 * 1.5 * 32, rel=1e-6)


def test_triplet_known_values():
    # ||a - p||^2 = 0.4; the negatives lie at squared distances 2, 0.4 and 0 from a: hinges 0, 0.2, 0.6.
    anchor, positive = np.array([[1.0, 0.0]]), np.array([[0.8, 0.6]])
    negatives = np.array([[[0.0, 1.0], [0.8, -0.6], [1.0, 0.0]]])
    assert float(losses.triplet(anchor, positive, negatives)) == pytest.approx(0.8 / 3, rel=1e-6)
    valid = np.array([[True, True, False]])
    assert float(losses.triplet(anchor, positive, negatives, valid=valid)) == pytest.approx(0.1, rel=1e-6)
    assert float(losses.triplet(anchor, positive, negatives, margin=0.0, valid=valid)) == 0.0
    assert float(losses.triplet(anchor, positive, negatives, valid=np.zeros((1, 3), bool))) == 0.0
    # Two anchors, each with its own positive: the second one's triplets all have hinge 0.2 + 0.4.
    two = losses.triplet(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.8, 0.6], [0.0, 1.0]]),
                         np.array([negatives[0], [[0.0, 1.0]] * 3]))
    assert float(two) == pytest.approx((0.8 + 3 * 0.2) / 6, rel=1e-6)


def test_weighted_tv_known_value():
    images = np.array([[0.0, 1.0], [2.0, 4.0]], "float32")[None, :, :, None]
    guide = np.array([[0.0, 0.0], [1.0, 1.0]], "float32")[None, :, :, None]
    # Along W the guide is flat (weights 1): |1|, |2|. Along H it steps by 1 (weights e^-1): |2|, |3|.
    expected = (1 + 2) / 2 + np.exp(-1.0) * (2 + 3) / 2
    assert float(losses.weighted_tv(images, guide)) == pytest.approx(expected, rel=1e-6)
    guide = np.random.default_rng(0).uniform(size=(2, 4, 5, 3))
    assert float(losses.weighted_tv(np.ones((2, 4, 5, 3)), guide)) == 0.0  # flat images: no variation
