"""GPEN (Yang et al., CVPR 2021) as a Keras model: the two training stages of the paper.

- ``stage="prior"``: the GAN prior. The decoder (a StyleGAN2 generator whose noise inputs are the
  encoder's feature maps in the full network) is trained as a GAN on clean faces, from z ~ N(0, 1) and
  N(0, 1) maps in place of the features; the encoder is not trained.
- ``stage="restore"``: the whole generator (encoder + decoder) on (degraded, clean) pairs, usually
  started from a prior-stage checkpoint with `load_prior`.

Values are in [-1, 1] (StyleGAN2's). `call(images)` restores degraded faces [N, size, size, 3].
"""

import os
import warnings

import h5py
import keras
import numpy as np
import tensorflow as tf

from common import data, distribute, losses, metrics, optimizers
from common.gan import GANModel, run_if
from gpen_tf import networks
from gpen_tf.options import EMA_DECAY, STAGES

VALUE_RANGE = (-1.0, 1.0)
_FEATURE_EPS = 1e-8  # inside the square root of the feature distance: finite gradient at 0
PATH_DECAY = 0.01  # official g_path_regularize: the running mean's step towards each batch's mean


def feature_matching(fake_features, real_features):
    """The paper's L_F: sum over the layers of ||D_t(fake) - D_t(real)||_2 (per image), batch mean.

    The released code has no feature-matching term; this follows the paper's formula (Eq. 3), with the
    Euclidean norm of each layer's whole feature map, not squared.
    """
    total = 0.0
    for fake, real in zip(fake_features, real_features):
        diff = tf.cast(fake, tf.float32) - tf.cast(real, tf.float32)
        squares = tf.reduce_sum(tf.square(diff), axis=list(range(1, diff.shape.rank)))
        total += tf.reduce_mean(tf.sqrt(squares + _FEATURE_EPS))
    return total


def path_lengths(synthesis, styles, maps, projection):
    """Per image, sqrt(mean over the layers of ||d sum(image * projection) / d w_k||^2): StyleGAN2's
    path length (official g_path_regularize), of the synthesis network at per-layer styles `styles`
    and maps `maps`, with `projection` a random image scaled by 1 / sqrt(H * W). Differentiable with
    respect to the network's weights and its inputs under an outer tf.GradientTape."""
    with tf.GradientTape() as tape:
        tape.watch(styles)
        image = synthesis(styles + maps, training=True)
        projected = tf.reduce_sum(tf.cast(image, tf.float32) * projection)
    grads = tape.gradient(projected, styles)
    squares = tf.stack([tf.reduce_sum(tf.square(tf.cast(g, tf.float32)), axis=1) for g in grads], axis=1)
    return tf.sqrt(tf.reduce_mean(squares, axis=1))


def lazy_adam(learning_rate, reg_every):
    """StyleGAN2's Adam for a network regularised every `reg_every` steps (official train_simple.py).

    A lazy regulariser adds 1/reg_every extra optimizer steps per step, so the rate is multiplied by
    c = reg_every / (reg_every + 1) and the betas (0, 0.99) raised to the power c. Of a learning-rate
    schedule, the `learning_rate` or `initial_learning_rate` in its config is scaled (common.schedules
    and keras' decays); another schedule is used as given.
    """
    ratio = reg_every / (reg_every + 1)
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        config = learning_rate.get_config()
        for key in ("learning_rate", "initial_learning_rate"):
            if key in config:
                config[key] *= ratio
                learning_rate = type(learning_rate).from_config(config)
                break
    else:
        learning_rate = learning_rate * ratio
    return optimizers.Adam(learning_rate, beta_1=0.0 ** ratio, beta_2=0.99 ** ratio, epsilon=1e-8)


@keras.saving.register_keras_serializable(package="gpen_tf")
class GPEN(GANModel):
    """GPEN with the paper's BFR-512 defaults (size 512, channel_multiplier 2, narrow 1, style 512).

    Networks: `generator` (degraded -> restored face, the one trained), made of the sub-models
    `encoder()` and `decoder()`; `generator_ema`, its exponential moving average (official `g_ema`,
    decay `ema_decay` per step), which is what `call`, evaluation, the sample grids and the export
    run, as the official code samples, validates and releases g_ema; `discriminator` (one logit per
    image).

    Batches: stage prior, clean faces [N, size, size, 3] (of a tuple, the last element that is not
    None, so (degraded, clean) pairs serve too); stage restore, (degraded, clean) pairs.
    Every step, as the official train_simple.py (path length and EMA also as rosinality's StyleGAN2):
      1. D: softplus(-D(real)) + softplus(D(fake)), fakes from the generator (restore) or from the
         decoder on random z and maps (prior).
      2. Every `d_reg_every`-th step (0, 16, 32, ...), a second D step on r1_gamma / 2 * R1 * d_reg_every
         (lazy R1 on the clean faces).
      3. G (against the updated D, on new fakes): softplus(-D(fake)); in stage restore plus
         l1_weight * L1(fake, clean) + feature_weight * `feature_matching` over D's conv features
         (the paper's losses: 1 and 0.02). Stage prior trains only the decoder.
      4. Every `g_reg_every`-th step (0, 4, 8, ...), a second G step on path_regularize * g_reg_every
         * mean((L - a)^2), L the `path_lengths` of the synthesis network at the batch's styles and
         maps, a the running mean of L (moved 0.01 of the way to this batch's mean first). Off with
         path_regularize=0.
      5. The EMA generator takes a step towards the generator.
    Left out: style mixing and the released code's identity (ArcFace) loss. The step counter, the last
    R1 and path-length values, the running mean path length and the EMA generator are model
    variables, so `.weights.h5` checkpoints resume exactly.
    """

    def __init__(self, size=512, channel_multiplier=2, narrow=1.0, stage="restore", style_dim=512,
                 n_mlp=8, lr_mlp=0.01, l1_weight=1.0, feature_weight=0.02, r1_gamma=10.0,
                 d_reg_every=16, g_reg_every=4, path_regularize=2.0, ema_decay=EMA_DECAY, **kwargs):
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        networks.check_size(size)
        for key, value in (("d_reg_every", d_reg_every), ("g_reg_every", g_reg_every)):
            if int(value) < 1:
                raise ValueError(f"{key} must be at least 1, got {value}")
        names = ["d_loss", "real_score", "fake_score", "g_loss"]
        if stage == "restore":
            names += ["g_adv", "g_l1", "g_feature"]
        names += ["psnr", "ssim", "l1"] if stage == "restore" else ["swd"]  # test_step's
        super().__init__(names, **kwargs)
        self.options = dict(
            size=size, channel_multiplier=channel_multiplier, narrow=narrow, stage=stage,
            style_dim=style_dim, n_mlp=n_mlp, lr_mlp=lr_mlp, l1_weight=l1_weight,
            feature_weight=feature_weight, r1_gamma=r1_gamma, d_reg_every=d_reg_every,
            g_reg_every=g_reg_every, path_regularize=path_regularize, ema_decay=ema_decay)
        self.stage = stage
        arch = dict(channel_multiplier=channel_multiplier, narrow=narrow)
        self.generator = networks.generator(size, style_dim=style_dim, n_mlp=n_mlp, lr_mlp=lr_mlp,
                                            **arch)
        self.generator_ema = networks.generator(size, style_dim=style_dim, n_mlp=n_mlp, lr_mlp=lr_mlp,
                                                name="generator_ema", **arch)
        self.generator_ema.trainable = False
        self.reset_average()
        self.discriminator = networks.discriminator(size, **arch)
        self.noise_shapes = networks.noise_shapes(size, **arch)
        state = dict(trainable=False, autocast=False, aggregation="only_first_replica")
        self.train_steps = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                           name="train_steps", **state)
        self.last_r1 = self.add_weight(shape=(), dtype="float32", initializer="zeros",
                                       name="last_r1", **state)
        self.last_path = self.add_weight(shape=(), dtype="float32", initializer="zeros",
                                         name="last_path", **state)
        self.mean_path_length = self.add_weight(shape=(), dtype="float32", initializer="zeros",
                                                name="mean_path_length", **state)
        self.built = True

    # Sub-models are reached through methods, not attributes: Keras saves every attribute that is a
    # layer, so an `encoder` attribute would store its weights a second time in each checkpoint.

    def decoder(self):
        """The StyleGAN2 generator [z, noise_4, ..., noise_size] -> image (`networks.parts`)."""
        return networks.parts(self.generator).decoder

    def encoder(self):
        return networks.parts(self.generator).encoder

    def reset_average(self):
        """Make the EMA generator equal to the generator (at the start, and after setting weights)."""
        self.generator_ema.set_weights(self.generator.get_weights())

    def _averaged(self):
        """(EMA variables, the generator variables they follow): those the stage trains."""
        if self.stage == "prior":
            return (networks.parts(self.generator_ema).decoder.weights, self.decoder().weights)
        return self.generator_ema.weights, self.generator.weights

    def call(self, inputs, training=False):
        return self.generator_ema(inputs, training=training)

    # -- optimizers --------------------------------------------------------------------------------

    learning_rate = 0.002  # official --lr
    # The R1 penalty and the path length regularizer take second derivatives; in float16 R1 moved
    # 0.7% from float32 on the same critic and batch (BUILD_NOTES.md "Precision"), and the official
    # code trains in float32: `auto` keeps float32 on GPUs without bfloat16.
    GPU_FLOAT16 = False

    def default_optimizers(self, learning_rate):
        # Official: both Adam with the lazy-regularisation adjustment, G for path length every 4 steps
        # (kept with path_regularize=0, as the official rate does not depend on it) and D for R1
        # every 16.
        return (lazy_adam(learning_rate, self.options["g_reg_every"]),
                lazy_adam(learning_rate, self.options["d_reg_every"]))

    @property
    def generator_variables(self):
        if self.stage == "prior":
            return self.decoder().trainable_variables
        return self.generator.trainable_variables

    # -- training ----------------------------------------------------------------------------------

    def _unpack(self, batch):
        """(degraded or None, clean) from a batch of the stage."""
        if self.stage == "prior":
            if isinstance(batch, (tuple, list)):  # x alone comes as (x, None, None) from keras
                batch = [t for t in batch if t is not None][-1]
            return None, batch
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("GPEN stage restore needs batches (degraded, clean)")
        return batch[0], batch[1]

    def prior_inputs(self, batch_size, seed=None):
        """Decoder inputs [z, noise_4, ..., noise_size], all N(0, 1): random, or NumPy from `seed`."""
        shapes = [(self.options["style_dim"],)] + self.noise_shapes
        if seed is None:
            return [distribute.replica_normal([batch_size, *s], self.noise_seed) for s in shapes]
        rng = np.random.default_rng(seed)
        return [rng.standard_normal((batch_size, *s)).astype(np.float32) for s in shapes]

    def _fake(self, degraded, clean, training, generator=None):
        generator = generator or self.generator
        if self.stage == "prior":
            return networks.parts(generator).decoder(self.prior_inputs(tf.shape(clean)[0]),
                                                     training=training)
        return generator(degraded, training=training)

    def train_step(self, batch):
        degraded, clean = self._unpack(batch)
        step = tf.convert_to_tensor(self.train_steps)
        d_values = self._discriminator_step(degraded, clean)
        run_if(tf.equal(step % self.options["d_reg_every"], 0), self._r1_step, clean)
        g_values = self._generator_step(degraded, clean)
        regularized = {"r1": self.last_r1}
        if self.options["path_regularize"]:
            run_if(tf.equal(step % self.options["g_reg_every"], 0), self._path_length_step,
                   clean if degraded is None else degraded)
            regularized.update(path=self.last_path, path_length=self.mean_path_length)
        distribute.update_average(*self._averaged(), self.options["ema_decay"])
        self.train_steps.assign(step + 1)
        # The last regularisation values computed, as the official log shows them.
        return {**self.track(**d_values, **g_values),
                **self.replica_logs({k: tf.convert_to_tensor(v) for k, v in regularized.items()})}

    def _discriminator_step(self, degraded, clean):
        fake = tf.stop_gradient(self._fake(degraded, clean, training=True))
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(clean, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = losses.nonsaturating_d_loss(real_logits, fake_logits)
        self.minimize(tape, d_loss, self.d_optimizer, self.discriminator_variables)
        return dict(d_loss=d_loss, real_score=tf.reduce_mean(tf.cast(real_logits, tf.float32)),
                    fake_score=tf.reduce_mean(tf.cast(fake_logits, tf.float32)))

    def _r1_step(self, clean):
        o = self.options
        with tf.GradientTape() as tape:
            penalty = losses.r1_penalty(lambda x: self.discriminator(x, training=True), clean)
            loss = o["r1_gamma"] / 2.0 * penalty * o["d_reg_every"]
        self._minimize_penalty(tape, loss, self.d_optimizer, self.discriminator_variables)
        self.last_r1.assign(penalty)

    def _minimize_penalty(self, tape, loss, optimizer, variables):
        """`minimize` for a penalty on gradients (R1, path length). A bias that only shifts an
        output (the score's for R1, the to_rgb layers' for path length) does not change those
        gradients, so it gets none: the optimizer skips it, as PyTorch's Adam skips a parameter
        without a gradient, and Keras' warning naming each such variable is held back."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Gradients do not exist")
            self.minimize(tape, loss, optimizer, variables)

    def _path_length_step(self, faces):
        """`faces`: the degraded faces (restore), or the clean ones (prior: only their number counts)."""
        o = self.options
        parts = networks.parts(self.generator)
        batch = tf.shape(faces)[0]
        with tf.GradientTape() as tape:
            if self.stage == "prior":
                z, *maps = self.prior_inputs(batch)
            else:
                z, *maps = parts.encoder(faces, training=True)
            w = parts.mapping(z, training=True)
            styles = [tf.identity(w) for _ in range(networks.num_styles(o["size"]))]
            size = o["size"]
            projection = distribute.replica_normal([batch, size, size, 3], self.noise_seed) / size
            lengths = path_lengths(parts.synthesis, styles, maps, projection)
            # As the official code on each device, the penalty's mean is this replica's; the stored
            # running mean follows the mean over all replicas, so that every replica keeps the same.
            mean = self.mean_path_length + PATH_DECAY * (tf.reduce_mean(lengths) - self.mean_path_length)
            penalty = tf.reduce_mean(tf.square(lengths - mean))
            loss = o["path_regularize"] * o["g_reg_every"] * penalty
        self._minimize_penalty(tape, loss, self.g_optimizer, self.generator_variables)
        overall = tf.distribute.get_replica_context().all_reduce("mean", tf.reduce_mean(lengths))
        self.mean_path_length.assign(self.mean_path_length + PATH_DECAY * (overall - self.mean_path_length))
        self.last_path.assign(penalty)

    def _generator_step(self, degraded, clean):
        o = self.options
        features = networks.discriminator_features(self.discriminator)
        if self.stage == "restore":
            real_features = features(clean, training=True)[:-1]
        with tf.GradientTape() as tape:
            fake = self._fake(degraded, clean, training=True)
            *fake_features, fake_logits = features(fake, training=True)
            adversarial = losses.nonsaturating_g_loss(fake_logits)
            if self.stage == "prior":
                g_loss = adversarial
            else:
                l1 = losses.l1(fake, clean)
                feature = feature_matching(fake_features, real_features)
                g_loss = adversarial + o["l1_weight"] * l1 + o["feature_weight"] * feature
        self.minimize(tape, g_loss, self.g_optimizer, self.generator_variables)
        if self.stage == "prior":
            return dict(g_loss=g_loss)
        return dict(g_loss=g_loss, g_adv=adversarial, g_l1=l1, g_feature=feature)

    # -- evaluation --------------------------------------------------------------------------------

    def test_step(self, batch):
        """Restore: PSNR and SSIM (uint8-quantized, common.metrics) and L1 of the restored faces.
        Prior: the sliced Wasserstein distance between the clean faces and as many decoder samples.
        Both of the EMA generator."""
        degraded, clean = self._unpack(batch)
        to_unit = lambda t: tf.cast(t, tf.float32) * 0.5 + 0.5  # noqa: E731
        if self.stage == "prior":
            fake = self._fake(None, clean, training=False, generator=self.generator_ema)
            return self.track(swd=tf.reduce_mean(metrics.swd_levels(to_unit(clean), to_unit(fake))))
        restored = self.generator_ema(degraded, training=False)
        return self.track(psnr=tf.reduce_mean(metrics.psnr(to_unit(restored), to_unit(clean))),
                          ssim=tf.reduce_mean(metrics.ssim(to_unit(restored), to_unit(clean))),
                          l1=losses.l1(restored, clean))

    def sample_rows(self, batch):
        """Restore: degraded | restored | clean per example. Prior: clean | a decoder sample from a
        fixed latent (the same every epoch), as uint8. Both of the EMA generator."""
        degraded, clean = self._unpack(batch)
        if self.stage == "prior":
            decoder = networks.parts(self.generator_ema).decoder
            shown = [clean, decoder(self.prior_inputs(clean.shape[0], seed=0), training=False)]
        else:
            shown = [degraded, self(degraded, training=False), clean]
        rows = [data.from_range(t, VALUE_RANGE).numpy() for t in shown]
        return [list(row) for row in zip(*rows)]

    # -- the two stages ----------------------------------------------------------------------------

    def load_prior(self, path):
        """Copy the decoder (of the generator and of the EMA generator) and discriminator weights of a
        prior-stage checkpoint into this model.

        `path` is a `.weights.h5` written by `save_weights` of a GPEN with the same size, channel
        multiplier, narrow, style_dim and n_mlp (of stage prior; a restore-stage one works too).
        The encoder, the optimizers and the step counter are left as they are.
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(f"prior weights {path!r}: no such file")
        prior = GPEN(**{**self.options, "stage": "prior"})
        # Keras loads what matches by position and ignores the rest of a larger file: compare first.
        groups = ["generator", "generator_ema", "discriminator"]
        expected = sorted(tuple(v.shape) for group in groups for v in getattr(prior, group).weights)
        try:
            if _stored_shapes(path, groups) != expected:
                raise ValueError("its generator and discriminator weights have other shapes")
            prior.load_weights(path)
        except (ValueError, KeyError, OSError) as error:
            o = self.options
            raise ValueError(
                f"prior weights {path!r} are not those of a GPEN(size={o['size']}, channel_multiplier="
                f"{o['channel_multiplier']}, narrow={o['narrow']}, style_dim={o['style_dim']}, "
                f"n_mlp={o['n_mlp']}): {error}") from error
        self.decoder().set_weights(prior.decoder().get_weights())
        networks.parts(self.generator_ema).decoder.set_weights(
            networks.parts(prior.generator_ema).decoder.get_weights())
        self.discriminator.set_weights(prior.discriminator.get_weights())


def _stored_shapes(path, groups):
    """Sorted shapes of the arrays under the top-level `groups` of a Keras `.weights.h5` file."""
    shapes = []
    with h5py.File(path, "r") as f:
        for group in groups:
            if group not in f:
                raise ValueError(f"it has no {group!r} weights")
            f[group].visititems(
                lambda _, item: shapes.append(item.shape) if isinstance(item, h5py.Dataset) else None)
    return sorted(shapes)
