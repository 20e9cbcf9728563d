"""DPE as a Keras model: official defaults, the three training modes, A-WGAN, XLA, precision, saving.

Tracing a DPE train step is what costs time here, not running it at 64 x 64: a 2-way step (four
generator passes, two critics with a double-backward penalty, Adam on 224 variables) is a graph of
~37k ops, ~25 s to trace and another ~30 s for XLA to compile on a 2-core CPU. So each train step is
traced once and shared: the 1-way model of the schedule, A-WGAN and saving tests is one module fixture
(under the two-CPU MirroredStrategy, which exercises the cross-replica generator update).
The XLA compiles of the two GAN steps (~25 s and ~55 s) run only with DPE_SLOW_TESTS=1; the networks'
forward passes are always compiled with XLA (a supervised XLA train step cost ~9 s of compiling).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import losses, metrics
from dpe_tf.model import DPE, adapt_gp_weight, psnr_loss

SIZE = 64
SLOW = os.environ.get("DPE_SLOW_TESTS") == "1"
slow = pytest.mark.skipif(not SLOW, reason="XLA compile of a GAN step: set DPE_SLOW_TESTS=1")


def _pairs(n=2, seed=0):
    """Inputs in [0, 1] and their "retouched" versions: a fixed, learnable tone curve."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.05, 0.95, (n, SIZE // 8, SIZE // 8, 3))
    x = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)
    x = np.clip(x + rng.normal(0, 0.02, x.shape), 0, 1).astype("float32")
    return x, (x ** 0.6).astype("float32")


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, variables)]


# A WGAN critic cannot see a constant added to its score: with the score conv covering the whole last
# map, the last instance norm's offset and the score bias get no gradient from the loss or the penalty.
SCORE_OFFSETS = ("layer6_in/beta", "score_conv/bias")


def _critic_changed(before, variables):
    return [c for c, v in zip(_changed(before, variables), variables) if not v.path.endswith(SCORE_OFFSETS)]


def _steps(model, n, batch):
    logs = []
    for _ in range(n):
        logs.append(model.train_on_batch(*batch, return_dict=True))
    return logs


# -- defaults and pure functions ------------------------------------------------------------------


def test_defaults_are_the_official_ones():
    model = DPE()
    o = model.options
    assert o["mode"] == "2way" and o["image_size"] == 512
    assert (o["identity_weight"], o["cycle_weight"]) == (1000.0, 10000.0)
    assert (o["critic_steps"], o["gp_weight"], o["gp_form"]) == (50, 10.0, "one_sided_linear")
    assert (o["adaptive_gp"], o["gp_bound"], o["gp_decay"], o["gp_growth"]) == (True, 0.05, 0.99, 2.0)
    assert (o["gp_buffer_steps"], o["gp_warmup"], o["supervised_loss"]) == (50, 1, "psnr")
    count = lambda vs: sum(int(np.prod(v.shape)) for v in vs)
    assert count(model.generator.trainable_variables) == 3_335_395
    # Two generators, each with its two iBN sets over shared convolutions; two critics.
    assert count(model.generator_variables) == 2 * 3_338_115
    assert count(model.discriminator_variables) == 2 * 1_122_689
    np.testing.assert_array_equal(model.gp_weights.numpy(), [10.0, 10.0])
    model.compile()
    for opt in (model.g_optimizer, model.d_optimizer):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(1e-5)
        assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.999, 1e-8)
    assert len(model.g_optimizer.variables) > 2 * len(model.generator_variables)

    supervised = DPE(mode="supervised", image_size=SIZE)
    supervised.compile()
    assert supervised.discriminator is None and supervised.d_optimizer is None
    assert float(supervised.g_optimizer.learning_rate) == pytest.approx(1e-5)


def test_bad_options_are_named():
    for kwargs, word in [({"mode": "3way"}, "mode"), ({"supervised_loss": "l1"}, "supervised_loss"),
                         ({"gp_form": "huber"}, "gp_form"), ({"critic_steps": 0}, "critic_steps"),
                         ({"image_size": 96}, "multiple of 64")]:
        with pytest.raises(ValueError, match=word):
            DPE(**{"image_size": SIZE, "mode": "1way", **kwargs})


def test_adaptive_weight_follows_the_official_rule():
    # A penalty far above the bound: lambda doubles at step 1 (the moving average skips step 0), then
    # every 50 steps, once each buffer has run out; the average restarts from 0 at every doubling.
    weight, average, buffer = (tf.constant([10.0]), tf.constant([0.0]), tf.constant([0], tf.int64))
    history = []
    for step in range(120):
        weight, average, buffer = adapt_gp_weight(tf.constant(step, tf.int64), tf.constant([100.0]),
                                                  weight, average, buffer)
        history.append(float(weight[0]))
    assert history[0] == 10.0 and history[1] == 20.0
    assert history[50] == 20.0 and history[51] == 40.0 and history[101] == 80.0
    assert int(buffer[0]) == 50 - (119 - 101) - 1

    # A small penalty only moves the average: m = 0.01 * p after the first counted step.
    _, average, buffer = adapt_gp_weight(tf.constant(1, tf.int64), tf.constant([0.5, 0.0]),
                                         tf.constant([10.0, 10.0]), tf.constant([0.0, 0.0]),
                                         tf.constant([0, 3], tf.int64))
    np.testing.assert_allclose(average.numpy(), [0.005, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(buffer.numpy(), [0, 2])


def test_one_sided_linear_penalty():
    # critic(x) = sum(w * x) has gradient w: the official penalty is max(0, ||w|| - 1).
    real = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype("float32")
    for norm in (3.0, 0.5):
        w = np.full((1, 4, 4, 2), norm / np.sqrt(32), "float32")
        critic = lambda x: keras.ops.sum(x * w, axis=[1, 2, 3])
        value = losses.gradient_penalty(critic, real, real + 1, form="one_sided_linear")
        assert float(value) == pytest.approx(max(0.0, norm - 1.0), abs=1e-5)
        squared = losses.gradient_penalty(critic, real, real + 1)
        assert float(squared) == pytest.approx((norm - 1.0) ** 2, rel=1e-5)
    with pytest.raises(ValueError, match="form"):
        losses.gradient_penalty(critic, real, real, form="linear")


def test_psnr_loss_is_minus_a_tenth_of_the_mean_psnr():
    x, y = _pairs()
    expected = -np.mean(metrics.psnr(x, y, quantized=False).numpy()) / 10
    assert float(psnr_loss(x, y)) == pytest.approx(expected, rel=1e-5)


# -- supervised -----------------------------------------------------------------------------------


def test_supervised_overfits_a_batch():
    keras.utils.set_random_seed(0)  # the gain varies with the initialisation: 7-12 dB over seeds 0-4
    model = DPE(mode="supervised", image_size=SIZE)
    model.compile(learning_rate=1e-3)  # 1e-5 (official) needs epochs, not steps
    x, y = _pairs()

    def scores():
        output = model(x)
        return (np.mean(metrics.psnr(output, y)), np.mean(metrics.ssim(output, y)),
                np.mean((output.numpy() - y) ** 2))

    before = scores()
    logs = model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(), steps_per_epoch=60, epochs=1,
                     verbose=0).history
    after = scores()
    assert set(logs) == {"g_loss", "g_mse"}
    assert after[0] > before[0] + 5.0  # PSNR, dB
    assert after[1] > before[1] and after[2] < 0.5 * before[2]
    assert int(model.g_optimizer.iterations) == 60


def test_networks_compile_with_xla():
    # What --xla=auto compiles on a GPU: symmetric padding, SELU, the global path and the critic's
    # instance norm all lower to XLA and give the same numbers.
    model = DPE(mode="1way", image_size=SIZE)
    x = _pairs()[0]
    for network in (model.generator, model.discriminator):
        compiled = tf.function(lambda t, n=network: n(t, training=False), jit_compile=True)
        np.testing.assert_allclose(compiled(x), network(x, training=False), rtol=1e-4, atol=1e-5)


def test_sample_rows_are_input_output_target():
    model = DPE(mode="supervised", image_size=SIZE)
    x, y = _pairs()
    rows = model.sample_rows((x, y))
    assert len(rows) == 2 and all(len(r) == 3 for r in rows)
    assert rows[0][0].dtype == np.uint8 and rows[0][0].shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(rows[1][0], np.round(x[1] * 255).astype(np.uint8))
    np.testing.assert_array_equal(rows[1][2], np.round(y[1] * 255).astype(np.uint8))


def test_mixed_bfloat16_step_and_evaluation():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = DPE(mode="supervised", image_size=SIZE)
    model.compile()
    ds = tf.data.Dataset.from_tensors(_pairs())
    logs = model.fit(ds, validation_data=ds, epochs=1, verbose=0).history
    assert set(logs) == {"g_loss", "g_mse", "val_psnr", "val_ssim", "val_mse"}
    assert all(np.isfinite(v[-1]) for v in logs.values())
    output = model(_pairs()[0])
    assert logs["val_psnr"][-1] == pytest.approx(float(np.mean(metrics.psnr(output, _pairs()[1]))), abs=0.1)
    assert model.generator.get_layer("encoder").get_layer("enc2_conv").compute_dtype == "bfloat16"
    assert model(_pairs()[0]).dtype == tf.float32
    assert all(w.dtype == "float32" for w in model.generator.trainable_weights)


def test_float16_generator_updates_are_not_skipped():
    """Under mixed_float16 the generator's loss scale starts at 2**7 (DPE.G_LOSS_SCALE): at Keras'
    2**15 its scaled gradients overflow and the first generator updates are skipped (all of the first
    3 at this size, BUILD_NOTES.md), while the critic keeps the default."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = DPE(mode="1way", image_size=SIZE, critic_steps=1)
    model.compile()
    assert float(model.g_optimizer.dynamic_scale.numpy()) == 2.0 ** 7
    assert float(model.d_optimizer.dynamic_scale.numpy()) == 2.0 ** 15
    logs = _steps(model, 3, _pairs())
    assert all(np.isfinite(v) for log in logs for v in log.values())
    # A skipped update halves the scale and leaves the wrapped optimizer's step count behind.
    assert int(model.g_optimizer.iterations) == 3
    assert float(model.g_optimizer.dynamic_scale.numpy()) == 2.0 ** 7


# -- 1-way, under MirroredStrategy -----------------------------------------------------------------

ONE_WAY = dict(mode="1way", image_size=SIZE, critic_steps=3, gp_buffer_steps=4)


@pytest.fixture(scope="module")
def one_way(two_cpu_strategy):
    """A 1-way model on two replicas, shared by the tests below in file order (one trace)."""
    with two_cpu_strategy.scope():
        model = DPE(**ONE_WAY)
        model.compile()
    return model


def test_one_way_schedule_on_two_replicas(one_way):
    # The critic is updated on every batch, the generator on batches 0, 3, 6, ... (critic_steps=3);
    # on two replicas the generator update goes through a cond in the cross-replica context.
    model, batch = one_way, _pairs()
    assert model.distribute_strategy.num_replicas_in_sync == 2
    g_vars, d_vars = model.generator_variables, model.discriminator_variables
    for step in range(4):
        g0, d0 = _values(g_vars), _values(d_vars)
        logs = model.train_on_batch(*batch, return_dict=True)
        assert all(_critic_changed(d0, d_vars))
        assert all(_changed(g0, g_vars)) == (step % 3 == 0) and any(_changed(g0, g_vars)) == (step % 3 == 0)
    assert set(logs) == {"d_loss", "gp", "g_loss", "g_adv", "g_identity", "lambda"}
    assert all(np.isfinite(v) for v in logs.values()) and logs["lambda"] == 10.0
    assert model.train_steps.numpy() == 4
    assert (model.g_optimizer.iterations.numpy(), model.d_optimizer.iterations.numpy()) == (2, 4)


def test_lambda_doubles_under_a_large_penalty_and_the_buffer_holds_it(one_way):
    model, batch = one_way, _pairs()
    # Scale the critic's score so that ||grad D|| >> 1 everywhere: the penalty is large.
    score = model.discriminator.get_layer("score_conv")
    score.kernel.assign(score.kernel * 1e6)
    lambdas = [log["lambda"] for log in _steps(model, 6, batch)]
    assert float(model.gp_weights.numpy()[0]) == lambdas[-1]
    # Doubled on the first step, held for gp_buffer_steps = 4 steps, doubled again.
    assert lambdas == [20.0, 20.0, 20.0, 20.0, 40.0, 40.0]
    assert int(model.gp_buffers.numpy()[0]) == 2
    assert 0.0 < float(model.gp_averages.numpy()[0])


def test_state_survives_weights_and_keras_round_trips(one_way, tmp_path):
    model, x = one_way, _pairs()[0]
    expected = model(x).numpy()
    state = [v.numpy() for v in (model.train_steps, model.gp_weights, model.gp_averages,
                                 model.gp_buffers)]
    assert state[0] == 10 and state[1][0] == 40.0  # what the tests above left

    model.save_weights(tmp_path / "m.weights.h5")
    restored = DPE(**ONE_WAY)
    restored.compile()
    restored.load_weights(tmp_path / "m.weights.h5")
    for a, v in zip(state, (restored.train_steps, restored.gp_weights, restored.gp_averages,
                            restored.gp_buffers)):
        np.testing.assert_array_equal(v.numpy(), a)
    np.testing.assert_array_equal(restored(x).numpy(), expected)
    assert int(restored.g_optimizer.iterations) == model.g_optimizer.iterations.numpy()

    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, DPE) and loaded.options == model.options
    np.testing.assert_array_equal(loaded(x).numpy(), expected)
    np.testing.assert_array_equal(loaded.gp_weights.numpy(), state[1])
    assert int(loaded.train_steps.numpy()) == int(state[0])


@slow
def test_one_way_xla_step():
    model = DPE(mode="1way", image_size=SIZE, critic_steps=2)
    model.compile(jit_compile=True)
    logs = _steps(model, 3, _pairs())
    assert all(np.isfinite(v) for log in logs for v in log.values())
    assert (int(model.g_optimizer.iterations), int(model.d_optimizer.iterations)) == (2, 3)


# -- 2-way ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("jit_compile", [pytest.param(True, marks=slow), False])
def test_two_way_schedule_and_ibn(jit_compile):
    model = DPE(mode="2way", image_size=SIZE, critic_steps=2)
    model.compile(jit_compile=jit_compile)
    batch = _pairs()
    g_vars, d_vars = model.generator_variables, model.discriminator_variables
    # One conv set per direction, two BN sets each: the union counts every shared conv once.
    per_model = len(model.generator.trainable_variables)
    cycle_only = len([v for v in model.generator_cycle.trainable_variables if "_bn_cycle" in v.path])
    assert len(g_vars) == 2 * (per_model + cycle_only) and cycle_only > 0
    cycle_bn = [v for v in g_vars if "_bn_cycle" in v.path]
    moving = [v for m in (model.generator_cycle, model.inverse_generator_cycle)
              for v in m.non_trainable_variables if "_bn_cycle" in v.path]
    for step in range(3):
        g0, d0, c0, m0 = _values(g_vars), _values(d_vars), _values(cycle_bn), _values(moving)
        logs = model.train_on_batch(*batch, return_dict=True)
        assert all(_critic_changed(d0, d_vars))  # both critics, every batch
        g_step = step % 2 == 0
        assert all(_changed(g0, g_vars)) == g_step and any(_changed(g0, g_vars)) == g_step
        # iBN: the cycle BN sets are trained, and their statistics move, on generator steps only.
        assert all(_changed(c0, cycle_bn)) == g_step and all(_changed(m0, moving)) == g_step
    assert set(logs) == {"d_loss", "gp", "gp_inverse", "g_loss", "g_adv", "g_identity", "g_cycle",
                         "lambda", "lambda_inverse"}
    assert all(np.isfinite(v) for v in logs.values())
    assert (int(model.g_optimizer.iterations), int(model.d_optimizer.iterations)) == (2, 3)
