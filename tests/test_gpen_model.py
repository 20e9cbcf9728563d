"""GPEN as a Keras model: official defaults, both stages, lazy R1, saving, load_prior, precision, XLA.

Tracing a GPEN train step (three discriminator passes, a double-backward R1 in a cond, Adam on ~90
variables) costs ~10 s on a 2-core CPU even at 16 x 16, so one restore-stage model is trained once
(module fixture, 17 steps: two R1 steps) and shared by the training, saving and evaluation tests.
XLA compiling a GAN step takes another ~20 s: it runs only with GPEN_SLOW_TESTS=1 (the networks'
XLA forward pass is always checked in test_gpen_networks.py).
"""

import inspect
import math
import os
import warnings

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from common import data, metrics, schedules
from gpen_tf import GPEN, networks
from gpen_tf.model import EMA_DECAY, VALUE_RANGE, feature_matching, lazy_adam, path_lengths

SIZE = 16
TINY = dict(size=SIZE, channel_multiplier=1, narrow=1 / 16, style_dim=16, n_mlp=2)
SLOW = os.environ.get("GPEN_SLOW_TESTS") == "1"
STEPS = 17  # R1 on steps 0 and 16


def _faces(n=4, seed=0):
    """Clean "faces" in [-1, 1] (blocky, learnable) and their degraded versions (darker, noisy)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-0.9, 0.9, (n, SIZE // 4, SIZE // 4, 3))
    clean = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2).astype("float32")
    degraded = np.clip(0.5 * clean + rng.normal(0, 0.1, clean.shape), -1, 1).astype("float32")
    return degraded, clean


def _l1(model, degraded, clean):
    """L1 of the trained generator (`model(...)` runs the slower-moving EMA generator)."""
    return float(np.mean(np.abs(model.generator(degraded) - clean)))


def _values(variables):
    return [v.numpy().copy() for v in variables]


@pytest.fixture(scope="module")
def trained():
    """A restore-stage model and the logs of STEPS steps on one batch, and the L1 before training."""
    keras.utils.set_random_seed(0)
    model = GPEN(**TINY)
    model.compile()
    degraded, clean = _faces()
    before = _l1(model, degraded, clean)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        logs = [model.train_on_batch(degraded, clean, return_dict=True) for _ in range(STEPS)]
    # R1 and path length leave the score's and the to_rgb biases without gradients, by design.
    assert not [w for w in said if "Gradients do not exist" in str(w.message)]
    return model, logs, before


# -- defaults and pure functions ------------------------------------------------------------------


def test_defaults_are_the_papers_bfr512():
    defaults = {k: p.default for k, p in inspect.signature(GPEN).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == dict(size=512, channel_multiplier=2, narrow=1.0, stage="restore", style_dim=512,
                            n_mlp=8, lr_mlp=0.01, l1_weight=1.0, feature_weight=0.02, r1_gamma=10.0,
                            d_reg_every=16, g_reg_every=4, path_regularize=2.0, ema_decay=EMA_DECAY)
    assert GPEN.learning_rate == 0.002
    assert EMA_DECAY == pytest.approx(0.997784, abs=1e-6)  # train_simple.py: 0.5 ** (32 / (10 * 1000))


def test_official_optimizers(trained):
    model = trained[0]
    # train_simple.py: lr * c and betas (0, 0.99) ** c, c = k / (k + 1), k = 4 (G) and 16 (D).
    for opt, ratio in ((model.g_optimizer, 4 / 5), (model.d_optimizer, 16 / 17)):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(0.002 * ratio)
        assert opt.beta_1 == 0.0 and opt.beta_2 == pytest.approx(0.99 ** ratio)
        assert opt.epsilon == 1e-8


def test_lazy_adam_scales_a_schedule_too():
    decay = schedules.LinearDecay(0.002, steps_per_epoch=10, constant_epochs=1, decay_epochs=1)
    opt = lazy_adam(decay, 16)
    assert float(opt.learning_rate) == pytest.approx(0.002 * 16 / 17)  # at step 0
    assert opt.beta_2 == pytest.approx(0.99 ** (16 / 17))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="stage must be one of"):
        GPEN(stage="finetune", **{k: v for k, v in TINY.items()})
    with pytest.raises(ValueError, match="size must be a power of two"):
        GPEN(**{**TINY, "size": 48})
    with pytest.raises(ValueError, match="d_reg_every must be at least 1"):
        GPEN(d_reg_every=0, **TINY)


def test_path_lengths_of_a_linear_synthesis_are_the_norms_of_its_jacobian():
    # image = sum_k styles_k @ A_k: the gradient of sum(image * y) by w_k is A_k y, per image.
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(3, 5)).astype("float32") for _ in range(2)]
    synthesis = lambda inputs, training: sum(  # noqa: E731
        tf.matmul(w, m) for w, m in zip(inputs[:2], a))
    styles = [tf.constant(rng.normal(size=(4, 3)), tf.float32) for _ in range(2)]
    y = rng.normal(size=(4, 5)).astype("float32")
    expected = np.sqrt(np.mean([np.sum((y @ m.T) ** 2, axis=1) for m in a], axis=0))
    np.testing.assert_allclose(path_lengths(synthesis, styles, [], y), expected, rtol=1e-5)


def test_feature_matching_is_the_sum_of_per_image_l2_distances():
    rng = np.random.default_rng(0)
    fake = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 2, 2, 5))]
    real = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 2, 2, 5))]
    expected = sum(np.mean(np.sqrt(np.sum((f - r) ** 2, axis=(1, 2, 3)))) for f, r in zip(fake, real))
    assert float(feature_matching(fake, real)) == pytest.approx(expected, rel=1e-5)


# -- training --------------------------------------------------------------------------------------


def test_restore_stage_overfits_one_batch(trained):
    model, logs, before = trained
    assert all(np.isfinite(float(v)) for step in logs for v in step.values())
    assert set(logs[0]) == {"d_loss", "real_score", "fake_score", "g_loss", "g_adv", "g_l1",
                            "g_feature", "r1", "path", "path_length"}
    degraded, clean = _faces()
    assert _l1(model, degraded, clean) < 0.85 * before


def test_lazy_regularisation_runs_r1_every_16th_and_path_length_every_4th_step(trained):
    model, logs, _ = trained
    assert int(model.train_steps) == STEPS
    assert int(model.d_optimizer.iterations) == STEPS + 2  # the R1 steps of steps 0 and 16
    r1 = [float(step["r1"]) for step in logs]
    assert r1[0] > 0 and r1[1:16] == [r1[0]] * 15 and r1[16] != r1[0]
    assert int(model.g_optimizer.iterations) == STEPS + 5  # path length on steps 0, 4, 8, 12, 16
    path, length = [float(s["path"]) for s in logs], [float(s["path_length"]) for s in logs]
    assert all(path[k] == path[k - k % 4] for k in range(STEPS)) and len(set(path[::4])) == 5
    # The running mean starts at 0 and moves 1% of the way to each batch's mean length.
    assert 0 < length[0] < length[4] < length[16] and length[0] == length[3]


def test_evaluate_reports_psnr_ssim_and_sample_rows(trained):
    model = trained[0]
    degraded, clean = _faces()
    results = model.evaluate(degraded, clean, batch_size=4, verbose=0, return_dict=True)
    restored = model.predict(degraded, verbose=0)
    unit = lambda t: np.asarray(t) * 0.5 + 0.5  # noqa: E731
    assert results["psnr"] == pytest.approx(float(np.mean(metrics.psnr(unit(restored), unit(clean)))),
                                            rel=1e-4)
    assert results["ssim"] == pytest.approx(float(np.mean(metrics.ssim(unit(restored), unit(clean)))),
                                            rel=1e-4)
    rows = model.sample_rows((degraded, clean))
    assert len(rows) == 4 and len(rows[0]) == 3
    np.testing.assert_array_equal(rows[1][0], data.from_range(degraded[1], VALUE_RANGE))
    np.testing.assert_array_equal(rows[1][2], data.from_range(clean[1], VALUE_RANGE))


def test_the_ema_generator_follows_the_generator_on_two_replicas(two_cpu_strategy):
    # The EMA update runs in the cross-replica context (layer weights cannot be assigned in a
    # replica's step): each device's copy must take the step, from the synchronised weights.
    # (The path-length step, on step 0, runs its all-replica mean here too.) 8 px: a quicker trace.
    with two_cpu_strategy.scope():
        model = GPEN(**{**TINY, "size": 8}, ema_decay=0.25)
        model.compile()
    before = _values(model.generator.weights)
    assert all(np.array_equal(a, b) for a, b in zip(before, _values(model.generator_ema.weights)))
    degraded, clean = (faces[:, ::2, ::2] for faces in _faces())
    logs = model.train_on_batch(degraded, clean, return_dict=True)
    assert float(logs["path_length"]) > 0
    after = _values(model.generator.weights)
    for old, new, average in zip(before, after, model.generator_ema.weights):
        for copy in average.value.values:  # one per device
            np.testing.assert_allclose(copy.numpy(), 0.25 * old + 0.75 * new, atol=1e-6)
    assert not model.generator_ema.trainable_weights
    np.testing.assert_allclose(model.predict(degraded, verbose=0), model.generator_ema(degraded), atol=1e-5)


# -- saving and the two stages ---------------------------------------------------------------------


def test_weights_round_trip_restores_networks_state_and_optimizers(trained, tmp_path):
    model = trained[0]
    path = str(tmp_path / "gpen.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:  # each network once: no sub-model saved again under its own name
        assert set(f) == {"generator", "generator_ema", "discriminator", "g_optimizer", "d_optimizer",
                          "vars"}
    loaded = GPEN(**TINY)
    loaded.compile()
    loaded.load_weights(path)
    degraded, clean = _faces(seed=1)
    np.testing.assert_array_equal(loaded(degraded), model(degraded))
    np.testing.assert_array_equal(loaded.discriminator(clean), model.discriminator(clean))
    assert int(loaded.train_steps) == STEPS
    for name in ("last_r1", "last_path", "mean_path_length"):
        assert float(getattr(loaded, name)) == float(getattr(model, name)) != 0
    for a, b in ((loaded.g_optimizer, model.g_optimizer), (loaded.d_optimizer, model.d_optimizer)):
        assert all(np.array_equal(x, y) for x, y in zip(_values(a.variables), _values(b.variables)))


def test_keras_round_trip(trained, tmp_path):
    model = trained[0]
    path = str(tmp_path / "gpen.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GPEN) and loaded.options == model.options
    degraded, _ = _faces(seed=2)
    np.testing.assert_array_equal(loaded(degraded), model(degraded))


def test_load_prior_copies_decoder_and_discriminator(tmp_path):
    prior = GPEN(stage="prior", **TINY)
    prior.compile()  # its optimizer state is in the file too
    path = str(tmp_path / "prior.weights.h5")
    prior.save_weights(path)
    model = GPEN(**TINY)
    encoder = _values(model.encoder().weights)
    model.load_prior(path)
    ema = lambda m: networks.parts(m.generator_ema).decoder  # noqa: E731
    for mine, theirs in ((model.decoder(), prior.decoder()), (ema(model), ema(prior)),
                         (model.discriminator, prior.discriminator)):
        assert all(np.array_equal(a, b) for a, b in zip(_values(mine.weights), _values(theirs.weights)))
    assert all(np.array_equal(a, b) for a, b in zip(encoder, _values(model.encoder().weights)))

    other = str(tmp_path / "other.weights.h5")
    GPEN(stage="prior", **{**TINY, "size": 32}).save_weights(other)
    with pytest.raises(ValueError, match="other.weights.h5.*not those of a GPEN"):
        model.load_prior(other)
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        model.load_prior(str(tmp_path / "missing.weights.h5"))


def _prior_step_checks(model):
    _, clean = _faces()
    encoder, decoder = _values(model.encoder().weights), _values(model.decoder().trainable_weights)
    critic = _values(model.discriminator.trainable_weights)
    logs = model.train_on_batch(clean, return_dict=True)
    assert set(logs) == {"d_loss", "real_score", "fake_score", "g_loss", "r1", "path", "path_length"}
    assert float(logs["path_length"]) > 0  # step 0 regularises the path length of the decoder
    assert all(math.isfinite(float(v)) for v in logs.values())
    # The prior stage trains the decoder and the discriminator, never the encoder.
    assert all(np.array_equal(a, b) for a, b in zip(encoder, _values(model.encoder().weights)))
    changed = [not np.array_equal(a, b) for a, b in zip(decoder, _values(model.decoder().trainable_weights))]
    assert sum(changed) > 0.9 * len(changed)
    critic_changed = [not np.array_equal(a, b)
                      for a, b in zip(critic, _values(model.discriminator.trainable_weights))]
    assert all(critic_changed)
    return clean


def test_prior_stage_step_in_mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = GPEN(stage="prior", **TINY)
    model.compile()
    clean = _prior_step_checks(model)
    assert networks.parts(model.generator).synthesis.get_layer("conv_16").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_weights)
    assert model(clean).dtype == "float32"
    swd = model.evaluate(clean, batch_size=4, verbose=0, return_dict=True)["swd"]
    assert math.isfinite(swd) and swd > 0
    rows = model.sample_rows(clean)  # clean | a sample from a fixed latent, the same every time
    assert len(rows[0]) == 2
    np.testing.assert_array_equal(rows[0][1], model.sample_rows(clean)[0][1])


@pytest.mark.skipif(not SLOW, reason="XLA compile of a GAN step: set GPEN_SLOW_TESTS=1")
def test_prior_stage_xla_step():
    model = GPEN(stage="prior", **TINY)
    model.compile(jit_compile=True)
    _prior_step_checks(model)
