"""GAN losses, the gradient penalty and the learning-rate schedule against values worked out by hand."""

import math

import keras
import numpy as np
import pytest

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
