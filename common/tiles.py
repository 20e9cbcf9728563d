"""Exact tiled evaluation of convolutional networks on photos too large to run at once.

A network whose strided layers halve H and W k times works on a grid of `multiple` = 2**k pixels. The
padded photo (H and W multiples of `multiple`) is cut into `tile` x `tile` cores on that grid; each core
is computed from a window reaching `margin` = (before, after) pixels beyond it, shifted inwards at the
photo's border so that a window touching the border pads exactly as the whole photo would. When the margin
covers the network's receptive field (`receptive_field` measures it), no kept value depends on a window
edge, and the tiled result equals the untiled one up to float rounding (convolutions of other sizes may
sum in another order).

`tiled_map` stitches a same-size output from the cores; `tiled_mean` averages a map at 1/scale of the
input over the cores (a global average pooling computed tile by tile). Both are TensorFlow graph code
(`tf.map_fn` over a dynamic number of tiles, one at a time so that memory is that of one window), traced
once for any H and W.
"""

import keras
import numpy as np
import tensorflow as tf


def check_tiling(tile, margin, multiple):
    """(tile or None, (before, after)) from the arguments, each on the `multiple` grid (ValueError)."""
    if tile is not None and (int(tile) != tile or tile < multiple or tile % multiple):
        raise ValueError(f"tile must be a positive multiple of {multiple} (or None), got {tile}")
    pair = (margin, margin) if np.ndim(margin) == 0 else tuple(margin)
    if len(pair) != 2 or any(int(m) != m or m < 0 or m % multiple for m in pair):
        raise ValueError(f"margin must be a non-negative multiple of {multiple} or a pair of them "
                         f"(before, after), got {margin}")
    return None if tile is None else int(tile), tuple(int(m) for m in pair)


def margin_of(field, multiple):
    """The margin (before, after) for a receptive field: each side rounded up to the grid."""
    return tuple(-(-r // multiple) * multiple for r in field)


def fits_one_window(size, tile, margin):
    """Whether an axis of `size` padded pixels is a single tile (no tiling along it)."""
    return size <= tile + sum(margin)


def _axis_tiles(size, tile, before, after):
    """Tiling of one padded axis of length `size`.

    Returns (n, core, window, core_starts [n], window_starts [n]). All cores but the last start at
    multiples of `tile`; the last is shifted back to end at `size` (it overlaps its neighbour). Every
    window has the same length; an axis no longer than one window is one tile: the axis.
    """
    tiled = tf.logical_not(fits_one_window(size, tile, (before, after)))
    core = tf.where(tiled, tile, size)
    window = tf.where(tiled, tile + before + after, size)
    n = tf.where(tiled, (size + tile - 1) // tile, 1)
    core_starts = tf.minimum(tf.range(n) * tile, size - core)
    window_starts = tf.clip_by_value(core_starts - before, 0, size - window)
    return n, core, window, core_starts, window_starts


def _tiles(padded, tile, margin):
    """Per axis tilings of padded [N, H, W, C], and a function cutting window k out of it."""
    rows = _axis_tiles(tf.shape(padded)[1], tile, *margin)
    cols = _axis_tiles(tf.shape(padded)[2], tile, *margin)

    def window(k):
        r, c = k // cols[0], k % cols[0]
        start = tf.stack([0, rows[4][r], cols[4][c], 0])
        return r, c, tf.slice(padded, start, tf.stack([-1, rows[2], cols[2], -1]))

    return rows, cols, window


def _stitch_index(length, tile, n, core, core_starts):
    """For output rows 0..length-1, their row in the canvas of stacked cores (n blocks of `core` rows)."""
    y = tf.range(length)
    block = tf.minimum(y // tile, n - 1)
    return block * core + y - tf.gather(core_starts, block)


def tiled_map(fn, padded, size, *, tile, margin, dtype, channels=3):
    """fn over padded [N, Hp, Wp, C] in tiles, stitched and cropped to size = (H, W): [N, H, W, channels].

    `fn` maps a window [N, h, w, C] to an output of the same h and w, of `dtype`.
    """
    (nr, core_h, _, core_y, win_y), (nc, core_w, _, core_x, win_x), window = _tiles(padded, tile, margin)

    def one_tile(k):
        r, c, x = window(k)
        start = tf.stack([0, core_y[r] - win_y[r], core_x[c] - win_x[c], 0])
        return tf.slice(fn(x), start, tf.stack([-1, core_h, core_w, -1]))

    cores = tf.map_fn(one_tile, tf.range(nr * nc), parallel_iterations=1,
                      fn_output_signature=tf.TensorSpec([None, None, None, channels], dtype))
    # [tiles, N, core_h, core_w, C] -> one canvas of cores -> the rows and columns of the photo.
    batch = tf.shape(padded)[0]
    canvas = tf.reshape(cores, tf.stack([nr, nc, batch, core_h, core_w, channels]))
    canvas = tf.reshape(tf.transpose(canvas, [2, 0, 3, 1, 4, 5]),
                        tf.stack([batch, nr * core_h, nc * core_w, channels]))
    canvas = tf.gather(canvas, _stitch_index(size[0], tile, nr, core_h, core_y), axis=1)
    return tf.gather(canvas, _stitch_index(size[1], tile, nc, core_w, core_x), axis=2)


def _new_cells(length, tile, block, core_start, scale):
    """1 for the cells (of `scale` pixels) of a core that no earlier core of its axis holds, else 0."""
    first_new = block * tile  # the last core starts before this: its first cells are its neighbour's
    cells = core_start // scale + tf.range(length)
    return tf.cast(cells >= first_new // scale, tf.float32)


def tiled_mean(fn, padded, *, tile, margin, scale, channels):
    """The mean over H and W of fn(padded), computed in tiles: [N, channels] float32.

    `fn` maps a window [N, h, w, C] to a map [N, h/scale, w/scale, channels]; `scale` divides the grid,
    so that every core is a whole number of cells. Each cell is summed once (the overlap of an axis'
    last core with its neighbour is left out).
    """
    (nr, core_h, _, core_y, win_y), (nc, core_w, _, core_x, win_x), window = _tiles(padded, tile, margin)

    def one_tile(k):
        r, c, x = window(k)
        start = tf.stack([0, (core_y[r] - win_y[r]) // scale, (core_x[c] - win_x[c]) // scale, 0])
        cells = tf.cast(tf.slice(fn(x), start, tf.stack([-1, core_h // scale, core_w // scale, -1])),
                        tf.float32)
        rows = _new_cells(core_h // scale, tile, r, core_y[r], scale)
        cols = _new_cells(core_w // scale, tile, c, core_x[c], scale)
        return tf.einsum("nhwc,h,w->nc", cells, rows, cols)

    sums = tf.map_fn(one_tile, tf.range(nr * nc), parallel_iterations=1,
                     fn_output_signature=tf.TensorSpec([None, channels], tf.float32))
    count = tf.cast(tf.shape(padded)[1] // scale * (tf.shape(padded)[2] // scale), tf.float32)
    return tf.reduce_sum(sums, axis=0) / count


def _layers_with_kernels(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers_with_kernels(layer)
        elif hasattr(layer, "kernel"):
            yield layer


def randomize(model, seed=0):
    """`model` with random kernels, N(0, 1 / fan-in) (He-scaled), and biases N(0, 0.1), in place.

    A zero-initialised layer (a residual's last conv) or a tiny initialisation hides what lies behind
    it; with these weights every output depends on its whole receptive field with values of the order
    of the input. For measuring receptive fields and for comparing two ways of running a network.
    """
    rng = np.random.default_rng(seed)
    for layer in _layers_with_kernels(model):
        layer.kernel.assign(rng.normal(0, np.sqrt(1 / np.prod(layer.kernel.shape[:-1])), layer.kernel.shape))
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
    return model


def receptive_field(fn, *, multiple, scale=1, size=320, width=64, channels=3, seed=0):
    """Measured receptive field (before, after) of `fn` along H, in input pixels beyond a grid cell.

    `fn` maps [1, size, width, channels] float32 to a map at 1/scale of that size (with `randomize`d
    weights: a layer initialised to zero hides what is behind it). For every output row of a `multiple`-pixel cell
    of the grid in the middle of the input, the support of the gradient of that row gives the input rows
    it reads: `before` is the largest reach above the cell's first row, `after` below its last. A network
    built of the same layers along H and W has the same field along W.
    """
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.uniform(size=(1, size, width, channels)), tf.float32)
    cell = size // 2 // multiple * multiple
    before = after = 0
    for row in range(cell // scale, (cell + multiple) // scale):
        with tf.GradientTape() as tape:
            tape.watch(x)
            target = tf.reduce_sum(tf.cast(fn(x)[:, row], tf.float32))
        rows = np.flatnonzero(np.abs(tape.gradient(target, x).numpy()).sum(axis=(0, 2, 3)))
        if rows.min() == 0 or rows.max() == size - 1:
            raise ValueError(f"size={size} is too small to measure the receptive field")
        before = max(before, cell - rows.min())
        after = max(after, rows.max() - (cell + multiple - 1))
    return int(before), int(after)
