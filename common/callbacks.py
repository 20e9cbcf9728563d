"""Callbacks every model trains with: checkpoint/resume, sample grids, TensorBoard scalars."""

import json
import math
import os

import h5py
import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common import data, distribute, images, run_folder


_SAVING = "saving.weights.h5"  # where a checkpoint is written before it is renamed into place


class Checkpoint(keras.callbacks.Callback):
    """Save networks and optimizer state every epoch; resume from them when training starts again.

    The checkpoint is one file, `latest.weights.h5`: the networks and optimizer variables as Keras
    writes them, and in an attribute of it everything else that decides the rest of the run (epoch,
    model class and config, the state of the model's random number generators, which `.weights.h5`
    leaves out, the position in the training data stream, and `state`, e.g. the data seed). So it
    changes in one step: the file is written beside its place, synced and renamed onto it, and a run
    killed at any moment of a save resumes from the previous checkpoint or the new one, whole. With
    the data stream resumed at its position (`common.data.pipeline(start=...)`), a resumed run goes on
    as the uninterrupted one. `elements_per_epoch` (steps x global batch) counts the position.
    An epoch whose logs hold a NaN or infinity stops training without overwriting the last good one.
    Under multi-worker training only the chief writes, and every worker resumes from its files.
    """

    def __init__(self, directory, state=None, elements_per_epoch=None):
        super().__init__()
        self.directory = directory
        self.weights_path = os.path.join(directory, run_folder.WEIGHTS)
        self.state = dict(state or {})
        self.elements_per_epoch = elements_per_epoch
        self._resumed = (0, 0)  # (epoch, data position) this run started from

    def _describe(self):
        return {"model": type(self.model).__name__, "config": self.model.get_config()}

    def on_train_begin(self, logs=None):
        state = run_folder.read_state(self.directory)
        if not distribute.same_on_every_worker(self.model.distribute_strategy,
                                               state["epoch"] if state else 0):
            raise ValueError(f"the workers found different checkpoints in {self.directory}: "
                             "--model_dir must be on a file system that every worker sees")
        if state is None:
            return
        mine = self._describe()
        run_folder.check_model(self.directory, state, mine["model"])
        try:
            self.model.load_weights(self.weights_path)
        except Exception as err:
            changed = sorted(k for k in set(state["config"]) | set(mine["config"])
                             if state["config"].get(k) != mine["config"].get(k))
            raise ValueError(
                f"the checkpoint in {self.directory} does not fit this {mine['model']} (settings that "
                f"differ: {', '.join(changed) or 'none'}; the precision policy also changes the "
                f"optimizer state): {err}") from err
        for variable, value in zip(random_state(self.model), state.get("random_state", [])):
            variable.assign(value)
        self._resumed = (state["epoch"], state.get("data_position") or 0)
        self.model._initial_epoch = state["epoch"]  # the same hook keras' BackupAndRestore uses
        logging.info("resumed from %s at epoch %d", self.directory, state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        bad = [k for k, v in (logs or {}).items() if not math.isfinite(float(v))]
        if bad:
            logging.error("epoch %d ended with non-finite %s; training stops and the checkpoint "
                          "of the last good epoch in %s is kept", epoch + 1, ", ".join(bad),
                          self.directory)
            self.model.stop_training = True
            return
        with distribute.chief_path(self.directory, self.model.distribute_strategy) as directory:
            self.save(directory, epoch + 1)

    def save(self, directory, epoch):
        """The checkpoint of the end of `epoch` in `directory`, in three steps (write_weights,
        write_state, commit); until the last, the previous checkpoint is the one there."""
        os.makedirs(directory, exist_ok=True)
        saving = os.path.join(directory, _SAVING)
        self.write_weights(saving)
        self.write_state(saving, epoch)
        self.commit(saving, os.path.join(directory, run_folder.WEIGHTS))

    def write_weights(self, path):
        self.model.save_weights(path)

    def write_state(self, path, epoch):
        state = dict(self._describe(), **self.state, epoch=epoch,
                     random_state=[v.numpy().tolist() for v in random_state(self.model)])
        if self.elements_per_epoch:
            resumed_epoch, position = self._resumed
            state["data_position"] = position + (epoch - resumed_epoch) * self.elements_per_epoch
        with h5py.File(path, "a") as f:
            f.attrs[run_folder.STATE] = json.dumps(state)

    def commit(self, path, final):
        """Sync the written file, rename it onto `final` and sync the folder: one step on disk."""
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(path, final)
        folder = os.open(os.path.dirname(final), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def data_seed_of(model_dir, seed, strategy):
    """The seed of the run's data streams, the same in every worker: the one its checkpoints in
    `model_dir` (a stage's folder included) were trained with, else `seed` (--seed), else one the
    chief draws. Each worker keeps its share of every global batch of the same stream, so workers
    that shuffled with seeds of their own would read some examples twice and others never."""
    stored = next((state["data_seed"] for _, state in run_folder.run_states(model_dir)
                   if state.get("data_seed") is not None), None)
    if stored is not None and seed is not None and stored != seed:
        logging.warning("the checkpoints in %s were trained on the data order of seed %d: it goes "
                        "on with that one, not with --seed=%d", model_dir, stored, seed)
    chosen = stored if stored is not None else data.stream_seed(seed)
    return distribute.from_chief(strategy, chosen)


def random_state(model):
    """The variables of `model` that hold random number state (its SeedGenerators': dropout masks,
    noise), which `model.variables` has and `model.weights`, so `.weights.h5`, has not."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class SampleGrid(keras.callbacks.Callback):
    """After every `every` epochs, write the model's sample grid of `batch` as PNG and to TensorBoard
    (on the chief only: drawing it needs no other worker); with `show`, also show it in the notebook
    that runs the training."""

    def __init__(self, batch, directory, log_dir=None, every=1, show=False):
        super().__init__()
        self.batch = batch
        self.directory = directory
        self.every = every
        self.log_dir = log_dir
        self.show = show
        self.writer = None  # made on first use, so that no other worker opens an event file

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not distribute.is_chief(self.model.distribute_strategy):
            return
        grid = images.tile_grid(self.model.sample_rows(self.batch))
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        images.write_image(path, grid)
        if self.show:
            from IPython import display  # there whenever a notebook runs
            print(f"epoch {epoch + 1}: {path}")
            display.display(display.Image(filename=path))
        if self.log_dir:
            self.writer = self.writer or tf.summary.create_file_writer(self.log_dir)
            with self.writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch + 1)
            self.writer.flush()


def standard(model_dir, sample_batch=None, sample_every=1, show=False, state=None,
             elements_per_epoch=None):
    """The callbacks of a training run in model_dir: checkpoints/, samples/ and logs/ (TensorBoard);
    `show` puts each sample grid in the notebook too; `state` and `elements_per_epoch` go to the
    Checkpoint."""
    log_dir = os.path.join(model_dir, "logs")
    callbacks = [Checkpoint(run_folder.checkpoint_folder(model_dir), state, elements_per_epoch),
                 distribute.TensorBoard(log_dir, write_graph=False)]
    if sample_batch is not None:
        callbacks.append(SampleGrid(sample_batch, os.path.join(model_dir, "samples"), log_dir,
                                    sample_every, show))
    return callbacks


def first_batch(dataset):
    """The first batch of a dataset as NumPy, e.g. the fixed inputs of the sample grid."""
    return keras.tree.map_structure(np.asarray, next(iter(dataset)))
