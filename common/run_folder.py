"""What a training run's folder holds, read without TensorFlow: where its checkpoint is and the
state saved in it (epoch, model class, data seed, ...). train.py reads it to refuse another model's
folder before TensorFlow loads; common.callbacks writes it."""

import glob
import json
import os

import h5py

WEIGHTS = "latest.weights.h5"  # the checkpoint file of a folder
STATE = "gan_zoo_state"  # the checkpoint file's attribute holding the rest of the run's state


def checkpoint_folder(model_dir):
    """Where a run in `model_dir` keeps its checkpoint."""
    return os.path.join(model_dir, "checkpoints")


def read_state(directory):
    """The state of the checkpoint in `directory` (a dict: epoch, model, config, random_state, ...),
    or None if there is none yet; a ValueError for a weights file there that is no checkpoint."""
    path = os.path.join(directory, WEIGHTS)
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        if STATE not in f.attrs:
            raise ValueError(f"{path} is a weights file but not a checkpoint of this package "
                             "(it holds no training state): move it out of the checkpoint folder")
        return json.loads(f.attrs[STATE])


def run_states(model_dir):
    """(folder, state) of each checkpoint of a run: its own and its stages' (<model_dir>/<stage>/)."""
    stages = sorted(glob.glob(checkpoint_folder(os.path.join(model_dir, "*"))))
    for folder in [checkpoint_folder(model_dir), *stages]:
        state = read_state(folder)
        if state:
            yield folder, state


def check_model(folder, state, model):
    """A ValueError if the checkpoint `state` read from `folder` is not of `model` (a class name)."""
    if state["model"] != model:
        raise ValueError(f"{folder} holds a checkpoint of a {state['model']} model, not of a {model}: "
                         "choose another --model_dir")


def check_owner(model_dir, model):
    """A ValueError if a checkpoint in the run folder `model_dir` is of another model class than
    `model` (a class name): train.py says so before it builds anything."""
    for folder, state in run_states(model_dir):
        check_model(folder, state, model)
