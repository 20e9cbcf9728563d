"""PyTorch checkpoints (.pth) read without PyTorch, and safely.

A checkpoint written by `torch.save` (PyTorch >= 1.6) is a zip archive: `<name>/data.pkl`, a pickle of
the saved object in which every tensor is a call of `torch._utils._rebuild_tensor_v2` on a storage, and
`<name>/data/<key>`, each storage's raw little-endian bytes. Unpickling runs whatever callables a pickle
names, so a .pth from the internet can run code (which `torch.load` without `weights_only=True` allows).
Here the unpickler accepts only the names a state dict needs (the tensor and parameter rebuilders,
the storage types, OrderedDict) and refuses any other with an error naming it; tensors come back as
numpy arrays.

    state = load_state_dict("latest_net_G.pth")           # {"model.model.0.weight": ndarray, ...}
    state = load_state_dict("GPEN-BFR-512.pth", key="g_ema")

The pre-1.6 format (a bare pickle stream, not a zip) is refused with how to re-save it.
"""

import collections
import os
import pickle
import zipfile

import numpy as np

# PyTorch's storage types by the name a checkpoint gives them, and their numpy dtypes. bfloat16, which
# numpy lacks, is read as uint16 and widened to float32.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# Keys under which training scripts keep a model's state dict (GPEN: g_ema; many: state_dict).
WRAPPER_KEYS = ("state_dict", "g_ema", "model", "params_ema", "params")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that asks for more than weights."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *_):
    """torch._utils._rebuild_tensor_v2: a view of `storage`, copied into its own array."""
    array, bfloat16 = storage
    itemsize = array.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(array[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    view = np.array(view)
    if bfloat16:
        view = (view.astype(np.uint32) << 16).view(np.float32)
    return view


def _rebuild_parameter(data, *_):
    """torch._utils._rebuild_parameter(_with_state): a Parameter is its data here."""
    return data


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix, path):
        super().__init__(file)
        self._archive, self._prefix, self._path = archive, prefix, path
        self._storages = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"{self._path} asks to run {module}.{name}, which a file of weights has no need of: "
                "refused (it may not be a plain checkpoint, or it may be unsafe)") from None

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self._path}: unknown storage reference {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if key not in self._storages:
            try:
                raw = self._archive.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise CheckpointError(f"{self._path} has no storage {key}: a damaged file") from None
            array = np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder("<"))
            self._storages[key] = (array, storage_type.name == "BFloat16Storage")
        return self._storages[key]


def load(path):
    """The object saved in the .pth at `path`, tensors as numpy arrays (CheckpointError if unreadable
    or if it names anything but tensors, storages and dicts)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is not a zip archive: either not a PyTorch checkpoint, or one in the format of "
            "PyTorch before 1.6, which is not read here; re-save it with a recent PyTorch: "
            "torch.save(torch.load(f, weights_only=True), 'new.pth')")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(f"{path} is a zip archive but not a PyTorch checkpoint "
                                  "(no <name>/data.pkl in it)")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise CheckpointError(f"{path} was written on a big-endian machine: not supported")
        with archive.open(pickles[0]) as f:
            try:
                return _Unpickler(f, archive, prefix, path).load()
            except CheckpointError:
                raise
            except Exception as err:
                raise CheckpointError(f"{path}: damaged checkpoint ({err})") from err


def _is_state_dict(obj):
    return isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values())


def load_state_dict(path, key=None):
    """{name: array} of the model state dict in the .pth at `path`.

    The state dict may be the saved object itself or a value of it: under `key` when given, else under
    the one of WRAPPER_KEYS it holds. DataParallel's `module.` prefix is removed. Entries that are not
    tensors (a training step count, ...) beside the tensors are left out.
    """
    obj = load(path)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise CheckpointError(f"{path} has no entry '{key}'; it holds: {found}")
        obj = obj[key]
    elif isinstance(obj, dict) and not _is_state_dict(obj):
        wrapped = [k for k in WRAPPER_KEYS if _is_state_dict(obj.get(k))]
        if wrapped:
            obj = obj[wrapped[0]]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    state = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not state:
        raise CheckpointError(f"{path} holds no tensors at the top or under {', '.join(WRAPPER_KEYS)}; "
                              f"its entries: {sorted(obj)[:10]} (choose one with --key)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state
