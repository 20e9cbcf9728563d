"""PieNet's SavedModel: personalised enhancement at any image size, and the user's preference vector.

    model = tf.saved_model.load(path)
    pref = model.signatures["preference"](images=liked)["preference"]       # uint8 [N, H, W, 3] -> [1, D]
    out = model.signatures["serving_default"](images=batch, preference=pref)["images"]   # uint8, same shape
    stored = model.signatures["styles"]()    # {"names": [K], "vectors": [K, D], "embed_size": S}

A preference vector (D = 512) is the normalised mean embedding of photos the user likes (the paper's way
for a new user) or one of the stored styles: the training users' learned vectors. serving_default takes one
vector per image, or one for the whole batch. The SavedModel needs only TensorFlow to run.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from common import data, export, images
from pienet_tf.data import square
from pienet_tf.model import VALUE_RANGE

UNIT = (0.0, 1.0)  # PieNet's networks see images in [0, 1]


def enhance_uint8(enhancer, images, preference, *, multiple):
    """uint8 [N, H, W, 3] of any H, W and preference [N or 1, D] -> enhanced uint8 of the same shape.

    The images are mirror-padded bottom/right to multiples of `multiple` for the enhancer (its H and W
    must divide by it), its output I + dI cropped back, clipped to [0, 1] and rounded.
    """
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    x = export.pad_to_multiple(data.to_range(images, UNIT), multiple)
    preference = tf.broadcast_to(preference, [tf.shape(images)[0], tf.shape(preference)[1]])
    y = enhancer([x, preference], training=False)[:, :h, :w]
    return data.from_range(y, UNIT)


def preference_vector(embedding, photos, *, embed_size):
    """The preference vector [1, D] of liked photos, uint8 [N, H, W, 3]: each photo's centred square is
    resized to embed_size (pienet_tf.data.square, as in training), embedded, and the mean of the
    embeddings L2-normalised (the paper's new-user vector)."""
    squares = tf.map_fn(lambda photo: square(photo, embed_size), photos,
                        fn_output_signature=tf.TensorSpec([embed_size, embed_size, 3], tf.uint8))
    embeddings = embedding(data.to_range(squares, UNIT), training=False)
    return tf.math.l2_normalize(tf.reduce_mean(embeddings, axis=0, keepdims=True), axis=-1)


def _embed_size(embedding, embed_size):
    size = embed_size or embedding.input_shape[1]
    if not size:
        raise ValueError("the embedding takes any image size: give embed_size, the size it was "
                         "trained on")
    return int(size)


def _checked_styles(style_names, style_vectors, dims):
    names = [str(n) for n in style_names]
    vectors = np.asarray(style_vectors, np.float32)
    if vectors.shape != (len(names), dims):
        raise ValueError(f"style_vectors must be [{len(names)} styles, {dims}] (the embedding's "
                         f"size), got {list(vectors.shape)}")
    if len(set(names)) != len(names):
        raise ValueError(f"style names must be unique, got {names}")
    return names, vectors


def export_pienet(embedding, enhancer, style_names, style_vectors, path, *, multiple, embed_size=None,
                  metadata):
    """Write PieNet's SavedModel: serving_default, preference, styles and metadata (see the module
    docstring).

    `embedding`: float [N, S, S, 3] in [0, 1] -> [N, D]; `enhancer`: [images in [0, 1], preference
    [N, D]] -> images, H and W multiples of `multiple`; `style_names`/`style_vectors` [K, D]: the
    stored styles (`PieNet.style_vectors()`); `embed_size`: S (default: the embedding's input size);
    `metadata` from `common.export.describe`.
    """
    size = _embed_size(embedding, embed_size)
    dims = int(embedding.output_shape[-1])
    names, vectors = _checked_styles(style_names, style_vectors, dims)
    stored = {"names": tf.constant(names, tf.string), "vectors": tf.constant(vectors),
              "embed_size": tf.constant(size, tf.int32)}

    archive = keras.export.ExportArchive()
    archive.track(embedding)
    archive.track(enhancer)
    archive.add_endpoint(
        "serving_default",
        lambda images, preference: {"images": enhance_uint8(enhancer, images, preference,
                                                            multiple=multiple)},
        input_signature=[export.image_signature(),
                         tf.TensorSpec([None, dims], tf.float32, name="preference")])
    archive.add_endpoint(
        "preference",
        lambda images: {"preference": preference_vector(embedding, images, embed_size=size)},
        input_signature=[export.image_signature()])
    archive.add_endpoint("styles", lambda: dict(stored), input_signature=[])
    return export.write_archive(archive, path, dict(metadata, value_range=list(VALUE_RANGE)))


# -- using an export --------------------------------------------------------------------------------


def load(path):
    """The loaded SavedModel in `path`, checked to be a PieNet export (FileNotFoundError/ValueError)."""
    return export.load(path, "PieNet")[0]


def stored_style(model, name):
    """The stored preference vector [1, D] of style `name`; a KeyError lists the stored names."""
    stored = model.signatures["styles"]()
    names = [n.decode() for n in stored["names"].numpy()]
    if name not in names:
        raise KeyError(f"not a style of this model; its styles are: {', '.join(names)}")
    return stored["vectors"][names.index(name)][None]


def preferred_style(model, folder):
    """(preference vector [1, D] of the photos in `folder`, how many could not be read).

    Each photo's centred square is resized to the embedding's size here, so that all make one batch.
    """
    size = int(model.signatures["styles"]()["embed_size"])
    photos, failed = [], 0
    for path in images.list_images(folder):
        try:
            photos.append(square(images.read_image(path), size))
        except images.ImageReadError as err:
            print(f"skipped preferred photo: {err}", file=sys.stderr)
            failed += 1
    if not photos:
        raise ValueError(f"none of the preferred photos in {folder} could be read")
    print(f"preference vector from {len(photos)} photos in {folder}")
    return model.signatures["preference"](images=tf.stack(photos))["preference"], failed
