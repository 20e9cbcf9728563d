"""DPE: Deep Photo Enhancer (Chen et al., CVPR 2018) as a Keras model with the official training recipe.

Three modes, one model class:

- ``"2way"`` (default, the paper's method): unpaired batches (x from the input domain X, y from the
  retouched domain Y). Two global U-Nets, X->Y and Y->X, each with individual batch normalization
  (iBN: a second BN set, sharing every convolution, for the other generator's clipped output in the
  cycle pass), and two WGAN critics with the adaptive gradient-penalty weight (A-WGAN).
- ``"1way"``: one generator X->Y and one critic; the 2-way recipe restricted to that direction.
- ``"supervised"``: paired batches (input, retouched); the generator alone, trained for PSNR.

Values are floats in [0, 1]. `call(x)` is the X->Y generator. `dpe_tf/NOTES.md` lists where every
default comes from in the official code.
"""

import keras
import tensorflow as tf

from common import data, losses, metrics
from common.gan import GANModel, adam, run_if
from dpe_tf import networks
from dpe_tf.options import MODES

VALUE_RANGE = (0.0, 1.0)
SUPERVISED_LOSSES = ("psnr", "mse")
# The floor on a per-image MSE in the PSNR loss: 100 dB, the cap of common.metrics.psnr.
_MIN_MSE = 1e-10


def image_mse(a, b):
    """Per-image mean squared error, float32 [N] (official `img_L2_loss` on one image)."""
    diff = tf.cast(a, tf.float32) - tf.cast(b, tf.float32)
    return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


def mse(a, b):
    """Mean over the images of their MSE: the official identity ("data") and cycle ("constant") terms."""
    return tf.reduce_mean(image_mse(a, b))


def psnr_loss(output, target):
    """Mean over the images of log10(MSE): the supervised release's 'PSNR' loss (= -mean PSNR / 10).

    Minimising it maximises the mean per-image PSNR, which weights each photo's error relative to
    its own MSE (unlike a plain MSE over the batch). The MSE is floored at 1e-10 (100 dB).
    """
    return tf.reduce_mean(tf.math.log(tf.maximum(image_mse(output, target), _MIN_MSE))) / tf.math.log(10.0)


def adapt_gp_weight(step, penalty, weight, average, buffer, *, decay=0.99, bound=0.05, growth=2.0,
                    buffer_steps=50, warmup=1):
    """One A-WGAN update after a critic step, as the official 2-way `TF.py` (elementwise over critics).

    `penalty` is the raw (unweighted) gradient penalty of the critic step just taken, `step` that
    step's index from 0. From step `warmup` on, the moving average m <- decay * m + (1 - decay) * penalty;
    then, where no buffer runs (buffer == 0) and m > bound, the weight is multiplied by `growth`, a
    buffer of `buffer_steps` starts and m restarts from 0; finally every running buffer counts down.
    Returns the new (weight, average, buffer).
    """
    penalty = tf.cast(penalty, average.dtype)
    average = tf.where(step >= warmup, decay * average + (1.0 - decay) * penalty, average)
    grow = tf.logical_and(tf.equal(buffer, 0), average > bound)
    weight = tf.where(grow, weight * growth, weight)
    buffer = tf.where(grow, tf.cast(buffer_steps, buffer.dtype), buffer)
    average = tf.where(grow, tf.zeros_like(average), average)
    return weight, average, tf.maximum(buffer - 1, 0)


def _union(*variable_lists):
    """Variables of several lists, each once (iBN generators share their convolutions), in order."""
    seen = {}
    for variables in variable_lists:
        for v in variables:
            seen.setdefault(id(v), v)
    return list(seen.values())


@keras.saving.register_keras_serializable(package="dpe_tf")
class DPE(GANModel):
    """Deep Photo Enhancer with the official defaults (2-way GAN with iBN and A-WGAN, 512 x 512).

    Batches are `(x, y)` of float images in [0, 1], shape (N, image_size, image_size, channels):
    unpaired (x from the input domain, y from the retouched domain) in ``2way``; paired (input,
    retouched) in ``1way`` and ``supervised``.

    Networks: `generator` (X->Y, the enhancer `call` runs) and `discriminator` (the critic on Y). In
    ``2way`` also `generator_cycle` (X->Y with its cycle BN set), `inverse_generator` (Y->X),
    `inverse_generator_cycle` and `inverse_discriminator` (the critic on X, which, as the official
    critic B, scores generated images high and real ones low). In ``supervised`` there is no critic:
    `discriminator` and `d_optimizer` are None.

    GAN modes (official `TF.py` of the 2-way release): every batch one critic step, then every
    `critic_steps`-th batch (0, 50, 100, ...) one generator step on the same batch, against the updated
    critics. Critic loss (minimised) D(G(x)) - D(y) [+ F-critic: D_X(x) - D_X(F(y))] + lambda * P, with
    the critics fed generator outputs computed in inference mode and P the one-sided linear penalty
    mean(max(0, ||grad|| - 1)). Generator loss -D(G(x)) [+ D_X(F(y))] + identity_weight * (MSE(G(x), x)
    [+ MSE(F(y), y)]) [+ cycle_weight * (MSE(F'(clip(G(x))), x) + MSE(G'(clip(F(y))), y))], where F', G'
    are the generators with their cycle BN set. lambda follows `adapt_gp_weight` after every critic step.
    The step counter, lambda, its moving average and its buffer are non-trainable model variables, so
    `.weights.h5` checkpoints resume exactly.

    Supervised mode (official supervised release): the generator alone, minimising `psnr_loss`
    (``supervised_loss="psnr"``) or the batch MSE (``"mse"``).
    """

    def __init__(self, mode="2way", image_size=512, channels=3, identity_weight=1000.0,
                 cycle_weight=10000.0, critic_steps=50, gp_weight=10.0, gp_form="one_sided_linear",
                 adaptive_gp=True, gp_bound=0.05, gp_decay=0.99, gp_growth=2.0, gp_buffer_steps=50,
                 gp_warmup=1, supervised_loss="psnr", **kwargs):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if supervised_loss not in SUPERVISED_LOSSES:
            raise ValueError(f"supervised_loss must be one of {SUPERVISED_LOSSES}, got {supervised_loss!r}")
        if gp_form not in losses.GP_FORMS:
            raise ValueError(f"gp_form must be one of {losses.GP_FORMS}, got {gp_form!r}")
        if int(critic_steps) < 1:
            raise ValueError(f"critic_steps must be at least 1, got {critic_steps}")
        if mode == "supervised":
            names = ["g_loss", "g_mse"]
        elif mode == "1way":
            names = ["d_loss", "gp", "g_loss", "g_adv", "g_identity"]
        else:
            names = ["d_loss", "gp", "gp_inverse", "g_loss", "g_adv", "g_identity", "g_cycle"]
        self._train_names = names
        super().__init__(names + ["psnr", "ssim", "mse"], **kwargs)
        self.options = dict(
            mode=mode, image_size=image_size, channels=channels, identity_weight=identity_weight,
            cycle_weight=cycle_weight, critic_steps=critic_steps, gp_weight=gp_weight, gp_form=gp_form,
            adaptive_gp=adaptive_gp, gp_bound=gp_bound, gp_decay=gp_decay, gp_growth=gp_growth,
            gp_buffer_steps=gp_buffer_steps, gp_warmup=gp_warmup, supervised_loss=supervised_loss)
        self.mode = mode

        if mode == "2way":
            self.generator, self.generator_cycle = networks.generator_pair(
                image_size, channels, name="generator")
            self.inverse_generator, self.inverse_generator_cycle = networks.generator_pair(
                image_size, channels, name="inverse_generator")
        else:
            self.generator = networks.generator(image_size, channels)
        self.discriminator = (None if mode == "supervised"
                              else networks.discriminator(image_size, channels))
        if mode == "2way":
            self.inverse_discriminator = networks.discriminator(
                image_size, channels, name="inverse_discriminator")

        if mode != "supervised":
            critics = 2 if mode == "2way" else 1
            # A-WGAN state; "only_first_replica": every replica computes the same update.
            state = dict(trainable=False, autocast=False, aggregation="only_first_replica")
            self.train_steps = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                               name="train_steps", **state)
            self.gp_weights = self.add_weight(shape=(critics,), dtype="float32", name="gp_weights",
                                              initializer=keras.initializers.Constant(gp_weight), **state)
            self.gp_averages = self.add_weight(shape=(critics,), dtype="float32", initializer="zeros",
                                               name="gp_averages", **state)
            self.gp_buffers = self.add_weight(shape=(critics,), dtype="int64", initializer="zeros",
                                              name="gp_buffers", **state)
        self.built = True

    # -- optimizers --------------------------------------------------------------------------------

    learning_rate = 1e-5  # official netG/netD_base_learning_rate, both modes
    # float16 (measured on the CPU, BUILD_NOTES.md "Precision"): from keras' 2**15 the generator's
    # loss scale fell to 256 (2way) and 4096 (1way) before a step went through, each skipped step
    # costing critic_steps batches; and the critic's penalty would take second derivatives in it.
    # So `auto` keeps float32 on GPUs without bfloat16, and a chosen float16 starts at 2**7.
    GPU_FLOAT16 = False
    G_LOSS_SCALE = 2.0 ** 7

    def default_optimizers(self, learning_rate):
        # tf.train.AdamOptimizer's defaults: betas (0.9, 0.999), epsilon 1e-8.
        critic = None if self.mode == "supervised" else adam(learning_rate, 0.9)
        return adam(learning_rate, 0.9), critic

    @property
    def generator_variables(self):
        if self.mode == "2way":
            return _union(self.generator.trainable_variables, self.generator_cycle.trainable_variables,
                          self.inverse_generator.trainable_variables,
                          self.inverse_generator_cycle.trainable_variables)
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        if self.mode == "supervised":
            return None
        if self.mode == "2way":
            return _union(self.discriminator.trainable_variables,
                          self.inverse_discriminator.trainable_variables)
        return self.discriminator.trainable_variables

    # -- training ----------------------------------------------------------------------------------

    @staticmethod
    def _unpack(batch):
        """(x, y) from a batch (x, y) or keras' (x, y, sample_weight)."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("DPE needs batches (x, y): (input, target) or, in 2way, (input, photo)")
        return batch[0], batch[1]

    def train_step(self, batch):
        x, y = self._unpack(batch)
        if self.mode == "supervised":
            return self._supervised_step(x, y)
        penalties = self._critic_step(x, y)
        step = tf.convert_to_tensor(self.train_steps)
        if self.options["adaptive_gp"]:
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:  # lambda follows the penalty of the global batch, the same on every replica
                penalties = tf.distribute.get_replica_context().all_reduce("mean", penalties)
            o = self.options
            weight, average, buffer = adapt_gp_weight(
                step, penalties, *(tf.convert_to_tensor(v) for v in
                                   (self.gp_weights, self.gp_averages, self.gp_buffers)),
                decay=o["gp_decay"], bound=o["gp_bound"], growth=o["gp_growth"],
                buffer_steps=o["gp_buffer_steps"], warmup=o["gp_warmup"])
            self.gp_weights.assign(weight)
            self.gp_averages.assign(average)
            self.gp_buffers.assign(buffer)
        run_if(tf.equal(step % self.options["critic_steps"], 0), self._generator_step, x, y)
        self.train_steps.assign(step + 1)
        logs = {name: self._trackers[name].result() for name in self._train_names}
        weights = tf.convert_to_tensor(self.gp_weights)
        logs["lambda"] = weights[0]
        if self.mode == "2way":
            logs["lambda_inverse"] = weights[1]
        return self.replica_logs(logs)

    def _supervised_step(self, x, y):
        with tf.GradientTape() as tape:
            output = self.generator(x, training=True)
            error = mse(output, y)
            loss = psnr_loss(output, y) if self.options["supervised_loss"] == "psnr" else error
        self.minimize(tape, loss, self.g_optimizer, self.generator_variables)
        return self.track(g_loss=loss, g_mse=error)

    def _penalty(self, critic, real, fake):
        return losses.gradient_penalty(lambda t: critic(t, training=True), real, fake,
                                       form=self.options["gp_form"], seed_generator=self.noise_seed)

    def _critic_step(self, x, y):
        """One critic update on this batch; returns the raw penalties [critics] for A-WGAN."""
        # As the official code, the critics see generator outputs computed in inference mode.
        fake_y = tf.stop_gradient(self.generator(x, training=False))
        two_way = self.mode == "2way"
        if two_way:
            fake_x = tf.stop_gradient(self.inverse_generator(y, training=False))
        weights = tf.convert_to_tensor(self.gp_weights)
        with tf.GradientTape() as tape:
            d_y = self.discriminator
            penalty = self._penalty(d_y, y, fake_y)
            d_loss = (tf.reduce_mean(d_y(fake_y, training=True)) - tf.reduce_mean(d_y(y, training=True))
                      + weights[0] * penalty)
            penalties = [penalty]
            if two_way:
                # Official critic B, sign flipped: it scores real x low and generated F(y) high.
                d_x = self.inverse_discriminator
                penalty_x = self._penalty(d_x, x, fake_x)
                d_loss += (tf.reduce_mean(d_x(x, training=True))
                           - tf.reduce_mean(d_x(fake_x, training=True)) + weights[1] * penalty_x)
                penalties.append(penalty_x)
        self.minimize(tape, d_loss, self.d_optimizer, self.discriminator_variables)
        values = dict(d_loss=d_loss, gp=penalty)
        if two_way:
            values["gp_inverse"] = penalty_x
        self.track(**values)
        return tf.stack(penalties)

    def _generator_step(self, x, y):
        o = self.options
        with tf.GradientTape() as tape:
            fake_y = self.generator(x, training=True)
            adversarial = -tf.reduce_mean(self.discriminator(fake_y, training=True))
            identity = mse(fake_y, x)
            if self.mode == "2way":
                fake_x = self.inverse_generator(y, training=True)
                adversarial += tf.reduce_mean(self.inverse_discriminator(fake_x, training=True))
                identity += mse(fake_x, y)
                # Cycle pass: the other generator's BN set for the clipped output (iBN).
                x_back = self.inverse_generator_cycle(tf.clip_by_value(fake_y, 0.0, 1.0), training=True)
                y_back = self.generator_cycle(tf.clip_by_value(fake_x, 0.0, 1.0), training=True)
                cycle = mse(x_back, x) + mse(y_back, y)
            g_loss = adversarial + o["identity_weight"] * identity
            if self.mode == "2way":
                g_loss += o["cycle_weight"] * cycle
        self.minimize(tape, g_loss, self.g_optimizer, self.generator_variables)
        values = dict(g_loss=g_loss, g_adv=adversarial, g_identity=identity)
        if self.mode == "2way":
            values["g_cycle"] = cycle
        self.track(**values)

    # -- evaluation --------------------------------------------------------------------------------

    def test_step(self, batch):
        """PSNR and SSIM (uint8-quantized, common.metrics) and the float MSE of G(x) against y.

        With paired data y is x's retouched version. In 2way validation data may be unpaired; the
        same numbers are then reported against whatever y the batch holds.
        """
        x, y = self._unpack(batch)
        output = self.generator(x, training=False)
        return self.track(psnr=tf.reduce_mean(metrics.psnr(output, y)),
                          ssim=tf.reduce_mean(metrics.ssim(output, y)), mse=mse(output, y))

    def sample_rows(self, batch):
        """One row per example: input | output | target, as uint8."""
        x, y = self._unpack(batch)
        output = self(x, training=False)
        rows = [data.to_rgb(data.from_range(t, VALUE_RANGE)) for t in (x, output, y)]
        return [list(row) for row in zip(*(r.numpy() for r in rows))]
