"""Reading PyTorch checkpoints without PyTorch (`common.pth`), in both formats of torch.save, and
files made to break the reader.

tests/fixtures/*.pth were written by tools/make_torch_fixtures.py; the .npz beside each holds what
PyTorch had in it. tests/pth_fuzz.py mutates them.
"""

import io
import json
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from common import pth

TESTS = os.path.dirname(__file__)
FIXTURES = os.path.join(TESTS, "fixtures")


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


def test_the_legacy_format_gives_the_same_arrays_bit_for_bit():
    zipped, legacy = pth.load(fixture("wrapped.pth")), pth.load(fixture("wrapped_legacy.pth"))
    assert legacy["epoch"] == 7 and sorted(legacy["state_dict"]) == sorted(zipped["state_dict"])
    for name, array in zipped["state_dict"].items():
        other = legacy["state_dict"][name]
        assert other.dtype == array.dtype and other.shape == array.shape
        assert other.tobytes() == array.tobytes()  # fp16 and bf16 included
    # A released pix2pix generator's layout (PyTorch 0.4: legacy, no num_batches_tracked).
    state = pth.load_state_dict(fixture("pix2pix_unet64_G.pth"))
    old = pth.load_state_dict(fixture("pix2pix_unet64_G_legacy.pth"))
    assert sorted(old) == sorted(k for k in state if not k.endswith("num_batches_tracked"))
    assert all(np.array_equal(old[k], state[k]) for k in old)


def test_wrappers_and_keys():
    whole = pth.load(fixture("wrapped.pth"))
    assert whole["epoch"] == 7 and set(whole) == {"state_dict", "epoch"}
    assert sorted(pth.load_state_dict(fixture("wrapped.pth"), key="state_dict")) == \
        sorted(pth.load_state_dict(fixture("wrapped.pth")))
    with pytest.raises(pth.CheckpointError, match=r"has no entry 'g_ema'; it holds: \['epoch', 'state_dict'\]"):
        pth.load_state_dict(fixture("wrapped.pth"), key="g_ema")
    # A training checkpoint gives each network under its key; a bare state dict needs no key.
    train = fixture("gpen_train.pth")
    assert sorted(pth.load(train)) == ["d", "d_optim", "g", "g_ema", "g_optim"]
    assert "final_conv.0.weight" in pth.load_state_dict(train, key="d")
    assert "generator.input.input" in pth.load_state_dict(train)  # g_ema
    assert sorted(pth.load_state_dict(fixture("gpen_D.pth"), key="d")) == \
        sorted(pth.load_state_dict(train, key="d"))


def _legacy_parts(data):
    """The byte ranges of the five pickles of a legacy file, and the storages after them."""
    stream, ends = io.BytesIO(data), [0]
    for _ in range(5):
        for _ in pickletools.genops(stream):
            pass
        ends.append(stream.tell())
    return [data[a:b] for a, b in zip(ends, ends[1:])], data[ends[-1]:]


def test_other_files_are_refused_by_name(tmp_path):
    with pytest.raises(pth.CheckpointError, match="no such file"):
        pth.load(tmp_path / "missing.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(pth.CheckpointError, match=r"not a PyTorch checkpoint \(no <name>/data.pkl"):
        pth.load(tmp_path / "other.zip")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(pth.CheckpointError, match=r"text.pth is not a PyTorch checkpoint \(neither"):
        pth.load(tmp_path / "text.pth")
    # A legacy file whose writer says it was big-endian.
    pickles, storages = _legacy_parts(open(fixture("wrapped_legacy.pth"), "rb").read())
    info = pickle.loads(pickles[2])
    pickles[2] = pickle.dumps(dict(info, little_endian=False), protocol=2)
    (tmp_path / "big.pth").write_bytes(b"".join(pickles) + storages)
    with pytest.raises(pth.CheckpointError, match="big.pth was written on a big-endian machine"):
        pth.load(tmp_path / "big.pth")


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


def _rezipped(source, path, edit):
    """`source` written again to `path` with its data.pkl passed through `edit(bytes) -> bytes`."""
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    name = next(n for n in entries if n.endswith("data.pkl"))
    entries[name] = edit(entries[name])
    with zipfile.ZipFile(path, "w") as archive:
        for entry, content in entries.items():
            archive.writestr(entry, content)
    return path


def test_a_tensor_larger_than_its_storage_is_refused(tmp_path):
    def first_size_to_64(data):
        ops = list(pickletools.genops(data))
        persid = next(k for k, (op, _, _) in enumerate(ops) if op.name == "BINPERSID")
        op, value, pos = ops[persid + 2]  # after the offset: the first dimension, 4 of a 4 x 6 tensor
        assert (op.name, value) == ("BININT1", 4)
        return data[:pos + 1] + bytes([64]) + data[pos + 2:]

    path = _rezipped(fixture("wrapped.pth"), tmp_path / "big.pth", first_size_to_64)
    with pytest.raises(pth.CheckpointError, match=r"big.pth: a tensor of size \[64, 6\] at offset 0 "
                                                  r"reaches past the end of its storage \(24 elements\)"):
        pth.load(path)


def test_a_file_cannot_change_what_the_next_load_reads(tmp_path):
    # 63 bytes that would relabel the storage type FloatStorage as bfloat16 (pickle's BUILD on it),
    # so that the float32 tensors of the next file came back "widened": refused, and a good file read
    # next in the same process comes back right.
    evil = (b"\x80\x02ctorch\nFloatStorage\nq\x00}q\x01X\x04\x00\x00\x00nameq\x02X\x0f\x00\x00\x00"
            b"BFloat16Storageq\x03sb.")
    with zipfile.ZipFile(tmp_path / "relabel.pth", "w") as archive:
        archive.writestr("relabel/data.pkl", evil)
    with pytest.raises(pth.CheckpointError, match="asks to set the attributes of a _StorageType"):
        pth.load(tmp_path / "relabel.pth")
    expected = np.load(fixture("wrapped.npz"))
    state = pth.load_state_dict(fixture("wrapped.pth"))
    assert all(np.array_equal(state[name], expected[name]) for name in expected.files)


def test_mutated_files_load_or_are_refused_in_one_line_never_crash():
    files = [fixture(n) for n in ("wrapped.pth", "wrapped_legacy.pth", "pix2pix_D.pth")]
    result = subprocess.run([sys.executable, os.path.join(TESTS, "pth_fuzz.py"), "--seed=0",
                             "--count=150", *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 450
    bad = [r for r in rows if r["outcome"] not in ("loaded", "refused")]
    assert not bad, bad[:3]
    refused = [r for r in rows if r["outcome"] == "refused"]
    assert all("\n" not in r["message"] and r["message"].startswith("/") for r in refused)
    assert all(r["peak"] <= 3 * r["size"] + (1 << 17) for r in rows), max(rows, key=lambda r: r["peak"])
    for name in ("wrapped.pth", "wrapped_legacy.pth", "pix2pix_D.pth"):  # both ways, for every file
        assert {"loaded", "refused"} <= {r["outcome"] for r in rows if r["file"] == name}
