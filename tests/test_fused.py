"""The speed-ups change no result: the fused Adam and batch norm equal Keras' own, and importing the
package switches TensorFlow's oneDNN kernels on (an explicit setting wins)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import common
from common import layers, optimizers
from dcgan_tf import DCGAN
from dpe_tf.model import DPE
from pienet_tf.model import PieNet
from pix2pix_tf import Pix2Pix

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _op_types(function, *args):
    """The op types in the graph that tf.function `function` traces, nested functions included:
    so that a test of a fused path also fails when the code quietly takes Keras' path."""
    graph = function.get_concrete_function(*args).graph.as_graph_def()
    return ({node.op for node in graph.node}
            | {node.op for f in graph.library.function for node in f.node_def})


def _adam_run(optimizer_class, strategy, **settings):
    """25 steps on three variables: their values and the moments, as each replica holds them, and
    the op types of the step."""
    rng = np.random.default_rng(0)
    shapes = [(3, 3, 4, 8), (8,), (1000,)]
    initial = [rng.standard_normal(s).astype("float32") for s in shapes]
    grads = [[rng.standard_normal(s).astype("float32") for s in shapes] for _ in range(25)]
    with strategy.scope():
        variables = [keras.Variable(v) for v in initial]
        optimizer = optimizer_class(**settings)
        optimizer.build(variables)

    # The gradients reach the step as captured values: as tf.function arguments, MirroredStrategy's
    # all-reduce in `apply` fails ("destinations can not be empty").
    holders = [tf.Variable(t) for t in grads[0]]
    step = tf.function(lambda: strategy.run(lambda: optimizer.apply(
        [tf.convert_to_tensor(h) for h in holders], variables)))
    for g in grads:
        for holder, value in zip(holders, g):
            holder.assign(value)
        step()
    state = variables + optimizer.variables[1:]  # after the step counter
    values = [np.asarray(t) for v in state for t in strategy.experimental_local_results(v.value)]
    return values, _op_types(step)


@pytest.mark.parametrize("beta_1, mirrored", [(0.5, False), (0.0, False), (0.5, True)])
def test_fused_adam_equals_keras_adam(beta_1, mirrored, two_cpu_strategy):
    """beta_1 0.5: pix2pix's and DCGAN's; 0: GPEN's. Mirrored: the update in each replica's copy."""
    strategy = two_cpu_strategy if mirrored else tf.distribute.get_strategy()
    settings = dict(learning_rate=1e-2, beta_1=beta_1, beta_2=0.99, epsilon=1e-8)
    expected, keras_ops = _adam_run(keras.optimizers.Adam, strategy, **settings)
    got, fused_ops = _adam_run(optimizers.Adam, strategy, **settings)
    assert "ResourceApplyAdam" in fused_ops and "ResourceApplyAdam" not in keras_ops
    assert len(got) == len(expected) == 10 * (2 if mirrored else 1)  # 3 weights, rate, 6 moments
    for e, g in zip(expected, got):  # weights, then the moments
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert np.abs(got[0] - np.random.default_rng(0).standard_normal((3, 3, 4, 8))).max() > 0.05


def _batch_norm_pass(cls, policy, x, dy):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(1)
    bn = cls(momentum=0.9, epsilon=1e-5, gamma_initializer=layers.normal(mean=1.0))
    bn.build(x.shape)
    inputs = tf.constant(x)
    outputs = []
    for _ in range(2):  # the second pass sees the moving statistics the first one updated
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = bn(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * dy)
        outputs += [y] + tape.gradient(loss, [inputs, bn.gamma, bn.beta])
    outputs += [bn.moving_mean, bn.moving_variance, bn(inputs, training=False)]
    return [np.asarray(tf.cast(t, tf.float32)) for t in outputs]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_equals_keras(policy):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 5, 6, 8)) * 3 + 1).astype("float32")
    dy = rng.standard_normal(x.shape).astype("float32")
    expected = _batch_norm_pass(keras.layers.BatchNormalization, policy, x, dy)
    got = _batch_norm_pass(layers.BatchNormalization, policy, x, dy)
    tolerance = 1e-5 if policy == "float32" else 1e-2  # bfloat16 outputs: 8 bits of mantissa
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=tolerance, atol=tolerance)
    assert not np.allclose(got[-3], 0) and not np.allclose(got[-2], 1)  # the statistics moved
    layer = layers.BatchNormalization()
    layer.build(x.shape)
    training = _op_types(tf.function(lambda t: layer(t, training=True)), tf.TensorSpec(x.shape))
    assert "FusedBatchNormV3" in training


def test_every_model_uses_the_fused_layers():
    models = [Pix2Pix(generator="unet_32", ngf=4, ndf=4), DCGAN(image_size=16, ngf=4, ndf=4),
              DPE(mode="supervised", image_size=64), PieNet(users=["a", "b"], image_size=64)]
    for model in models:
        model.compile()
        found = [layer for layer in model._flatten_layers()
                 if isinstance(layer, keras.layers.BatchNormalization)]
        assert found and all(isinstance(layer, layers.BatchNormalization) for layer in found)
        assert isinstance(model.g_optimizer, optimizers.Adam)


@pytest.mark.skipif(not common.X86, reason="the switch is for x86 CPUs")
@pytest.mark.parametrize("preset, expected", [(None, "1 True"), ("0", "0 False")])
def test_importing_a_model_package_switches_onednn_on(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if preset is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = preset
    code = ("import os, dcgan_tf; from common import runtime; "
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], runtime.onednn_enabled())")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.split("\n")[-2] == expected
