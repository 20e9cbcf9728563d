"""Deep Photo Enhancer at any image size: the function the SavedModel serves, and its export.

    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(images=uint8_batch)["images"]        # uint8 [N, H, W, 3] -> uint8 [N, H, W, 3]

The generator is trained on S x S images (S = 512 in the paper) and its global path only gives a 1x1
global feature there. `enhance` handles every other size in one traced graph (no retracing per size):

* max(H, W) <= S (thumbnails up to the training size): the official test code's answer: pad bottom/right
  symmetrically (edge pixel repeated, np.pad 'symmetric') to S x S, run the generator, crop back.
* max(H, W) > S: the paper's answer (Sec. 4; author in issue #18; the official demo's LPGAN/TF.py): the global
  feature comes from a downsized copy (long side to S with Lanczos-3 antialiasing as the demo's PIL ANTIALIAS,
  rounded to uint8 levels as the demo's uint8 array, symmetric-padded bottom/right to S x S); the encoder and
  decoder (the "local path") run at full resolution on the photo mirror-padded to a multiple of 16, in
  overlapping tiles so that memory stays bounded, and the result is cropped back.

Tiling is exact (`common.tiles`): the padded photo is cut into `tile` x `tile` cores on the 16-pixel
grid of the four stride-2 convs, each computed from a window reaching MARGIN = (80, 64) pixels before/after
it. The margin covers the receptive field of the local path (RECEPTIVE_FIELD, worked out by hand, measured
by `receptive_field` and checked in tests), so the tiled result equals the untiled full-resolution pass up
to float rounding. See dpe_tf/NOTES.md.

Everything here is TensorFlow graph code (tf.cond, and tf.map_fn over a dynamic number of tiles), traced
once into the SavedModel for any H and W; the SavedModel needs nothing of this package to run.
"""

import numpy as np
import tensorflow as tf

from common import data, export, resize, tiles
from dpe_tf import networks
from dpe_tf.model import VALUE_RANGE

# H and W of the full-resolution pass must divide by 16 (four stride-2 convs, four x2 upsamplings).
MULTIPLE = 16
# Receptive field of the local path (encoder + decoder at full resolution, global feature fixed), as
# (before, after): how far beyond its own 16-pixel cell of the stride grid an output pixel reads input
# pixels, above/left and below/right. The full field of a pixel at phase r (0..15) in its cell is
# 79 + r above and 79 - r below it; measured by `receptive_field`, worked out by hand in dpe_tf/NOTES.md.
RECEPTIVE_FIELD = (79, 64)
# Margin of every tile before and after its core: the receptive field rounded up to the 16-pixel grid.
MARGIN = tiles.margin_of(RECEPTIVE_FIELD, MULTIPLE)  # (80, 64)
# Core size of a tile (pixels kept per tile side): the official demo's 1024-px patch. Measured on a
# 4000x3000 photo with the 512 generator (dpe_tf/NOTES.md): the whole process peaks at ~1.8 GB (TF and the
# loaded model alone: 0.7 GB) and it is the fastest tile measured; 256-768 save at most 0.4 GB but
# cost more margin compute, 1536 and more jump to 3.5 GB, the untiled pass to 11 GB.
DEFAULT_TILE = 1024


def _check_tiling(tile, margin):
    return tiles.check_tiling(tile, margin, MULTIPLE)


def _image_size(generator, image_size):
    """S: the generator's training size, checked against its input shape."""
    built = generator.input_shape[1]
    if image_size is None:
        image_size = built
    if image_size is None or image_size != built or generator.input_shape[2] != built:
        raise ValueError(f"image_size={image_size} does not match the generator's input "
                         f"{generator.input_shape[1:3]}; the DPE generator takes S x S images")
    return int(image_size)


def downsized_copy(images, image_size, *, portable=False):
    """The official demo's global-feature input: long side resized to S, symmetric-padded to S x S.

    [N, H, W, 3] in [0, 1] or uint8 (resized as such: no float copy of a large photo), max(H, W) >= S ->
    [N, S, S, 3] in [0, 1]. The demo resizes a uint8 photo with PIL's
    ANTIALIAS (Lanczos-3 widened by the scale factor) to round(H * S / max(H, W)) x round(W * S / max(H, W))
    (Python's round: half to even, as tf.round); the result is rounded to uint8 levels as the demo's is.
    `portable` resizes by matrix products (`common.resize`), which LiteRT and ONNX can express.
    """
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    size = [tf.maximum(1, _round_ratio(d * image_size, tf.maximum(h, w))) for d in (h, w)]
    small = resize.resize(images, size[0], size[1], "lanczos3", portable=portable)  # float32
    if images.dtype == tf.uint8:
        small /= 255.0
    small = tf.round(tf.clip_by_value(small, 0.0, 1.0) * 255.0) / 255.0
    return _square(export.pad_to_multiple(small, image_size), image_size)


def _round_ratio(numerator, denominator):
    """round(numerator / denominator) of int32 tensors, half to even as Python's, in integers: exact,
    and without the float64 that LiteRT lacks."""
    quotient = numerator // denominator
    twice_rest = 2 * (numerator - quotient * denominator)
    up = tf.logical_or(twice_rest > denominator,
                       tf.logical_and(twice_rest == denominator, quotient % 2 == 1))
    return quotient + tf.cast(up, tf.int32)


def _square(images, size):
    """[N, size, size, C] images with that shape known to the graph (a reshape, which LiteRT has and
    tf.ensure_shape is not)."""
    return tf.reshape(images, [-1, size, size, images.shape[-1]])


def local_pass(generator, images, features, *, tile=DEFAULT_TILE, margin=MARGIN, finish=None):
    """Encoder and decoder at full resolution with given global features, in exact overlapping tiles.

    images [N, H, W, 3], float in [0, 1] or uint8 (scaled per tile, so that no float copy of a large
    photo is held), any H and W >= 1; features [N or 1, 1, 1, 128]. The images are mirror-padded
    bottom/right to multiples of 16 and the result cropped back to [N, H, W, 3]. `tile=None` runs the
    whole padded image at once (the untiled reference). `finish` maps each tile's float output to what is
    stitched (e.g. to uint8, which keeps the stitched canvas 4x smaller); the default keeps float32.
    """
    tile, margin = _check_tiling(tile, margin)
    finish = finish or (lambda y: y)
    images = tf.convert_to_tensor(images)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    padded = export.pad_to_multiple(images, MULTIPLE)

    def run(x):
        return finish(networks.enhance_with_global(generator, data.as_unit(x), features=features))

    if tile is None:
        return run(padded)[:, :h, :w]
    dtype = finish(tf.zeros([1, 1, 1, 3])).dtype
    return tiles.tiled_map(run, padded, (h, w), tile=tile, margin=margin, dtype=dtype)


def enhance(generator, images, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN, finish=None,
            portable=False):
    """The DPE generator on images [N, H, W, 3] of any size (float in [0, 1], or uint8); same shape out.

    Small images (max(H, W) <= S) are symmetric-padded to S x S and run through `generator`; larger ones
    get the global feature of `downsized_copy` and the local path at full resolution (`local_pass`, tiled
    with `tile`/`margin`). Both run as the global feature of one input and the local path on another
    (for a small image the same padded one: `generator` itself), so that the branch on the size holds
    no convolution, which tf2onnx cannot convert inside a branch. `finish` is applied to the float32
    output (per tile on the large path); by default the output is float32, unclipped (the official
    generator's output is not clipped). `portable` is for LiteRT and ONNX: the downsized copy by
    matrix products (give `tile=None` too).
    """
    size = _image_size(generator, image_size)
    _check_tiling(tile, margin)
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        images = tf.cast(images, tf.float32)
    h, w = tf.shape(images)[1], tf.shape(images)[2]

    def small():
        padded = _square(export.pad_to_multiple(images, size), size)
        return data.as_unit(padded), padded

    def large():
        return downsized_copy(images, size, portable=portable), images

    global_input, local_input = tf.cond(tf.maximum(h, w) <= size, small, large)
    # The converters lose the rank of a branch's outputs; reshapes restate the shapes.
    local_input = tf.reshape(local_input, tf.stack([-1, tf.shape(local_input)[1],
                                                    tf.shape(local_input)[2], images.shape[-1]]))
    features = networks.global_feature(generator, _square(global_input, size))
    return local_pass(generator, local_input, features, tile=tile, margin=margin,
                      finish=finish)[:, :h, :w]


def _to_uint8(images):
    return data.from_range(images, (0, 1))


def enhance_uint8(generator, images, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN,
                  portable=False):
    """uint8 [N, H, W, 3] of any H, W -> enhanced uint8 of the same shape: what the SavedModel serves.

    `enhance` with values scaled to [0, 1] (the official code's range) and the output clipped and
    rounded to uint8 (per tile, so the stitched canvas is uint8).
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise ValueError(f"enhance_uint8 takes uint8 images, got {images.dtype.name}")
    return enhance(generator, images, image_size=image_size, tile=tile, margin=margin, finish=_to_uint8,
                   portable=portable)


def export_enhancer(generator, path, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN,
                    metadata):
    """Write a SavedModel whose serving_default maps uint8 [N, H, W, 3] to enhanced uint8, any H and W.

    `generator` is the inference generator (`networks.generator`, BN set 0); `image_size` its training
    size S (default: read from its input shape). `tile` bounds the memory of large photos (see
    dpe_tf/NOTES.md); it does not change the result. `metadata` from `common.export.describe`.
    Its `portable` signature, for LiteRT and ONNX, runs the photo whole (untiled): its memory grows
    with the photo.
    """
    size = _image_size(generator, image_size)
    _check_tiling(tile, margin)
    return export.export_function(
        generator, path,
        lambda images: {"images": enhance_uint8(generator, images, image_size=size, tile=tile,
                                                margin=margin)},
        [export.image_signature()], metadata=dict(metadata, value_range=list(VALUE_RANGE)),
        portable=lambda images: {"images": enhance_uint8(generator, images, image_size=size, tile=None,
                                                         portable=True)})


def random_like(generator, seed=0):
    """A new generator of the same architecture with He-scaled random kernels and biases
    (`common.tiles.randomize`).

    The official initialisation is ~1500x below He in variance, so an untrained generator's residual is
    ~1e-8 and hides any difference between two ways of running it; this one's residual is of the order
    of the image. For measuring the receptive field and for tests.
    """
    model = networks.generator(generator.input_shape[1], generator.input_shape[-1])
    return tiles.randomize(model, seed)


def receptive_field(generator, size=320, seed=0):
    """Measured receptive field of the local path, (before, after), as RECEPTIVE_FIELD: that of
    `random_like(generator)` with a random global feature (`common.tiles.receptive_field`). 16 gradients
    of a 320 x 64 image: seconds."""
    probe = random_like(generator, seed)
    rng = np.random.default_rng(seed)
    features = tf.constant(rng.normal(size=(1, 1, 1, networks.GLOBAL_FEATURES)), tf.float32)
    return tiles.receptive_field(
        lambda x: networks.enhance_with_global(probe, x, features=features),
        multiple=MULTIPLE, size=size, seed=seed)
