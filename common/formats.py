"""An export in three formats: the SavedModel, LiteRT (model.tflite) and ONNX (model.onnx).

The SavedModel is written first (`common.export`); the other formats are converted from it, beside it:
<dir>/saved_model/ gives <dir>/model.tflite and <dir>/model.onnx, at the end of training
(`--export_formats`), by the convert tools, or later from any export:

    python -m common.deploy --model=run/saved_model --formats=tflite,onnx

Each signature NAME of the SavedModel is converted from its twin portable_NAME where it has one (the
same function in operations that both converters know: no tiling loop, resizes as matrix products)
and otherwise from itself (but for SAVED_MODEL_ONLY). The signatures without inputs (metadata, PieNet's styles) are constants:
they are stored as JSON, {"constants": {signature: {output: value}}}, under the key gan_zoo_tf of
each file's metadata (LiteRT: the model's metadata table; ONNX: metadata_props). model.tflite runs in
LiteRT with built-in operations only and holds every other signature
(`Interpreter.get_signature_runner(name)`). An ONNX graph has one set of inputs, so model.onnx is
serving_default and a signature with other inputs goes to model.<name>.onnx (PieNet's preference).
ONNX names must be unique: an output named like an input (images) is called <name>_out there. Every
file takes and gives uint8 images, as the SavedModel does, at any size (or at one, `fixed_size`).

`load(path, model)` opens any of the three as a `Served`: its signatures as functions of NumPy arrays.
The converters are an extra: pip install '.[deploy]'.
"""

import contextlib
import inspect
import json
import logging
import os
import tempfile

import numpy as np
from common import export

FORMATS = ("saved_model", "tflite", "onnx")
FILES = {"tflite": "model.tflite", "onnx": "model.onnx"}
PORTABLE = "portable_"  # the prefix of a signature's convertible twin
# Signatures the other formats leave out: pix2pix's tile size per call (its files run photos whole,
# so the signature would be serving_default again, with an input it ignores).
SAVED_MODEL_ONLY = ("serving_tiled",)
ONNX_OPSET = 17
_KEY = "gan_zoo_tf"  # the ONNX metadata_props entry that holds the JSON


def parse(text):
    """The formats in a comma-separated list (ValueError naming an unknown one)."""
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown export format {', '.join(unknown) or '(none)'}: "
                         f"choose from {', '.join(FORMATS)}")
    return chosen


def require(chosen):
    """An ImportError saying how to install the converters and runtimes that `chosen` formats need."""
    needed = {"tflite": ["ai_edge_litert"], "onnx": ["tf2onnx", "onnxruntime"]}
    for name in chosen:
        for module in needed.get(name, []):
            try:
                __import__(module)
            except ImportError as err:
                raise ImportError(f"{err.name} is not installed: the tflite and onnx formats need "
                                  "pip install 'gan-zoo-tf[deploy]' (from a checkout: pip install "
                                  "'.[deploy]')") from None


# -- writing ----------------------------------------------------------------------------------------


def _signatures(loaded):
    """The signatures to convert, by name: each one's portable twin where it has one."""
    return {name: loaded.signatures.get(PORTABLE + name, fn) for name, fn in loaded.signatures.items()
            if not name.startswith(PORTABLE) and name not in SAVED_MODEL_ONLY}


def _jsonable(value):
    """A constant output as JSON: a list of numbers, or a flat list of strings."""
    value = _plain(value)
    return value.reshape(-1).tolist() if value.dtype.kind == "U" else value.tolist()


def _tflite(resaved, functions, constants):
    """The LiteRT model of the signatures `functions`, with `constants` as JSON in its metadata
    (a string tensor in the graph would keep LiteRT from its XNNPACK kernels: 2.4x slower)."""
    import flatbuffers
    import tensorflow as tf
    from ai_edge_litert import schema_py_generated as schema
    converter = tf.lite.TFLiteConverter.from_saved_model(resaved, signature_keys=functions)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = schema.ModelT.InitFromPackedBuf(converter.convert(), 0)
    data = schema.BufferT()
    data.data = np.frombuffer(json.dumps({"constants": constants}).encode(), np.uint8)
    model.buffers.append(data)
    entry = schema.MetadataT()
    entry.name, entry.buffer = _KEY, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tflite_constants(path):
    """The constants stored in a LiteRT file by `_tflite` ({} for a file without them)."""
    from ai_edge_litert import schema_py_generated as schema
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name() == _KEY.encode():
            stored = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
            return json.loads(stored)["constants"]
    return {}


def _onnx(resaved, name, constants):
    """The ONNX model of signature `name`, with `constants` in its metadata_props."""
    import tf2onnx
    from tf2onnx import tf_loader
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)  # it logs every rewriter it skips
    graph, inputs, outputs, names = tf_loader.from_saved_model(
        resaved, None, None, signatures=[name], return_tensors_to_rename=True)
    input_names = {names[tensor] for tensor in inputs}
    for tensor in outputs:
        if names[tensor] in input_names:
            names[tensor] += "_out"
    proto, _ = tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs,
                                              opset=ONNX_OPSET, tensors_to_rename=names)
    entry = proto.metadata_props.add()
    entry.key, entry.value = _KEY, json.dumps({"signature": name, "constants": constants})
    return proto.SerializeToString()


@contextlib.contextmanager
def _quiet():
    """The converters' Python logging (deprecation notices, "assets written") held to errors."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "tf2onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _onnx_file(folder, name):
    return os.path.join(folder, FILES["onnx"] if name == "serving_default" else f"model.{name}.onnx")


def _write_bytes(path, content):
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(content)
    export.replace_file(path, write)
    return path


def _fixed(fn, size):
    """Signature `fn` with every input's unknown dimensions fixed: the batch to 1, an image's height
    and width to `size` (h, w)."""
    import tensorflow as tf
    specs = fn.structured_input_signature[1]
    names = sorted(specs)

    def shape(spec):
        dims = list(spec.shape)
        if len(dims) == 4:
            dims[1:3] = [d if d is not None else s for d, s in zip(dims[1:3], size)]
        return [1 if d is None else d for d in dims]

    fixed = [tf.TensorSpec(shape(specs[n]), specs[n].dtype, name=n) for n in names]

    def call(*args):
        return fn(**dict(zip(names, args)))
    # The signature's inputs take the parameter names, so the wrapper shows the original ones.
    call.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return tf.function(call, input_signature=fixed).get_concrete_function()


def write(saved_model, formats, folder=None, fixed_size=None):
    """Convert the SavedModel folder `saved_model` to the `formats` other than saved_model, into
    `folder` (default: the folder that holds it). Returns the paths written; each file is written
    whole or not at all. `fixed_size` (h, w) converts for that image size and one image per call
    only: LiteRT then runs its XNNPACK kernels, up to 2x faster (BUILD_NOTES.md)."""
    import tensorflow as tf
    folder = folder or os.path.dirname(os.path.abspath(saved_model))
    wanted = [name for name in formats if name != "saved_model"]
    if not wanted:
        return []
    require(wanted)
    loaded = export.load(saved_model, None)[0]  # one clear line when it is no export of this package
    chosen = _signatures(loaded)
    functions = [name for name, fn in chosen.items() if fn.structured_input_signature[1]]
    constants = {name: {key: _jsonable(value) for key, value in fn().items()}
                 for name, fn in chosen.items() if name not in functions}
    if fixed_size:
        chosen.update({name: _fixed(chosen[name], fixed_size) for name in functions})
    written = []
    with tempfile.TemporaryDirectory() as resaved, _quiet():
        tf.saved_model.save(loaded, resaved, signatures=chosen)
        if "tflite" in wanted:
            written.append(_write_bytes(os.path.join(folder, FILES["tflite"]),
                                        _tflite(resaved, functions, constants)))
        if "onnx" in wanted:
            for name in functions:
                written.append(_write_bytes(_onnx_file(folder, name), _onnx(resaved, name, constants)))
    return written


# -- running ----------------------------------------------------------------------------------------


def _plain(value):
    """An output as NumPy, strings as str (the formats give bytes or str)."""
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v),
                            otypes=[object])(value).astype(str)
    return value


def _numpy_outputs(fn):
    return lambda **inputs: {key: _plain(value) for key, value in fn(**inputs).items()}


class Served:
    """An export opened in any format: `signatures[name](**inputs)` maps NumPy arrays to a dict of
    NumPy arrays (strings as str), as the SavedModel's signature of that name does with tensors;
    `metadata` is the export's description (`common.export.describe`); `format` one of FORMATS."""

    def __init__(self, format, signatures, metadata):
        self.format, self.metadata = format, metadata
        self.signatures = {name: _numpy_outputs(fn) for name, fn in signatures.items()}

    def serving(self, signature="serving_default", **inputs):
        """A signature as a function of one uint8 image [H, W, 3] (the image tools' interface), given
        its other `inputs`."""
        serve = self.signatures[signature]
        return lambda image: serve(images=np.asarray(image)[None], **inputs)["images"][0]


def _saved_model(loaded):
    import tensorflow as tf

    def numpy_function(fn):
        return lambda **inputs: {key: value.numpy() for key, value in
                                 fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    return {name: numpy_function(fn) for name, fn in loaded.signatures.items()
            if not name.startswith(PORTABLE)}


def _checked(fn, shapes, path):
    """`fn` refusing, in one line, inputs that a file converted for a fixed size cannot take;
    `shapes` gives each input's dimensions (a negative number or None where any size goes)."""
    def call(**inputs):
        for name, value in inputs.items():
            want = shapes[name]
            if len(want) != np.ndim(value) or any(
                    isinstance(w, int) and w >= 0 and w != got for w, got in zip(want, np.shape(value))):
                fixed = "x".join("any" if not isinstance(w, int) or w < 0 else str(w) for w in want)
                raise ValueError(f"{path} was converted for a fixed size: its {name} are {fixed}, "
                                 f"not {'x'.join(map(str, np.shape(value)))}")
        return fn(**inputs)
    return call


def _tflite_signatures(path):
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path, num_threads=os.cpu_count())
    signatures = {}
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        shapes = {key: [int(d) for d in details["shape_signature"]]
                  for key, details in runner.get_input_details().items()}
        signatures[name] = _checked(runner, shapes, path)
    return {**signatures, **_constant_signatures(_tflite_constants(path))}


def _constant_signatures(constants):
    """Functions without inputs giving the stored `constants` ({signature: {output: value}}); JSON
    keeps no dtype, and every float an export holds is float32."""
    def array(value):
        value = np.asarray(value)
        return value.astype(np.float32) if value.dtype == np.float64 else value
    return {name: lambda values=values: {k: array(v) for k, v in values.items()}
            for name, values in constants.items()}


def _onnx_signatures(path):
    import onnxruntime

    def session(file):
        opened = onnxruntime.InferenceSession(file, providers=["CPUExecutionProvider"])
        stored = json.loads(opened.get_modelmeta().custom_metadata_map.get(_KEY, "null") or "null")
        if stored is None:
            raise ValueError(f"{file} has no gan-zoo-tf metadata: convert it with python -m "
                             "common.deploy")
        inputs = {i.name for i in opened.get_inputs()}
        outputs = [o.name for o in opened.get_outputs()]
        keys = [name[:-4] if name.endswith("_out") and name[:-4] in inputs else name
                for name in outputs]
        shapes = {i.name: list(i.shape) for i in opened.get_inputs()}
        return stored, _checked(lambda **feed: dict(zip(keys, opened.run(outputs, feed))), shapes,
                                file)

    stored, serve = session(path)
    signatures = {stored["signature"]: serve, **_constant_signatures(stored["constants"])}
    folder, own = os.path.split(os.path.abspath(path))
    for file in sorted(os.listdir(folder)):  # model.onnx's other signatures: model.<name>.onnx
        if file.startswith(own[:-len(".onnx")] + ".") and file.endswith(".onnx"):
            other, fn = session(os.path.join(folder, file))
            signatures[other["signature"]] = fn
    return signatures


def load(path, model):
    """An export of `model` (a class name) in any format, as a `Served`: a SavedModel folder, a
    .tflite or an .onnx file. FileNotFoundError or ValueError in one line when it is none of them,
    lacks this package's metadata, or is another model's."""
    if path.endswith(".tflite") or path.endswith(".onnx"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such file: {path}")
        kind = "tflite" if path.endswith(".tflite") else "onnx"
        require([kind])
        signatures = (_tflite_signatures if kind == "tflite" else _onnx_signatures)(path)
        if "metadata" not in signatures:
            raise ValueError(f"{path} has no {export.PACKAGE} metadata: convert it with "
                             "python -m common.deploy")
        raw = signatures.pop("metadata")()["json"]
        metadata = json.loads(np.asarray(raw).reshape(-1)[0])
    else:
        loaded, metadata = export.load(path, None)
        kind, signatures = "saved_model", _saved_model(loaded)
        signatures.pop("metadata")
    export.check_model(metadata, path, model)
    return Served(kind, signatures, metadata)
