"""`python faulty_save.py POINT EPOCH MODULE ARGS...`: run `python -m MODULE ARGS...` and end the
process with os._exit at POINT of the checkpoint save of EPOCH (of any stage), as a kill would.

POINT is where in `common.callbacks.Checkpoint.save` the process dies:
  weights   half of the new file written
  state     the networks and optimizer state written, the rest of the training state not yet
  commit    the file complete beside the checkpoint, not yet renamed onto it
  renamed   renamed onto the checkpoint, the folder not yet synced
"""

import os
import runpy
import sys

from common import callbacks

KILLED = 17  # the exit code of a process that this script ended

POINT, EPOCH, MODULE, *ARGS = sys.argv[1:]
Checkpoint = callbacks.Checkpoint
_save, _write_weights, _write_state, _commit = (
    Checkpoint.save, Checkpoint.write_weights, Checkpoint.write_state, Checkpoint.commit)


def save(self, directory, epoch):
    self.fault = epoch == int(EPOCH)
    _save(self, directory, epoch)


def write_weights(self, path):
    _write_weights(self, path)
    if self.fault and POINT == "weights":
        os.truncate(path, os.path.getsize(path) // 2)
        os._exit(KILLED)


def write_state(self, path, epoch):
    if self.fault and POINT == "state":
        os._exit(KILLED)
    _write_state(self, path, epoch)


def commit(self, path, final):
    if self.fault and POINT == "commit":
        os._exit(KILLED)
    if self.fault and POINT == "renamed":
        os.replace(path, final)
        os._exit(KILLED)
    _commit(self, path, final)


Checkpoint.save, Checkpoint.write_weights, Checkpoint.write_state, Checkpoint.commit = (
    save, write_weights, write_state, commit)
sys.argv = [MODULE, *ARGS]
runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
