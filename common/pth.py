"""PyTorch checkpoints (.pth) read without PyTorch, and safely.

    state = load_state_dict("latest_net_G.pth")           # {"model.model.0.weight": ndarray, ...}
    state = load_state_dict("GPEN-BFR-512.pth", key="g_ema")

Both formats of `torch.save` are read:
- the zip archive of PyTorch >= 1.6: `<name>/data.pkl`, a pickle of the saved object in which every
  tensor is a call of `torch._utils._rebuild_tensor_v2` on a storage, and `<name>/data/<key>`, each
  storage's raw little-endian bytes;
- the legacy stream of older PyTorch (the released pix2pix models of 2018 are in it, and PyTorch still
  writes it with `_use_new_zipfile_serialization=False`): five pickles in a row (a magic number, the
  format version 1001, the writer's byte order and type sizes, the saved object, the list of storage
  keys), then each storage as its int64 element count and its raw bytes, in the order of that list.

A .pth from the internet is untrusted: unpickling runs whatever callables a pickle names, and the
numbers inside it say where tensors are. Here
- the unpickler is Python's own pure-Python one, which never reserves more bytes than the file still
  has, and it resolves only the names a state dict needs (the tensor and parameter rebuilders, the
  storage types, OrderedDict) to objects made for this load alone; any other name is refused before
  anything runs, and attributes (pickle's BUILD) may only be given to this load's OrderedDicts, where
  they are dropped, so nothing a file says outlives its load;
- every storage's size is checked against the bytes the file has before it is read, and every
  tensor's offset, size and stride against its storage before any view of it is made;
- tensors are copied out of their storages within a budget (`TENSOR_BUDGET` times the file's size),
  so that views sharing one storage cannot multiply the memory a small file takes.
Whatever is wrong with a file, the error is a CheckpointError, one line naming it. Tensors come back as
numpy arrays (bfloat16, which numpy lacks, widened to float32).
"""

import collections
import io
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

# PyTorch's storage types by the name a checkpoint gives them, and their numpy dtypes. bfloat16 is read
# as uint16 and widened.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# Keys under which training scripts keep a model's state dict (GPEN: g_ema; many: state_dict).
WRAPPER_KEYS = ("state_dict", "g_ema", "model", "params_ema", "params")
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy file
LEGACY_VERSION = 1001
# Tensors may take at most this many times the file's bytes (plus TENSOR_SLACK): storages shared by
# several tensors are copied once per tensor.
TENSOR_BUDGET = 2
TENSOR_SLACK = 1 << 16
_MAX_DIMS = 32
_MAX_COUNT = 1 << 62  # larger offsets, sizes and strides are not a real file's
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip entry's local header, before its name and extra


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that asks for more than weights."""


class _StorageType:
    """A storage type (torch.FloatStorage, ...) as a pickle names it; made anew for every load."""

    __slots__ = ("name", "dtype")

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _Storage:
    """One storage of the file: its element count, and its elements once they have been read."""

    __slots__ = ("key", "kind", "numel", "array")

    def __init__(self, key, kind, numel, array=None):
        self.key, self.kind, self.numel, self.array = key, kind, numel, array


class _Stream(io.BytesIO):
    """The bytes of a pickle, where a read past their end is an error (pickle's reader would go on
    with fewer bytes than a length field said, e.g. decode the rest of a file as one string)."""

    def read(self, size=-1):
        data = super().read(size)
        if size is not None and 0 <= size != len(data):
            raise EOFError(f"a length of {size} bytes runs past the end of the pickle")
        return data


def _count(value):
    """A non-negative int a real file could hold (offsets, sizes, strides, element counts)."""
    return type(value) is int and 0 <= value < _MAX_COUNT


def _one_line(err):
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


class _Unpickler(pickle._Unpickler):
    """Python's pure-Python unpickler (the C one reserves whatever a length field says before it reads)
    with an allow-list made for this load, BUILD restricted, and `storage(key, kind, numel)` giving the
    _Storage a persistent id names."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, stream, path, storage, budget):
        super().__init__(stream, encoding="utf-8")  # Python 2 pickles' str, as torch.load decodes them
        self._path, self._storage = path, storage
        self._budget = budget  # bytes the tensors of this pickle may still take
        self._items = len(stream.getbuffer())  # OrderedDict items a pickle of this size can make
        kinds = {name: _StorageType(name) for name in _STORAGE_DTYPES}
        self._allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,  # PyTorch before 0.4
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._rebuild_parameter,
            ("collections", "OrderedDict"): self._ordered_dict,
            **{("torch", name): kind for name, kind in kinds.items()},
            **{("torch.cuda", name): kind for name, kind in kinds.items()},  # saved from a GPU
        }

    def load(self):
        try:
            return super().load()
        finally:  # the allow-list's bound methods would keep this unpickler (and the file) alive
            self._allowed, self.memo = {}, {}

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"{self._path} asks to run {module}.{name}, which a file of weights has no need of: "
                "refused (it may not be a plain checkpoint, or it may be unsafe)") from None

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements[, view (legacy; None)])
        if not (type(pid) is tuple and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and type(pid[2]) is str and _count(pid[4])
                and (len(pid) == 5 or pid[5] is None)):
            raise CheckpointError(f"{self._path}: a storage reference that is not a plain tensor's")
        return self._storage(pid[2], pid[1], pid[4])

    def load_build(self):
        """BUILD: only a state dict's attributes (its `_metadata`), which nothing here needs."""
        state = self.stack.pop()
        if not (type(self.stack[-1]) is collections.OrderedDict and type(state) is dict):
            raise CheckpointError(f"{self._path} asks to set the attributes of a "
                                  f"{type(self.stack[-1]).__name__}: refused")

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self):
        """BYTEARRAY8, which pickle's reader allocates at the length a file says before reading it,
        and which no checkpoint holds."""
        raise CheckpointError(f"{self._path} holds a bytearray, which a checkpoint has no need of")

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def _ordered_dict(self, items=()):
        """collections.OrderedDict: empty (Python 3 pickles) or from [key, value] pairs (Python 2)."""
        if type(items) not in (list, tuple) or any(type(p) not in (list, tuple) or len(p) != 2
                                                   for p in items):
            raise CheckpointError(f"{self._path}: an OrderedDict made of something else than pairs")
        self._items -= len(items)
        if self._items < 0:  # one list reused over and over would fill memory
            raise CheckpointError(f"{self._path}: more dictionary entries than its pickle could hold")
        return collections.OrderedDict(items)

    def _rebuild_parameter(self, data, *_):
        """torch._utils._rebuild_parameter(_with_state): a Parameter is its data here."""
        if data is not None and not isinstance(data, np.ndarray):
            raise CheckpointError(f"{self._path}: a parameter that is not a tensor")
        return data

    def _rebuild_tensor(self, storage, offset, size, stride, *_):
        """torch._utils._rebuild_tensor(_v2): a view of `storage`, checked, then copied into its own
        array (None while the storages have not been read: the first pass over a legacy file)."""
        if not (isinstance(storage, _Storage) and _count(offset) and type(size) is tuple
                and type(stride) is tuple and len(size) == len(stride) <= _MAX_DIMS
                and all(_count(n) for n in size + stride)):
            raise CheckpointError(f"{self._path}: a tensor whose storage, offset, size or stride is "
                                  "not a tensor's")
        numel = math.prod(size)
        if offset > storage.numel or (numel and offset + sum((n - 1) * s for n, s in zip(size, stride))
                                      >= storage.numel):
            raise CheckpointError(f"{self._path}: a tensor of size {list(size)} at offset {offset} "
                                  f"reaches past the end of its storage ({storage.numel} elements)")
        bfloat16 = storage.kind.name == "BFloat16Storage"
        self._budget -= numel * (4 if bfloat16 else storage.kind.dtype.itemsize)
        if self._budget < 0:
            raise CheckpointError(f"{self._path}: its tensors would take more than {TENSOR_BUDGET} "
                                  "times the file's size (views repeated over shared storages)")
        if storage.array is None:
            return None
        if numel:
            itemsize = storage.kind.dtype.itemsize
            view = np.lib.stride_tricks.as_strided(storage.array[offset:], shape=size,
                                                   strides=tuple(s * itemsize for s in stride))
            array = np.array(view)
        else:
            array = np.empty(size, storage.kind.dtype)
        if bfloat16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _stored_bytes(data, info, path):
    """The bytes of an uncompressed zip entry as a view of the file's `data` (no copy: a checkpoint's
    storages are most of it), found through its local header and checked against its CRC."""
    start = info.header_offset
    header = data[start:start + _LOCAL_HEADER.size]
    if info.compress_type != zipfile.ZIP_STORED or len(header) < _LOCAL_HEADER.size:
        raise CheckpointError(f"{path}: storage {info.filename} is compressed or misplaced: not "
                              "written by torch.save")
    signature, *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    start += _LOCAL_HEADER.size + name_length + extra_length
    view = memoryview(data)[start:start + info.file_size]
    if signature != b"PK\x03\x04" or len(view) != info.file_size or zlib.crc32(view) != info.CRC:
        raise CheckpointError(f"{path}: storage {info.filename} is damaged (a truncated file, or "
                              "its bytes changed)")
    return view


def _zip_storages(archive, data, prefix, path):
    """The storage callback of a zip checkpoint: each storage read once, its size checked first."""
    read = {}

    def storage(key, kind, numel):
        if key in read:
            if (read[key].kind.name, read[key].numel) != (kind.name, numel):
                raise CheckpointError(f"{path}: storage {key} is named with two types or sizes")
            return read[key]
        try:
            info = archive.getinfo(f"{prefix}data/{key}")
        except KeyError:
            raise CheckpointError(f"{path} has no storage {key}: a damaged file") from None
        nbytes = numel * kind.dtype.itemsize
        if info.file_size != nbytes:
            raise CheckpointError(f"{path}: storage {key} holds {info.file_size} bytes, its tensors "
                                  f"say {nbytes}: a damaged file")
        array = np.frombuffer(_stored_bytes(data, info, path), kind.dtype)
        read[key] = _Storage(key, kind, numel, array)
        return read[key]

    return storage


def _load_zip(data, path, budget):
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{path} is a zip archive but not a PyTorch checkpoint "
                              "(no <name>/data.pkl in it)")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = f"{prefix}byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise CheckpointError(f"{path} was written on a big-endian machine: not supported")
    stream = _Stream(archive.read(pickles[0]))
    return _Unpickler(stream, path, _zip_storages(archive, data, prefix, path), budget).load()


def _load_legacy(data, path, budget):
    """The legacy stream, in two passes over the saved object's pickle: the first learns which
    storages its tensors need (their bytes come after it), the second builds the tensors."""
    stream = _Stream(data)

    def unpickle(storage=None):
        return _Unpickler(stream, path, storage, budget).load()

    try:
        magic = unpickle()
    except Exception:
        magic = None
    if magic != LEGACY_MAGIC:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor the "
                              "legacy torch.save format)")
    version, info = unpickle(), unpickle()
    if version != LEGACY_VERSION or type(info) is not dict:
        raise CheckpointError(f"{path}: legacy checkpoint format {version!r}, not {LEGACY_VERSION}")
    if info.get("little_endian") is not True:
        raise CheckpointError(f"{path} was written on a big-endian machine: not supported")

    declared = {}

    def declare(key, kind, numel):
        if key not in declared:
            declared[key] = _Storage(key, kind, numel)
        elif (declared[key].kind.name, declared[key].numel) != (kind.name, numel):
            raise CheckpointError(f"{path}: storage {key} is named with two types or sizes")
        return declared[key]

    start = stream.tell()
    unpickle(declare)
    keys = unpickle()
    if type(keys) is not list or sorted(keys) != sorted(declared):
        raise CheckpointError(f"{path}: its list of storages does not match its tensors")
    offset = stream.tell()
    for key in keys:
        storage = declared[key]
        count = int.from_bytes(data[offset:offset + 8], "little")
        nbytes = storage.numel * storage.kind.dtype.itemsize
        if offset + 8 + nbytes > len(data):
            raise CheckpointError(f"{path} ends inside storage {key}: a truncated file")
        if count != storage.numel:
            raise CheckpointError(f"{path}: storage {key} holds {count} elements, its tensors say "
                                  f"{storage.numel}: a damaged file")
        storage.array = np.frombuffer(data, storage.kind.dtype, storage.numel, offset + 8)
        offset += 8 + nbytes
    stream.seek(start)
    return unpickle(lambda key, kind, numel: declare(key, kind, numel))


def load(path):
    """The object saved in the .pth at `path`, tensors as numpy arrays (CheckpointError if unreadable
    or if it names anything but tensors, storages and dicts)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            data = f.read(os.fstat(f.fileno()).st_size)  # read() alone would take twice the memory
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror})") from None
    budget = TENSOR_BUDGET * len(data) + TENSOR_SLACK
    try:
        if data[:4] == b"PK\x03\x04":
            return _load_zip(data, path, budget)
        return _load_legacy(data, path, budget)
    except CheckpointError:
        raise
    except Exception as err:  # whatever a damaged file makes the zip or pickle reader raise
        raise CheckpointError(f"{path}: damaged checkpoint ({type(err).__name__}: "
                              f"{_one_line(err)})") from None


def _is_state_dict(obj):
    return isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values())


def load_state_dict(path, key=None):
    """{name: array} of the model state dict in the .pth at `path`.

    The state dict may be the saved object itself or a value of it: under `key` when given (a file
    that is a state dict itself needs none, and is read as it is), else under the first of
    WRAPPER_KEYS it holds. DataParallel's `module.` prefix is removed. Entries that are not tensors (a
    training step count, ...) beside the tensors are left out.
    """
    obj = load(path)
    if key is not None and not _is_state_dict(obj):
        if not isinstance(obj, dict) or key not in obj:
            found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
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
                              f"its entries: {sorted(map(str, obj))[:10]} (choose one with --key)")
    if all(isinstance(k, str) and k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state
