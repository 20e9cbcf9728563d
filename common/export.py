"""SavedModel export with image-in / image-out serving signatures.

A served model takes a uint8 batch [N, H, W, 3] of any H and W and returns uint8 images of the same
shape. Networks that need H and W to be multiples of some number (a U-Net's 2^downsamplings) get a
mirror-padded copy and their output is cropped back. The SavedModel needs nothing of this package to
load: `tf.saved_model.load(path).signatures["serving_default"](images=batch)["images"]`.
"""

import os

import keras
import tensorflow as tf

from common import data


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


def export_function(network, path, fn, input_signature):
    """Write a SavedModel of `network` whose serving_default is `fn` ({"images": ...} out)."""
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint("serving_default", fn, input_signature=input_signature)
    archive.write_out(path, verbose=False)
    return path


def export_translator(network, path, *, value_range, multiple=1):
    """Write a SavedModel whose serving_default maps uint8 images to uint8 images of the same size."""
    return export_function(
        network, path,
        lambda images: {"images": translate_uint8(network, images, value_range=value_range,
                                                  multiple=multiple)},
        [image_signature()])


def load_signature(path, input_name):
    """The serving_default of the SavedModel in `path`, checked to take an input `input_name`."""
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"no SavedModel in {path!r} (expected {path}/saved_model.pb)")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    if input_name not in inputs:
        raise ValueError(f"the SavedModel in {path} takes {sorted(inputs)}, not {input_name!r}: "
                         "it was exported by another kind of model")
    return serve


def load_serving(path):
    """The serving_default of an image SavedModel as a function of one uint8 [H, W, 3] image."""
    serve = load_signature(path, "images")
    return lambda image: serve(images=tf.constant(image[None]))["images"][0].numpy()
