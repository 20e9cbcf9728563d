"""Training under a tf.distribute strategy: who writes what, and the Keras/TF bugs worked around.

Under `MultiWorkerMirroredStrategy` every worker runs the same program. Only the chief (task `chief`,
or worker 0 when the cluster has no chief) writes what a user sees: checkpoints, sample grids,
TensorBoard logs and the export. The other workers still run the same saving code, because reading
synchronised variables is a collective that every worker must join; they write into a throwaway
folder that is removed at once (the pattern of TensorFlow's multi-worker guide). All workers read
checkpoints from the same `model_dir`, which must be on a file system that every worker sees.

The workarounds below are the only places where this package reaches into Keras internals; each
names the upstream behaviour it works around, so that it can go when that is fixed.
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf


def is_chief(strategy=None):
    """Whether this process writes the files of a run (always true outside multi-worker training)."""
    return (strategy or tf.distribute.get_strategy()).extended.should_checkpoint


@contextlib.contextmanager
def chief_path(path, strategy=None):
    """Where this process writes `path`: `path` itself on the chief; on another worker a path in a
    private temporary folder that is removed when the block ends."""
    if is_chief(strategy):
        yield path
        return
    scratch = tempfile.mkdtemp(prefix="worker-scratch-")
    try:
        yield os.path.join(scratch, os.path.basename(os.path.normpath(path)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def in_multi_worker_mode(strategy):
    """True for a MultiWorkerMirroredStrategy with a cluster of several tasks (from TF_CONFIG)."""
    # The same test keras' trainer makes before it reduces logs across workers.
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def _worker_values(strategy, value):
    """The integer `value` of every replica in replica order (the chief's first): a collective."""
    values = strategy.gather(strategy.run(lambda: tf.constant([value], tf.int64)), axis=0)
    return values.numpy().tolist()


def same_on_every_worker(strategy, value):
    """Whether the integer `value` is the same in every worker process (a collective: every worker
    must call it). Used to check that all workers resume from the same checkpoint."""
    if not in_multi_worker_mode(strategy):
        return True
    return len(set(_worker_values(strategy, value))) == 1


def from_chief(strategy, value):
    """The chief's integer `value`, in every worker process (a collective: every worker must call
    it), e.g. a seed that one process draws and all must use."""
    if not in_multi_worker_mode(strategy):
        return value
    return int(_worker_values(strategy, value)[0])


def replica_share(draw, shape):
    """This replica's rows of `draw(global_shape)`, where `shape` is [this replica's batch, ...].

    Under a strategy every replica (and every worker, which runs the same program with the same
    seeds) would draw the same random numbers from the same seed state. Drawing for the global batch
    and keeping its own rows, N replicas draw what one device draws for the whole batch.
    """
    context = tf.distribute.get_replica_context()
    replicas, index = (1, 0) if context is None else (context.num_replicas_in_sync,
                                                      context.replica_id_in_sync_group)
    rows = shape[0]
    return draw([replicas * rows, *shape[1:]])[index * rows:(index + 1) * rows]


def update_average(averages, values, decay):
    """averages <- decay * averages + (1 - decay) * values, for lists of model variables, in a train
    step under any strategy (an exponential moving average of weights, e.g. GPEN's EMA generator).

    A mirrored variable cannot be assigned in a replica's step unless it was made with an
    aggregation, which layer weights are not; so the update is made in the cross-replica context,
    on every device's copy from that device's copy of the values (which the synchronised optimizer
    keeps equal), as keras' optimizers update their own EMA.
    """
    def update(strategy, pairs):
        for average, value in pairs:
            strategy.extended.update(
                average.value, lambda a, v: a.assign(decay * a + (1.0 - decay) * v),
                args=(value.value,), group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(
        update, tf.distribute.get_strategy(), list(zip(averages, values)))


def replica_normal(shape, seed_generator):
    """N(0, 1) noise for this replica's share of a batch (see `replica_share`)."""
    return replica_share(lambda full: keras.random.normal(full, seed=seed_generator), shape)


def split_cpu(count):
    """Split the CPU into `count` logical devices, so MirroredStrategy can be tried without GPUs.

    Must run before TensorFlow initialises its devices (before any op); afterwards it is an error
    unless the split is already the one asked for.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as err:
        raise RuntimeError(f"cannot split the CPU into {count} devices after TensorFlow has "
                           "started; do it first in the process") from err


class ReplicaSafeFit:
    """Mixin for keras.Model subclasses whose `fit` must work under every tf.distribute strategy.

    - `fit` and `evaluate` under a strategy first call `_maybe_symbolic_build`, which draws a batch
      from the epoch iterator (keras/src/backend/tensorflow/trainer.py, Keras 3.15). With
      `validation_steps` set, the cached validation iterator is then exhausted after the first
      epoch, so epoch 2 dies with StopIteration; under MultiWorkerMirroredStrategy the drawn `(a, b)`
      batch goes through `strategy.reduce`, which does not take nests. And after the draw `fit`
      resets the training iterator: the next iterator of a dataset with a seeded reshuffling
      `shuffle` starts at the next permutation, so a run under a strategy trained on other batches
      than the same run on one device. Our models are built in their constructor and compile builds
      both optimizers, so there is nothing to build: skip it.
    - Keras reduces each value a step returns with `strategy.reduce("MEAN", value, axis=0)` across
      workers, which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
      tensorflow/tensorflow#72388, closed there as a Keras 3 issue): `replica_logs` gives them an
      axis of length 1, which that reduction removes again.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if not self.built:
            raise ValueError(f"{type(self).__name__} must be built before fit or evaluate")

    @staticmethod
    def replica_logs(logs):
        """Scalar logs of a replica step in the form keras can reduce under every strategy."""
        if not in_multi_worker_mode(tf.distribute.get_strategy()):
            return logs
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}


class TensorBoard(keras.callbacks.TensorBoard):
    """keras' TensorBoard callback that writes only on the chief (elsewhere into a removed folder)."""

    def set_model(self, model):
        if not is_chief(model.distribute_strategy):
            self.log_dir = tempfile.mkdtemp(prefix="worker-logs-")
        super().set_model(model)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if not is_chief(self.model.distribute_strategy):
            shutil.rmtree(self.log_dir, ignore_errors=True)
