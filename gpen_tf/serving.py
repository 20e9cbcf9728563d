"""GPEN at any image size: the function the SavedModel serves, and its export.

    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(images=uint8_batch)["images"]        # uint8 [N, H, W, 3] -> uint8 [N, H, W, 3]

The generator restores S x S faces (S = 512 for BFR-512). A face of another size is resized to S x S
(bicubic, antialiased, as the training data is), restored, and resized back to its own H x W, so a
non-square crop is stretched to a square and back. Inputs are expected to be aligned face crops, as
the training faces are; the SavedModel does no face detection or alignment.
"""

import tensorflow as tf

from common import data, export, resize

VALUE_RANGE = (-1.0, 1.0)  # the official code's range, as gpen_tf.degradation.faces gives


def _size(generator, size):
    built = generator.input_shape[1:3]
    size = built[0] if size is None else size
    if size is None or tuple(built) not in ((size, size), (None, None)):
        raise ValueError(f"size={size} does not match the generator's input {tuple(built)}; "
                         "GPEN restores S x S faces")
    return int(size)


def restore_uint8(generator, images, size=None, value_range=VALUE_RANGE, *, portable=False):
    """uint8 faces [N, H, W, 3] of any H and W -> restored uint8 faces of the same shape.

    `size` is the generator's face size S (default: read from its input shape); `value_range` is the
    generator's (the official [-1, 1]; [0, 1] for a model trained without normalisation); `portable`
    resizes by matrix products (`common.resize`), which LiteRT and ONNX can express.
    """
    size = _size(generator, size)
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise ValueError(f"restore_uint8 takes uint8 images, got {images.dtype.name}")
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    faces = tf.clip_by_value(resize.resize(images, size, size, "bicubic", portable=portable), 0.0, 255.0)
    restored = generator(data.to_range(faces, value_range), training=False)
    return _to_uint8(resize.resize(tf.cast(restored, tf.float32), h, w, "bicubic", portable=portable),
                     value_range)


def _to_uint8(images, value_range):
    """Float faces in value_range -> uint8 as the official FaceGAN.tensor2img makes them: clipped to
    the range, scaled to 0-255 and truncated (not rounded: the official pipeline's pixels, half a
    level darker on average than rounding would give)."""
    low, high = value_range
    unit = tf.clip_by_value((images - low) / (high - low), 0.0, 1.0)
    return tf.cast(unit * 255.0, tf.uint8)


def export_restorer(generator, path, size=None, *, metadata, value_range=VALUE_RANGE):
    """Write a SavedModel whose serving_default maps uint8 faces [N, H, W, 3] to restored uint8 faces
    (and `portable`, the same for the other formats); `metadata` from `common.export.describe`."""
    size = _size(generator, size)
    return export.export_function(
        generator, path, lambda images: {"images": restore_uint8(generator, images, size, value_range)},
        [export.image_signature()], metadata=dict(metadata, value_range=list(value_range)),
        portable=lambda images: {"images": restore_uint8(generator, images, size, value_range,
                                                         portable=True)})
