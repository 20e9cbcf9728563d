"""pix2pix in eval mode on photos of any size, in exact tiles, so that memory stays bounded.

    serve = tf.saved_model.load(path).signatures
    out = serve["serving_default"](images=uint8_batch)["images"]       # tiles of the export's size
    out = serve["serving_tiled"](images=uint8_batch, tile=tf.constant(512))["images"]   # another size

A U-Net of d = num_downs downsamplings works on the grid of M = 2**d pixels. Its eval-mode output at a
pixel depends on a bounded window of the input: each 4x4 stride-2 "same" conv makes pixel i of its map
read pixels 2i-1 .. 2i+2 of the map above, so a bottleneck pixel j reads input pixels
M*j - (M-1) .. M*j + 2(M-1) (3M - 2 of them: all of a 256-px crop for unet_256); each 4x4 stride-2
transposed conv makes pixel o read floor((o-1)/2) .. floor((o+1)/2) of the map below, so the output
pixels of grid cell c read bottleneck pixels c-1 .. c+1; the skips reach less far. Beyond its own cell,
an output pixel thus reads up to 2M - 1 input pixels on either side (`receptive_field`; the tests
measure it with `common.tiles.receptive_field`), and the margin is 2M on either side: 512 px for
unet_256, whose windows are `tile` + 1024 px wide.

`translate_uint8` cuts the padded photo into such windows (`common.tiles.tiled_map`, one window at a
time) and equals the whole-photo pass (`common.export.translate_uint8`) up to float rounding. Instance
norm normalises by statistics over the whole image, which no window has: those generators run whole.
"""

import keras
import tensorflow as tf

from common import export, tiles

# Core size of a tile: measured on an 8000x6000 photo through unet_256 (BUILD_NOTES.md).
DEFAULT_TILE = 1024


def receptive_field(multiple):
    """(before, after): how far beyond its own cell of the `multiple` grid an output pixel of the U-Net
    reads input pixels (worked out in the module docstring)."""
    return 2 * multiple - 1, 2 * multiple - 1


def margin(multiple):
    return tiles.margin_of(receptive_field(multiple), multiple)


def runs_in_tiles(generator):
    """Whether tiles give `generator`'s whole-photo result: not with instance norm (GroupNormalization),
    whose statistics are the whole image's."""
    return not any(isinstance(layer, keras.layers.GroupNormalization) for layer in generator.layers)


def translate_uint8(generator, images, *, value_range, multiple, tile=DEFAULT_TILE):
    """uint8 images [N, H, W, 3] of any size through an eval-mode `generator`, as
    `export.translate_uint8`, in `tile` x `tile` cores on the `multiple` grid (an int, or an int32
    tensor whose value is one): the same result up to float rounding, in the memory of one window of
    tile + 4 * multiple pixels a side. Each window is scaled to floats and back to uint8 on its own, so
    that no float copy of the photo is made. `tile=None` runs the whole photo at once."""
    def one_pass(x):
        return export.translate_uint8(generator, x, value_range=value_range, multiple=multiple)

    if tile is None:
        return one_pass(images)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    return tiles.tiled_map(one_pass, export.pad_to_multiple(images, multiple), (h, w), tile=tile,
                           margin=margin(multiple), dtype=tf.uint8)


def _checked_tile(tile, multiple):
    """The int32 tile input of serving_tiled, failing the call unless it is a positive multiple of
    `multiple` (off the grid, the windows would not pad as the whole photo)."""
    valid = tf.logical_and(tile >= multiple, tile % multiple == 0)
    check = tf.debugging.Assert(valid, [f"tile must be a positive multiple of {multiple}, got", tile])
    with tf.control_dependencies([check]):
        return tf.identity(tile)


def export_translator(generator, path, *, value_range, multiple, tile=DEFAULT_TILE, metadata):
    """Write the eval-mode SavedModel of `generator`: serving_default in tiles of `tile` (None: the
    whole photo; always so for instance norm), and, when tiled, serving_tiled(images, tile) with the
    tile given per call (SavedModel only: common.formats.SAVED_MODEL_ONLY). serving_default's
    portable_ twin (LiteRT, ONNX) runs the photo whole: the tiling loop has no static shapes. `metadata` gains the value range, the grid and the tile."""
    tile = tile if runs_in_tiles(generator) else None
    tile, _ = tiles.check_tiling(tile, margin(multiple), multiple)
    spec = export.image_signature()

    def served(images, tile):
        return {"images": translate_uint8(generator, images, value_range=value_range,
                                          multiple=multiple, tile=tile)}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("serving_default", lambda images: served(images, tile), [spec])
    export.add_portable(archive, "serving_default", lambda images: served(images, None), [spec],
                        [generator])
    if tile is not None:
        with_tile = [spec, tf.TensorSpec([], tf.int32, name="tile")]
        archive.add_endpoint("serving_tiled",
                             lambda images, tile: served(images, _checked_tile(tile, multiple)),
                             with_tile)
    return export.write_archive(archive, path, dict(
        metadata, value_range=list(value_range), multiple=multiple, tile=tile))
