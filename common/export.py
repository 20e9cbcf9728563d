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

import glob
import importlib.metadata
import json
import os
import shutil
import uuid

import keras
import tensorflow as tf

from common import data

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


def translate_uint8(network, images, *, value_range, multiple=1):
    """uint8 images through an image-to-image network, at their own size: what the export serves."""
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    x = data.to_range(images, value_range)
    if network.input_shape[-1] == 1:
        x = tf.image.rgb_to_grayscale(x)
    y = network(pad_to_multiple(x, multiple), training=False)[:, :h, :w]
    return data.to_rgb(data.from_range(y, value_range))


def export_function(network, path, fn, input_signature, *, metadata):
    """Write a SavedModel of `network` whose serving_default is `fn` ({"images": ...} out) and whose
    metadata endpoint returns `metadata` (from `describe`, with what the export adds)."""
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint("serving_default", fn, input_signature=input_signature)
    return write_archive(archive, path, metadata)


def export_translator(network, path, *, value_range, multiple=1, metadata):
    """Write a SavedModel whose serving_default maps uint8 images to uint8 images of the same size."""
    return export_function(
        network, path,
        lambda images: {"images": translate_uint8(network, images, value_range=value_range,
                                                  multiple=multiple)},
        [image_signature()], metadata=dict(metadata, value_range=list(value_range)))


def load(path, model):
    """(the SavedModel in `path`, its metadata), checked to be an export of `model` (a class name).

    A FileNotFoundError or ValueError says in one line what is wrong: no SavedModel there, one without
    this package's metadata, or another model's export.
    """
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"no SavedModel in {path!r} (expected {path}/saved_model.pb)")
    loaded = tf.saved_model.load(path)
    if "metadata" not in loaded.signatures:
        raise ValueError(f"the SavedModel in {path} has no {PACKAGE} metadata: export it again with "
                         "this package's train or convert tools")
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy())
    if metadata.get("model") != model:
        raise ValueError(f"the SavedModel in {path} is a {metadata.get('model')} model, not a "
                         f"{model} one: this tool runs {model} exports")
    return loaded, metadata


def load_serving(path, model):
    """The serving_default of an image SavedModel of `model` (a class name) as a function of one
    uint8 [H, W, 3] image."""
    serve = load(path, model)[0].signatures["serving_default"]
    return lambda image: serve(images=tf.constant(image[None]))["images"][0].numpy()
