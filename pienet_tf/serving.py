"""PieNet's SavedModel: personalised enhancement at any image size, and the user's preference vector.

    model = tf.saved_model.load(path)
    pref = model.signatures["preference"](images=liked)["preference"]       # uint8 [N, H, W, 3] -> [1, D]
    out = model.signatures["serving_default"](images=batch, preference=pref)["images"]   # uint8, same shape
    stored = model.signatures["styles"]()    # {"names": [K], "vectors": [K, D], "embed_size": S}

A preference vector (D = 512) is the normalised mean embedding of photos the user likes (the paper's way
for a new user) or one of the stored styles: the training users' learned vectors. serving_default takes one
vector per image, or one for the whole batch. Photos of any size are enhanced; those larger than a
512-pixel tile and its margins go in exact tiles (`enhance`), so memory stays bounded. The SavedModel
needs only TensorFlow to run.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from common import data, export, formats, images, tiles
from pienet_tf import networks
from pienet_tf.data import square
from pienet_tf.model import VALUE_RANGE

UNIT = (0.0, 1.0)  # PieNet's networks see images in [0, 1]
MULTIPLE = networks.MULTIPLE
# Receptive fields (before, after) in pixels beyond a 16-pixel cell of the stride grid, measured by
# `receptive_fields` (a test checks them): POOL_FIELD of a cell of the deepest map (1/16 size), whose mean
# is the global feature (worked out by hand in BUILD_NOTES); LOCAL_FIELD of an output pixel when the
# global feature is given. "same" stride-2 convs pad below/right only, hence before < after.
POOL_FIELD = (61, 76)
LOCAL_FIELD = (57, 60)
POOL_MARGIN = tiles.margin_of(POOL_FIELD, MULTIPLE)  # (64, 80)
LOCAL_MARGIN = tiles.margin_of(LOCAL_FIELD, MULTIPLE)  # (64, 64)
# Core size of a tile (see BUILD_NOTES: memory and time of a 12 MP photo by tile size).
DEFAULT_TILE = 512


def enhancer_parts(enhancer):
    """(deep, local) of PieNet's enhancer: image -> the deepest map, whose mean over H and W is the global
    feature; [image, global feature, preference] -> the output. local(x, mean(deep(x)), p) = enhancer(x, p).
    """
    pool = enhancer.get_layer("global_pool")
    image, preference = enhancer.inputs
    return (keras.Model(image, pool.input, name="deep"),
            keras.Model([image, pool.output, preference], enhancer.output, name="local"))


def enhance(enhancer, images, preference, *, tile=DEFAULT_TILE, finish=None):
    """PieNet's enhancer on images [N, H, W, 3] of any size (uint8, or float in [0, 1]), preference
    [N or 1, D] -> float32 [N, H, W, 3] (or what `finish` makes of it, per tile), not clipped.

    The images are mirror-padded bottom/right to multiples of 16 and the output cropped back. A photo
    larger than one window (`tile` plus the margins) goes in two tiled passes: the global feature as the
    mean of the deepest map over tiles, then the output tile by tile with that feature; both equal the
    untiled pass up to float rounding. `tile=None` runs the whole padded photo at once.
    """
    tiles.check_tiling(tile, POOL_MARGIN, MULTIPLE)
    finish = finish or (lambda y: y)
    images = tf.convert_to_tensor(images)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    padded = export.pad_to_multiple(images, MULTIPLE)
    preference = tf.broadcast_to(preference, [tf.shape(images)[0], tf.shape(preference)[1]])

    def whole():
        return finish(enhancer([data.as_unit(padded), preference], training=False))[:, :h, :w]

    if tile is None:
        return whole()
    deep, local = enhancer_parts(enhancer)

    def tiled():
        pooled = tiles.tiled_mean(lambda x: deep(data.as_unit(x), training=False), padded, tile=tile,
                                  margin=POOL_MARGIN, scale=MULTIPLE, channels=deep.output.shape[-1])
        pooled = tf.cast(pooled, deep.output.dtype)
        dtype = finish(tf.zeros([1, 1, 1, 3])).dtype
        return tiles.tiled_map(
            lambda x: finish(local([data.as_unit(x), pooled, preference], training=False)),
            padded, (h, w), tile=tile, margin=LOCAL_MARGIN, dtype=dtype)

    fits = [tiles.fits_one_window(tf.shape(padded)[i], tile, POOL_MARGIN) for i in (1, 2)]
    return tf.cond(tf.logical_and(*fits), whole, tiled)


def enhance_uint8(enhancer, images, preference, *, tile=DEFAULT_TILE):
    """uint8 [N, H, W, 3] of any H, W and preference [N or 1, D] -> enhanced uint8 of the same shape:
    `enhance`, clipped to [0, 1] and rounded per tile."""
    return enhance(enhancer, images, preference, tile=tile,
                   finish=lambda y: data.from_range(y, UNIT))


def receptive_fields(enhancer, size=640, seed=0):
    """(POOL_FIELD, LOCAL_FIELD) measured on a `randomize`d copy of `enhancer` (its zero-initialised last
    conv would hide everything behind it) with a random global feature and preference."""
    probe = tiles.randomize(keras.models.clone_model(enhancer), seed)
    rng = np.random.default_rng(seed)
    deep, local = enhancer_parts(probe)
    pooled = tf.constant(rng.normal(size=(1, deep.output.shape[-1])), tf.float32)
    preference = tf.constant(rng.normal(size=(1, probe.inputs[1].shape[-1])), tf.float32)
    return (tiles.receptive_field(deep, multiple=MULTIPLE, scale=MULTIPLE, size=size, seed=seed),
            tiles.receptive_field(lambda x: local([x, pooled, preference]), multiple=MULTIPLE,
                                  size=size, seed=seed))


def preference_vector(embedding, photos, *, embed_size, portable=False):
    """The preference vector [1, D] of liked photos, uint8 [N, H, W, 3]: each photo's centred square is
    resized to embed_size (as pienet_tf.data.square in training), embedded, and the mean of the
    embeddings L2-normalised (the paper's new-user vector). `portable` resizes by matrix products
    (`common.resize`), which LiteRT and ONNX can express."""
    squares = data.resize(data.center_crop(photos), embed_size, portable=portable)
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


def export_pienet(embedding, enhancer, style_names, style_vectors, path, *, embed_size=None,
                  tile=DEFAULT_TILE, metadata):
    """Write PieNet's SavedModel: serving_default, preference, styles and metadata (see the module
    docstring).

    `embedding`: float [N, S, S, 3] in [0, 1] -> [N, D]; `enhancer`: `networks.enhancer`;
    `style_names`/`style_vectors` [K, D]: the stored styles (`PieNet.style_vectors()`); `embed_size`: S
    (default: the embedding's input size); `tile` bounds the memory of large photos without changing
    the result; `metadata` from `common.export.describe`.
    """
    tiles.check_tiling(tile, POOL_MARGIN, MULTIPLE)
    size = _embed_size(embedding, embed_size)
    dims = int(embedding.output_shape[-1])
    names, vectors = _checked_styles(style_names, style_vectors, dims)
    stored = {"names": tf.constant(names, tf.string), "vectors": tf.constant(vectors),
              "embed_size": tf.constant(size, tf.int32)}

    archive = keras.export.ExportArchive()
    archive.track(embedding)
    archive.track(enhancer)
    signatures = {"serving_default": [export.image_signature(),
                                      tf.TensorSpec([None, dims], tf.float32, name="preference")],
                  "preference": [export.image_signature()]}

    def serving(portable):
        return lambda images, preference: {"images": enhance_uint8(
            enhancer, images, preference, tile=None if portable else tile)}

    def preference(portable):
        return lambda images: {"preference": preference_vector(embedding, images, embed_size=size,
                                                               portable=portable)}

    # Each endpoint and its portable_ twin for LiteRT and ONNX (common/formats.py): untiled, resized
    # by matrices.
    for name, make in (("serving_default", serving), ("preference", preference)):
        archive.add_endpoint(name, make(False), input_signature=signatures[name])
        export.add_portable(archive, name, make(True), signatures[name], [embedding, enhancer])
    archive.add_endpoint("styles", lambda: dict(stored), input_signature=[])
    return export.write_archive(archive, path, dict(metadata, value_range=list(VALUE_RANGE)))


# -- using an export --------------------------------------------------------------------------------


def load(path):
    """A PieNet export in any format (`common.formats.Served`): a SavedModel folder, model.tflite or
    model.onnx (FileNotFoundError/ValueError)."""
    return formats.load(path, "PieNet")


def stored_style(model, name):
    """The stored preference vector [1, D] of style `name`; a KeyError lists the stored names."""
    stored = model.signatures["styles"]()
    names = list(stored["names"])
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
    return model.signatures["preference"](images=np.stack(photos))["preference"], failed
