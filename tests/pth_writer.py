"""A .pth written without PyTorch, in the zip format of torch.save (PyTorch >= 1.6), for tests that need
a weights file on disk: `save_state_dict(path, {key: array})`. common/pth.py reads it as it reads
torch's own files (tests/test_pth.py holds files that torch wrote)."""

import collections
import contextlib
import io
import pickle
import sys
import types
import zipfile

import numpy as np


@contextlib.contextmanager
def _torch_names():
    """torch.FloatStorage and torch._utils._rebuild_tensor_v2 as pickle's GLOBAL needs them to exist,
    for the time of one dump (no torch is installed here, and none must seem to be afterwards)."""
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    torch.FloatStorage = type("FloatStorage", (), {"__module__": "torch"})
    utils._rebuild_tensor_v2 = type("_rebuild_tensor_v2", (), {"__module__": "torch._utils"})
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, utils
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


def save_state_dict(path, state):
    """Write {key: float array} as torch.save(OrderedDict of float32 tensors) would."""
    arrays = {k: np.ascontiguousarray(v, np.float32) for k, v in state.items()}
    with _torch_names() as (torch, utils):
        class Tensor:
            def __init__(self, key, array):
                self.storage, self.shape = _Storage(key, array.size), array.shape

            def __reduce__(self):
                strides = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
                return utils._rebuild_tensor_v2, (self.storage, 0, self.shape, strides, False,
                                                  collections.OrderedDict())

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
                return None

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(collections.OrderedDict(
            (k, Tensor(str(i), a)) for i, (k, a) in enumerate(arrays.items())))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for i, array in enumerate(arrays.values()):
            archive.writestr(f"archive/data/{i}", array.astype("<f4").tobytes())
        archive.writestr("archive/version", "3\n")
