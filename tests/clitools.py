"""Running the command-line tools in a subprocess, as a user does, and reading what they wrote."""

import json
import os
import subprocess
import sys

import h5py

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run(module, *args, check=True):
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                            env=ENV, timeout=300)
    if check and result.returncode:
        raise AssertionError(result.stderr[-3000:])
    return result


def state(model_dir):
    with open(model_dir / "checkpoints" / "state.json") as f:
        return json.load(f)


def g_steps(model_dir):
    """The generator optimizer's step counter stored in the checkpoint."""
    with h5py.File(model_dir / "checkpoints" / "latest.weights.h5") as f:
        return int(f["g_optimizer/vars/0"][()])
