"""SavedModel export with image-in / image-out serving signatures, metadata, written atomically.

A served model takes a uint8 batch [N, H, W, 3] of any H and W and returns uint8 images of the same
shape. Networks that need H and W to be multiples of some number (a U-Net's 2^downsamplings) get a
mirror-padded copy and their output is cropped back. The SavedModel needs nothing of this package to
load: `tf.saved_model.load(path).signatures["serving_default"](images=batch)["images"]`.

Every export says what it is: its `metadata` endpoint returns a JSON string (`describe`: package and
version, model class and configuration, training epoch, value range), and the tools refuse another
model's export by it (`load`). An export is written beside its target and renamed into place, so a
run killed while exporting leaves the previous export or the new one, never a mix.
"""

import contextlib
import glob
import importlib.metadata
import json
import os
import shutil
import uuid

import keras
import tensorflow as tf

from common import data, quiet, resize

PACKAGE = "gan-zoo-tf"


def describe(model, config=None, epoch=None):
    """The metadata of an export of `model` (a class name): this package and its version, the
    model's configuration (its get_config()) and the epochs it was trained for."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was not installed
        version = "unknown"
    return {"package": PACKAGE, "version": version, "model": model, "config": config or {},
            "epoch": epoch}


def write_archive(archive, path, metadata):
    """Add the `metadata` endpoint to a keras ExportArchive and write it to `path` atomically."""
    text = json.dumps(metadata)
    archive.add_endpoint("metadata", lambda: {"json": tf.constant(text)}, input_signature=[])
    replace_folder(path, lambda tmp: archive.write_out(tmp, verbose=False))
    return path


def replace_folder(path, write):
    """Run `write(tmp)` to fill a new folder beside `path`, then swap it in for `path`.

    The folder is written under a hidden sibling name and renamed into place; an earlier `path` is
    renamed away first and removed after. A run killed meanwhile leaves hidden leftovers, which the
    next call removes, and `path` either as it was or complete (or, between the two renames, absent).
    """
    parent, name = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    for leftover in glob.glob(os.path.join(parent, f".{glob.escape(name)}.*.partial")):
        shutil.rmtree(leftover, ignore_errors=True)
    token = uuid.uuid4().hex[:8]
    tmp = os.path.join(parent, f".{name}.{token}.partial")
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = os.path.join(parent, f".{name}.{token}.old.partial")
    if os.path.exists(path):
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def replace_file(path, write):
    """Run `write(tmp)` to write a file beside `path` (a hidden name ending as `path` does, so that
    writers that check the extension accept it), then rename it onto `path`: whole or not at all."""
    parent, name = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    for leftover in glob.glob(os.path.join(parent, f".*.partial.{glob.escape(name)}")):
        os.remove(leftover)
    tmp = os.path.join(parent, f".{uuid.uuid4().hex[:8]}.partial.{name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


def pad_to_multiple(images, multiple):
    """Mirror-pad [N, H, W, C] images at the bottom and right so that H and W divide by `multiple`."""
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    return data.mirror_pad(images, (h + multiple - 1) // multiple * multiple,
                           (w + multiple - 1) // multiple * multiple)


def image_signature(channels=3):
    return tf.TensorSpec([None, None, None, channels], tf.uint8, name="images")


def _resized_uint8(images, height, width):
    """uint8 images resized (bicubic, antialiased, as PIL's) and rounded to uint8 again, as a file is."""
    resized = resize.resize(images, height, width, "bicubic")
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def translate_uint8(network, images, *, value_range, multiple=1, size=None):
    """uint8 images through an image-to-image network: what the export serves. The network runs at
    their own size (mirror-padded to `multiple` and cropped back), or with `size` on a size x size
    copy whose output is resized back to their size (the official pix2pix test's way)."""
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    if size is not None:
        images = _resized_uint8(images, size, size)
    x = data.to_range(images, value_range)
    if network.input_shape[-1] == 1:
        x = tf.image.rgb_to_grayscale(x)
    if size is None:
        y = network(pad_to_multiple(x, multiple), training=False)[:, :h, :w]
    else:
        y = network(x, training=False)
    out = data.to_rgb(data.from_range(y, value_range))
    return out if size is None else _resized_uint8(out, h, w)


@contextlib.contextmanager
def _computing_in_float32(networks):
    """Every layer of `networks` computing in float32 meanwhile (their variables are float32 under
    mixed precision already). Layer._flatten_layers is Keras 3's walk over nested layers."""
    layers = [layer for network in networks for layer in network._flatten_layers(include_self=True)]
    policies = [layer.dtype_policy for layer in layers]
    for layer in layers:
        layer.dtype_policy = "float32"
    try:
        yield
    finally:
        for layer, policy in zip(layers, policies):
            layer.dtype_policy = policy


def add_portable(archive, name, fn, input_signature, networks):
    """Add `fn` as the endpoint portable_<name>: the twin of endpoint `name` that common.formats
    converts to LiteRT and ONNX, traced with `networks` computing in float32, as neither converter
    takes bfloat16 graphs. The variables are the same; only the graph differs."""
    traced = tf.function(fn, input_signature=input_signature, autograph=False)
    with _computing_in_float32(networks):
        traced.get_concrete_function()
    archive.add_endpoint("portable_" + name, traced)


def mixed_precision(network):
    return network.dtype_policy.compute_dtype != "float32"


def export_function(network, path, fn, input_signature, *, metadata, portable=None):
    """Write a SavedModel of `network` whose serving_default is `fn` ({"images": ...} out) and whose
    metadata endpoint returns `metadata` (from `describe`, with what the export adds). `portable`, for
    a serving_default that LiteRT or ONNX cannot express, is the same function in operations they
    can, with the same signature; it is added (as `fn` if not given) whenever the network computes in
    another precision than float32 (see common/formats.py)."""
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint("serving_default", fn, input_signature=input_signature)
    if portable is not None or mixed_precision(network):
        add_portable(archive, "serving_default", portable or fn, input_signature, [network])
    return write_archive(archive, path, metadata)


def write_raw(network, fn, output, input_shape, model, config):
    """`output`/saved_model of a converted `network` whose `raw` endpoint (and serving_default, the
    same) is `fn`: the network as its official code calls it, float32 `image` of `input_shape` in,
    for parity checks that need no knowledge of this package. The metadata names `model` and its
    `config`; written whole or not at all."""
    os.makedirs(output, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(network)
    signature = [tf.TensorSpec(input_shape, tf.float32, name="image")]
    for name in ("raw", "serving_default"):
        archive.add_endpoint(name, fn, input_signature=signature)
    return write_archive(archive, os.path.join(output, "saved_model"), describe(model, dict(config)))


def load(path, model):
    """(the SavedModel in `path`, its metadata), checked to be an export of `model` (a class name;
    None accepts any model of this package).

    A FileNotFoundError or ValueError says in one line what is wrong: no SavedModel there, one without
    this package's metadata, or another model's export. A run's or a converter's folder stands for
    the SavedModel in it (`--model=runs/dpe_demo` for runs/dpe_demo/saved_model).
    """
    inner = os.path.join(path, "saved_model")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")) and os.path.isfile(
            os.path.join(inner, "saved_model.pb")):
        path = inner
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"no SavedModel in {path!r} (expected {path}/saved_model.pb)")
    quiet.spend_onednn_line()
    loaded = tf.saved_model.load(path)
    if "metadata" not in loaded.signatures:
        raise ValueError(f"the SavedModel in {path} has no {PACKAGE} metadata: export it again with "
                         "this package's train or convert tools")
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy())
    check_model(metadata, path, model)
    return loaded, metadata


def load_raw(path, model):
    """(the `raw` signature of a converted `model` export in `path` as a function of a float32 NumPy
    image [1, H, W, 3] -> {name: NumPy output}, the export's metadata); errors as `load`'s."""
    loaded, metadata = load(path, model)
    raw = loaded.signatures["raw"]
    return (lambda image: {k: v.numpy() for k, v in raw(image=tf.constant(image, tf.float32)).items()}), metadata


def check_model(metadata, path, model):
    """A ValueError unless the export in `path` with `metadata` is one of `model` (None: any)."""
    if model is not None and metadata.get("model") != model:
        raise ValueError(f"the export in {path} is a {metadata.get('model')} model, not a "
                         f"{model} one: this tool runs {model} exports")
