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

Tiling is exact: the padded photo is cut into `tile` x `tile` cores on the 16-pixel grid of the four
stride-2 convs; each core is computed from a window reaching MARGIN = (80, 64) pixels before/after it
(shifted inwards at the photo's border, so a window touching the border sees the same border padding as
the untiled pass), and only the core is kept. The margin covers the receptive field of the local path
(RECEPTIVE_FIELD, worked out by hand, measured by `receptive_field` and checked in tests), so a kept pixel
never depends on a window edge, and the tiled result equals the untiled full-resolution pass up to float
rounding (convolutions of other sizes may sum in another order). See dpe_tf/NOTES.md.

Everything here is TensorFlow graph code (tf.cond / tf.map_fn over a dynamic number of tiles), traced
once into the SavedModel for any H and W; the SavedModel needs nothing of this package to run.
"""

import keras
import numpy as np
import tensorflow as tf

from common import data, export
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
MARGIN = tuple(-(-r // MULTIPLE) * MULTIPLE for r in RECEPTIVE_FIELD)  # (80, 64)
# Core size of a tile (pixels kept per tile side): the official demo's 1024-px patch. Measured on a
# 4000x3000 photo with the 512 generator (dpe_tf/NOTES.md): the whole process peaks at ~1.8 GB (TF and the
# loaded model alone: 0.7 GB) and it is the fastest tile measured; 256-768 save at most 0.4 GB but
# cost more margin compute, 1536 and more jump to 3.5 GB, the untiled pass to 11 GB.
DEFAULT_TILE = 1024


def _margins(margin):
    """(before, after) from an int or a pair; each a non-negative multiple of 16 (the stride grid)."""
    pair = (margin, margin) if np.ndim(margin) == 0 else tuple(margin)
    if len(pair) != 2 or any(int(m) != m or m < 0 or m % MULTIPLE for m in pair):
        raise ValueError(f"margin must be a non-negative multiple of {MULTIPLE} or a pair of them "
                         f"(before, after), got {margin}")
    return tuple(int(m) for m in pair)


def _check_tiling(tile, margin):
    if tile is not None and (int(tile) != tile or tile < MULTIPLE or tile % MULTIPLE):
        raise ValueError(f"tile must be a positive multiple of {MULTIPLE} (or None), got {tile}")
    return None if tile is None else int(tile), _margins(margin)


def _image_size(generator, image_size):
    """S: the generator's training size, checked against its input shape."""
    built = generator.input_shape[1]
    if image_size is None:
        image_size = built
    if image_size is None or image_size != built or generator.input_shape[2] != built:
        raise ValueError(f"image_size={image_size} does not match the generator's input "
                         f"{generator.input_shape[1:3]}; the DPE generator takes S x S images")
    return int(image_size)


def downsized_copy(images, image_size):
    """The official demo's global-feature input: long side resized to S, symmetric-padded to S x S.

    [N, H, W, 3] in [0, 1] or uint8 (resized as such: no float copy of a large photo), max(H, W) >= S ->
    [N, S, S, 3] in [0, 1]. The demo resizes a uint8 photo with PIL's
    ANTIALIAS (Lanczos-3 widened by the scale factor) to round(H * S / max(H, W)) x round(W * S / max(H, W))
    (Python's round: half to even, as tf.round); the result is rounded to uint8 levels as the demo's is.
    """
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    scale = tf.cast(image_size, tf.float64) / tf.cast(tf.maximum(h, w), tf.float64)
    size = [tf.maximum(1, tf.cast(tf.round(tf.cast(d, tf.float64) * scale), tf.int32)) for d in (h, w)]
    small = tf.image.resize(images, tf.stack(size), method="lanczos3", antialias=True)  # float32
    if images.dtype == tf.uint8:
        small /= 255.0
    small = tf.round(tf.clip_by_value(small, 0.0, 1.0) * 255.0) / 255.0
    return tf.ensure_shape(export.pad_to_multiple(small, image_size), [None, image_size, image_size, None])


def _axis_tiles(size, tile, before, after):
    """Tiling of one padded axis of length `size` (a multiple of 16).

    Returns (n, core, window, core_starts [n], window_starts [n]). All cores but the last start at
    multiples of `tile`; the last is shifted back to end at `size` (it overlaps its neighbour). A window
    reaches `before` pixels before its core and `after` beyond it, shifted inwards where it would leave
    the image, so that every window has the same length and each window edge is either the image border
    or at least the margin away from the core. An axis no longer than one window is one tile: the axis.
    """
    tiled = size > tile + before + after
    core = tf.where(tiled, tile, size)
    window = tf.where(tiled, tile + before + after, size)
    n = tf.where(tiled, (size + tile - 1) // tile, 1)
    core_starts = tf.minimum(tf.range(n) * tile, size - core)
    window_starts = tf.clip_by_value(core_starts - before, 0, size - window)
    return n, core, window, core_starts, window_starts


def _stitch_index(length, tile, n, core, core_starts):
    """For output rows 0..length-1, their row in the canvas of stacked cores (n blocks of `core` rows)."""
    y = tf.range(length)
    block = tf.minimum(y // tile, n - 1)
    return block * core + y - tf.gather(core_starts, block)


def _unit(images):
    """uint8 images scaled to [0, 1] (the official code's range); float images as float32."""
    if images.dtype == tf.uint8:
        return data.to_range(images, (0, 1))
    return tf.cast(images, tf.float32)


def local_pass(generator, images, features, *, tile=DEFAULT_TILE, margin=MARGIN, finish=None):
    """Encoder and decoder at full resolution with given global features, in exact overlapping tiles.

    images [N, H, W, 3], float in [0, 1] or uint8 (scaled per tile, so that no float copy of a large
    photo is held), any H and W >= 1; features [N or 1, 1, 1, 128]. The images are mirror-padded
    bottom/right to multiples of 16 and the result cropped back to [N, H, W, 3]. `tile=None` runs the
    whole padded image at once (the untiled reference). `finish` maps each tile's float output to what is
    stitched (e.g. to uint8, which keeps the stitched canvas 4x smaller); the default keeps float32.
    """
    tile, (before, after) = _check_tiling(tile, margin)
    finish = finish or (lambda y: y)
    images = tf.convert_to_tensor(images)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    padded = export.pad_to_multiple(images, MULTIPLE)
    if tile is None:
        out = networks.enhance_with_global(generator, _unit(padded), features=features)
        return finish(out)[:, :h, :w]

    hp, wp = tf.shape(padded)[1], tf.shape(padded)[2]
    nr, core_h, win_h, core_y, win_y = _axis_tiles(hp, tile, before, after)
    nc, core_w, win_w, core_x, win_x = _axis_tiles(wp, tile, before, after)

    def one_tile(k):
        r, c = k // nc, k % nc
        window = tf.slice(padded, tf.stack([0, win_y[r], win_x[c], 0]), tf.stack([-1, win_h, win_w, -1]))
        out = networks.enhance_with_global(generator, _unit(window), features=features)
        out = tf.slice(out, tf.stack([0, core_y[r] - win_y[r], core_x[c] - win_x[c], 0]),
                       tf.stack([-1, core_h, core_w, -1]))
        return finish(out)

    dtype = finish(tf.zeros([1, 1, 1, 3])).dtype
    # One tile at a time (parallel_iterations=1): the peak memory is that of one window.
    cores = tf.map_fn(one_tile, tf.range(nr * nc), parallel_iterations=1,
                      fn_output_signature=tf.TensorSpec([None, None, None, 3], dtype))
    # [tiles, N, core_h, core_w, 3] -> one canvas of cores -> the rows and columns of the photo.
    batch = tf.shape(images)[0]
    canvas = tf.reshape(cores, tf.stack([nr, nc, batch, core_h, core_w, 3]))
    canvas = tf.reshape(tf.transpose(canvas, [2, 0, 3, 1, 4, 5]),
                        tf.stack([batch, nr * core_h, nc * core_w, 3]))
    canvas = tf.gather(canvas, _stitch_index(h, tile, nr, core_h, core_y), axis=1)
    return tf.gather(canvas, _stitch_index(w, tile, nc, core_w, core_x), axis=2)


def enhance(generator, images, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN, finish=None):
    """The DPE generator on images [N, H, W, 3] of any size (float in [0, 1], or uint8); same shape out.

    Small images (max(H, W) <= S) are symmetric-padded to S x S and run through `generator`; larger ones
    get the global feature of `downsized_copy` and the local path at full resolution (`local_pass`, tiled
    with `tile`/`margin`). `finish` is applied to the float32 output (per tile on the large path); by
    default the output is float32, unclipped (the official generator's output is not clipped).
    """
    size = _image_size(generator, image_size)
    _check_tiling(tile, margin)
    finish = finish or (lambda y: y)
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        images = tf.cast(images, tf.float32)
    h, w = tf.shape(images)[1], tf.shape(images)[2]

    def small():
        padded = tf.ensure_shape(export.pad_to_multiple(images, size), [None, size, size, None])
        return finish(generator(_unit(padded), training=False))[:, :h, :w]

    def large():
        features = networks.global_feature(generator, downsized_copy(images, size))
        return local_pass(generator, images, features, tile=tile, margin=margin, finish=finish)

    return tf.cond(tf.maximum(h, w) <= size, small, large)


def _to_uint8(images):
    return data.from_range(images, (0, 1))


def enhance_uint8(generator, images, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN):
    """uint8 [N, H, W, 3] of any H, W -> enhanced uint8 of the same shape: what the SavedModel serves.

    `enhance` with values scaled to [0, 1] (the official code's range) and the output clipped and
    rounded to uint8 (per tile, so the stitched canvas is uint8).
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise ValueError(f"enhance_uint8 takes uint8 images, got {images.dtype.name}")
    return enhance(generator, images, image_size=image_size, tile=tile, margin=margin, finish=_to_uint8)


def export_enhancer(generator, path, *, image_size=None, tile=DEFAULT_TILE, margin=MARGIN,
                    metadata):
    """Write a SavedModel whose serving_default maps uint8 [N, H, W, 3] to enhanced uint8, any H and W.

    `generator` is the inference generator (`networks.generator`, BN set 0); `image_size` its training
    size S (default: read from its input shape). `tile` bounds the memory of large photos (see
    dpe_tf/NOTES.md); it does not change the result. `metadata` from `common.export.describe`.
    """
    size = _image_size(generator, image_size)
    _check_tiling(tile, margin)
    return export.export_function(
        generator, path,
        lambda images: {"images": enhance_uint8(generator, images, image_size=size, tile=tile,
                                                margin=margin)},
        [export.image_signature()], metadata=dict(metadata, value_range=list(VALUE_RANGE)))


def _convs(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _convs(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            yield layer


def random_like(generator, seed=0):
    """A new generator of the same architecture with He-scaled random kernels and biases.

    The official initialisation is ~1500x below He in variance, so an untrained generator's residual is
    ~1e-8 and hides any difference between two ways of running it; this one's residual is of the order
    of the image. For measuring the receptive field and for tests.
    """
    model = networks.generator(generator.input_shape[1], generator.input_shape[-1])
    rng = np.random.default_rng(seed)
    for conv in _convs(model):
        fan_in = np.prod(conv.kernel.shape[:3])
        conv.kernel.assign(rng.normal(0, np.sqrt(1 / fan_in), conv.kernel.shape))
        conv.bias.assign(rng.normal(0, 0.1, conv.bias.shape))
    return model


def receptive_field(generator, size=320, seed=0):
    """Measured receptive field of the local path, (before, after), as RECEPTIVE_FIELD.

    For each of the 16 phases r of the stride grid, the support of the gradient of one output row (a
    row at phase r of a 16-aligned cell) on `random_like(generator)` gives the input rows it reads: `before`
    is the largest reach above the cell's first row, `after` below its last row. The layers are the same
    along H and W, so this also holds for columns. 16 gradients of a 320 x 64 image: seconds.
    """
    probe = random_like(generator, seed)
    rng = np.random.default_rng(seed)
    features = tf.constant(rng.normal(size=(1, 1, 1, networks.GLOBAL_FEATURES)), tf.float32)
    x = tf.constant(rng.uniform(size=(1, size, MULTIPLE * 4, 3)), tf.float32)
    cell = size // 2 // MULTIPLE * MULTIPLE
    before = after = 0
    for phase in range(MULTIPLE):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = networks.enhance_with_global(probe, x, features=features)
            target = tf.reduce_sum(y[:, cell + phase])
        rows = np.flatnonzero(np.abs(tape.gradient(target, x).numpy()).sum(axis=(0, 2, 3)))
        if rows.min() == 0 or rows.max() == size - 1:
            raise ValueError(f"size={size} is too small to measure the receptive field")
        before = max(before, cell - rows.min())
        after = max(after, rows.max() - (cell + MULTIPLE - 1))
    return int(before), int(after)
