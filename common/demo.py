"""The demo data: photos shipped in common/demo_data (see PROVENANCE.md there) and pairs made from them.

`demo:photos` is one domain; each entry of PAIRS turns a photo into an (input, target) pair on the fly,
so that every model has something to learn with no download. split.json holds photos out for testing.
`demo:faces` is one domain of face crops (all of one photo, the only face with a clear licence), for
face restoration; its splits are split.json's "faces_train" and "faces_test".
"""

import json
import pathlib

import tensorflow as tf

DIRECTORY = pathlib.Path(__file__).parent / "demo_data"


# Sources with file lists of their own in split.json, under "<prefix><split>"; the others use the photos.
_PREFIXES = {"faces": "faces_"}


def files(split, name="photos"):
    """Paths of the demo images of a split ('train' or 'test') of the demo source `name`."""
    lists = json.loads((DIRECTORY / "split.json").read_text())
    prefix = _PREFIXES.get(name)
    if prefix:
        own = {key[len(prefix):]: names for key, names in lists.items() if key.startswith(prefix)}
    else:
        own = {key: names for key, names in lists.items()
               if not key.startswith(tuple(_PREFIXES.values()))}
    if split not in own:
        raise ValueError(f"the demo data {name!r} has the splits {sorted(own)}, not {split!r}")
    return [str(DIRECTORY / file) for file in own[split]]


def gray2color(photo):
    """(grayscale copy as 3 channels, photo): colorization."""
    return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(photo)), photo


def edges2photo(photo):
    """(dark edges on white, photo), like the edges2shoes sketches.

    The edges are the Sobel gradient magnitude of a blurred gray copy; blurring first keeps the
    outlines and drops fine texture.
    """
    gray = tf.image.rgb_to_grayscale(tf.cast(photo, tf.float32) / 255.0)[None]
    binomial = tf.constant([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    kernel = (binomial[:, None] * binomial[None, :])[:, :, None, None]
    blurred = tf.nn.conv2d(tf.pad(gray, [[0, 0], [2, 2], [2, 2], [0, 0]], "SYMMETRIC"), kernel, 1,
                           "VALID")
    magnitude = tf.norm(tf.image.sobel_edges(blurred), axis=-1)
    edges = 1.0 - tf.clip_by_value(magnitude / 0.4, 0.0, 1.0)
    edges = tf.cast(tf.round(edges[0] * 255.0), tf.uint8)
    return tf.image.grayscale_to_rgb(edges), photo


def underexposed(photo):
    """(the photo as a poor camera took it, photo): underexposed, flat and with a cold cast.

    A fixed, invertible tone and colour change, so an enhancer has a known target to learn: each
    channel is darkened by gamma 1.8, its contrast squeezed into [0.1, 0.8], and red scaled by 0.85
    and blue by 1.1 (a bluish cast).
    """
    x = tf.cast(photo, tf.float32) / 255.0
    y = (0.1 + 0.7 * x ** 1.8) * tf.constant([0.85, 1.0, 1.1])
    return tf.cast(tf.round(tf.clip_by_value(y, 0.0, 1.0) * 255.0), tf.uint8), photo


PAIRS = {"gray2color": gray2color, "edges2photo": edges2photo, "enhance": underexposed}
NAMES = ("photos", "faces") + tuple(PAIRS)
