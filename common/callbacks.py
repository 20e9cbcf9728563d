"""Callbacks every model trains with: checkpoint/resume, sample grids, TensorBoard scalars."""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common import distribute, images


class Checkpoint(keras.callbacks.Callback):
    """Save networks and optimizer state every epoch; resume from them when training starts again.

    The checkpoint is `latest.weights.h5` plus `state.json` (epoch, model class and config, and the
    state of the model's random number generators, which `.weights.h5` leaves out: with the data
    stream resumed at its position (`common.data.pipeline(start=...)`), a resumed run goes on as the
    uninterrupted one). Both are written to a temporary file and renamed, so a run killed while saving
    keeps the previous one.
    An epoch whose logs hold a NaN or infinity stops training without overwriting the last good one.
    Under multi-worker training only the chief writes, and every worker resumes from its files.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self.weights_path = os.path.join(directory, "latest.weights.h5")
        self.state_path = os.path.join(directory, "state.json")

    def _describe(self):
        return {"model": type(self.model).__name__, "config": self.model.get_config()}

    def on_train_begin(self, logs=None):
        state = read_state(self.directory)
        if not distribute.same_on_every_worker(self.model.distribute_strategy,
                                               state["epoch"] if state else 0):
            raise ValueError(f"the workers found different checkpoints in {self.directory}: "
                             "--model_dir must be on a file system that every worker sees")
        if state is None:
            return
        mine = self._describe()
        if state["model"] != mine["model"]:
            raise ValueError(
                f"{self.directory} holds a checkpoint of a {state['model']} model, not of a "
                f"{mine['model']}: choose another --model_dir")
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
            os.makedirs(directory, exist_ok=True)
            tmp = os.path.join(directory, "saving.weights.h5")
            self.model.save_weights(tmp)
            os.replace(tmp, os.path.join(directory, os.path.basename(self.weights_path)))
            state_path = os.path.join(directory, os.path.basename(self.state_path))
            with open(state_path + ".tmp", "w") as f:
                json.dump(dict(self._describe(), epoch=epoch + 1, random_state=[
                    v.numpy().tolist() for v in random_state(self.model)]), f, indent=1)
            os.replace(state_path + ".tmp", state_path)


def read_state(directory):
    """The state.json of the checkpoint in `directory` (a dict), or None if there is none yet."""
    path = os.path.join(directory, "state.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


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


def standard(model_dir, sample_batch=None, sample_every=1, show=False):
    """The callbacks of a training run in model_dir: checkpoints/, samples/ and logs/ (TensorBoard);
    `show` puts each sample grid in the notebook too."""
    log_dir = os.path.join(model_dir, "logs")
    callbacks = [Checkpoint(os.path.join(model_dir, "checkpoints")),
                 distribute.TensorBoard(log_dir, write_graph=False)]
    if sample_batch is not None:
        callbacks.append(SampleGrid(sample_batch, os.path.join(model_dir, "samples"), log_dir,
                                    sample_every, show))
    return callbacks


def first_batch(dataset):
    """The first batch of a dataset as NumPy, e.g. the fixed inputs of the sample grid."""
    return keras.tree.map_structure(np.asarray, next(iter(dataset)))
