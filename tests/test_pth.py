"""Reading PyTorch checkpoints without PyTorch (`common.pth`), on files written by torch.save.

tests/fixtures/*.pth were written by tools/make_torch_fixtures.py; the .npz beside each holds what
PyTorch had in it.
"""

import os
import pickle
import zipfile

import numpy as np
import pytest

from common import pth

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    return os.path.join(FIXTURES, name)


def test_tensors_of_every_dtype_and_layout_come_back_as_saved():
    state = pth.load_state_dict(fixture("wrapped.pth"))  # {"state_dict": {"module.f32": ...}, "epoch": 7}
    expected = np.load(fixture("wrapped.npz"))
    assert sorted(state) == sorted(expected.files)  # unwrapped, DataParallel's prefix removed
    for name in expected.files:
        np.testing.assert_array_equal(state[name], expected[name])
    assert state["f16"].dtype == np.float16 and state["i64"].dtype == np.int64
    assert state["bf16"].dtype == np.float32 and state["flag"].dtype == np.bool_
    np.testing.assert_array_equal(state["t"], state["f32"].T)  # a strided view
    np.testing.assert_array_equal(state["offset"], state["f32"][1:, 2:4])  # a view at an offset


def test_wrappers_and_keys():
    whole = pth.load(fixture("wrapped.pth"))
    assert whole["epoch"] == 7 and set(whole) == {"state_dict", "epoch"}
    assert sorted(pth.load_state_dict(fixture("wrapped.pth"), key="state_dict")) == \
        sorted(pth.load_state_dict(fixture("wrapped.pth")))
    with pytest.raises(pth.CheckpointError, match=r"has no entry 'g_ema'; it holds: \['epoch', 'state_dict'\]"):
        pth.load_state_dict(fixture("wrapped.pth"), key="g_ema")


def test_the_old_format_and_other_files_are_refused_by_name(tmp_path):
    with pytest.raises(pth.CheckpointError, match="legacy.pth is not a zip archive.*before 1.6"):
        pth.load(fixture("legacy.pth"))
    with pytest.raises(pth.CheckpointError, match="no such file"):
        pth.load(tmp_path / "missing.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(pth.CheckpointError, match=r"not a PyTorch checkpoint \(no <name>/data.pkl"):
        pth.load(tmp_path / "other.zip")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_checkpoint_that_asks_to_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"weight": _Payload(str(marker))}, protocol=2))
    with pytest.raises(pth.CheckpointError, match=r"asks to run (posix|os|nt)\.mkdir.*refused"):
        pth.load(path)
    assert not marker.exists()
