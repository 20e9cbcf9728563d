"""GANModel: the Keras Model base that holds two networks, two optimizers and the loss trackers.

Subclasses build `self.generator` and `self.discriminator` in their constructor and write `train_step`,
`test_step`, `default_optimizers` and `sample_rows`. The base gives them what every GAN here needs:
loss-scaled, replica-correct updates (`minimize`), metric trackers (`track`), `call` as inference, and
saving: optimizer state goes into `.weights.h5` with the networks, so a checkpoint resumes exactly.
"""

import keras
import tensorflow as tf

from common import distribute, layers, optimizers


def adam(learning_rate, beta_1):
    """Adam as PyTorch and TF1 define it (epsilon 1e-8; Keras' default is 1e-7), beta_2 0.999, with
    the fused update (common.optimizers)."""
    return optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=0.999, epsilon=1e-8)


def run_if(pred, fn, *args):
    """Runs `fn(*args)` (returning nothing) inside a replica step only where `pred` is true.

    A tf.cond in a replica context may not contain a cross-replica synchronisation (an optimizer
    update under MirroredStrategy calls `merge_call`). As keras' LossScaleOptimizer does, the cond is
    then taken in the cross-replica context and `fn` is run on every replica from there.
    """
    def run(call):
        call()
        return None

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(pred, lambda: run(lambda: fn(*args)), lambda: None)
        return

    def cross_replica(distribution, pred, *args):
        pred = distribution.experimental_local_results(pred)[0]
        tf.cond(pred,
                lambda: run(lambda: distribution.extended.call_for_each_replica(fn, args=args)),
                lambda: None)

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(pred, *args))


class GANModel(distribute.ReplicaSafeFit, keras.Model):
    """A generator and a discriminator trained with a custom `train_step`, under any strategy."""

    def __init__(self, metric_names, sync_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self._trackers = {n: keras.metrics.Mean(name=n) for n in metric_names}
        self.g_optimizer = None
        self.d_optimizer = None
        self.options = {}  # the constructor's arguments, which get_config returns
        # Under a strategy of several replicas batch norm sees the global batch; with False each
        # replica normalises its own share (as PyTorch's DataParallel) and keeps its own moving
        # statistics, of which checkpoints hold replica 0's.
        self.sync_batch_norm = sync_batch_norm
        # The state of every random draw of a train step (noise, gradient-penalty mixing), which
        # checkpoints keep (common.callbacks.random_state), so that a resumed run draws on as before.
        self.noise_seed = keras.random.SeedGenerator()

    def get_config(self):
        return {**super().get_config(), **self.options, "sync_batch_norm": self.sync_batch_norm}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    # -- compile ---------------------------------------------------------------------------------

    learning_rate = None  # the paper's, set by each model
    # Whether --mixed_precision=auto picks float16 for this model on a GPU without bfloat16
    # (runtime.auto_precision); False where float16 was measured to change its training.
    GPU_FLOAT16 = True
    # The generator optimizer's first loss scale under mixed_float16 (keras' is 2**15); a model whose
    # generator gradients overflow that starts lower, so that its first updates are not skipped.
    G_LOSS_SCALE = 2.0 ** 15

    def default_optimizers(self, learning_rate):
        """The paper's (generator, discriminator) optimizers with this rate (a float or a schedule)."""
        raise NotImplementedError

    def compile(self, g_optimizer=None, d_optimizer=None, learning_rate=None, **kwargs):
        """Compile with the paper's optimizers unless others are given.

        `learning_rate` (a float or a schedule) replaces the paper's in the default optimizers.
        Keyword arguments go to `keras.Model.compile` (`jit_compile`, `steps_per_execution`, ...).
        Under a `mixed_float16` policy both optimizers are wrapped in a `LossScaleOptimizer` (the
        generator's starting at G_LOSS_SCALE). Both are built here, so that this runs under a
        distribution strategy's scope and not lazily in a step.
        """
        if kwargs.pop("optimizer", None) is not None:
            raise TypeError("a GAN has two optimizers: pass g_optimizer= and d_optimizer=, "
                            "not optimizer=")
        super().compile(optimizer=None, **kwargs)
        default_g, default_d = self.default_optimizers(learning_rate or self.learning_rate)
        self.g_optimizer = self._prepare(g_optimizer or default_g, self.generator_variables,
                                         self.G_LOSS_SCALE)
        self.d_optimizer = self._prepare(d_optimizer or default_d, self.discriminator_variables)

    @property
    def generator_variables(self):
        """What `g_optimizer` trains; a model with several generators returns their union."""
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        """What `d_optimizer` trains; None for a model without a critic (then no d_optimizer)."""
        return self.discriminator.trainable_variables

    def _prepare(self, optimizer, variables, initial_scale=2.0 ** 15):
        if optimizer is None or variables is None:
            return None
        optimizer = keras.optimizers.get(optimizer)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=initial_scale)
        optimizer.build(variables)
        return optimizer

    def make_train_function(self, force=False):
        # Decided here, where the strategy the model trains under is known.
        layers.synchronize_batch_norm(self, self.sync_batch_norm
                                      and self.distribute_strategy.num_replicas_in_sync > 1)
        return super().make_train_function(force)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})

    # -- what a train_step uses ------------------------------------------------------------------

    def minimize(self, tape, loss, optimizer, variables):
        """Apply one optimizer step on `loss`, a mean over this replica's share of the batch.

        The gradients of all replicas are summed, so each replica's loss is divided by their number,
        which makes the update that of the mean over the global batch. With a LossScaleOptimizer the
        loss is also scaled; `apply` unscales and skips non-finite steps. Both factors enter as the
        output gradient, so `loss` is unchanged for reporting.
        """
        weight = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            weight = optimizer.scale_loss(weight)
        grads = tape.gradient(loss, variables, output_gradients=tf.cast(weight, loss.dtype))
        optimizer.apply(grads, variables)

    def track(self, **values):
        """Update the named trackers and return their running means, the logs `fit` prints."""
        for name, value in values.items():
            self._trackers[name].update_state(value)
        return self.replica_logs({name: self._trackers[name].result() for name in values})

    @property
    def metrics(self):
        return list(self._trackers.values())

    def sample_rows(self, batch):
        """Rows of uint8 images (a list of lists of [H, W, 3]) for the sample grid of `batch`."""
        raise NotImplementedError
