"""Degrade clean faces as GPEN's released training does: test pairs for face restoration.

    python -m gpen_tf.degrade --input=faces/ --output=pairs/degraded --clean_output=pairs/clean --size=512
    python -m gpen_tf.degrade --input=face.png --output=degraded/ --noise_sigma=off --jpeg_quality=70

Each degraded copy is a PNG named after its input. Its degradation is drawn from --seed and the image's
pixels, so a face and a seed give the same copy every time, whatever else is in the folder. With --size
each face is first cut to its centred square and resized to SIZE x SIZE, as the training data is;
without it a face keeps its size. --clean_output writes the clean copies (resized, and gray where the
degraded one is gray), so that `paired:pairs/degraded,pairs/clean` pairs them for evaluation. The
degradation flags default to the released training's ranges (see gpen_tf/degradation.py); a range is
LOW,HIGH, one number for a fixed value, or 'off'.

Exit codes: 0 all written; 1 some input files could not be read (named on stderr); 2 bad arguments
(a missing flag, a bad range, no images in --input, an output folder holding the inputs).
"""

import os
import zlib

from absl import app, flags

from common import cli
from gpen_tf import options

flags.DEFINE_string("input", None, "A clean face image or a folder of them (aligned crops).")
flags.DEFINE_string("output", None, "Folder for the degraded copies (PNG); it must not hold the inputs.")
flags.DEFINE_string("clean_output", None, "Optional folder for the clean copies (PNG), the targets of "
                    "the degraded ones.")
flags.DEFINE_integer("seed", 0, "Seed of the degradations (with each image's pixels).")
flags.DEFINE_integer("size", 0, "Cut each face to its centred square and resize it to SIZE x SIZE "
                     "first; 0 keeps each face's size.", lower_bound=0)
options.define_degradation_flags()
FLAGS = flags.FLAGS


def degrader(settings, *, seed, size):
    """The function uint8 [H, W, 3] -> (degraded, clean) uint8 of the Degradation `settings`, at
    `size` x `size` if size else at the image's size. Each image's degradation is drawn from
    [seed, a checksum of its shape and pixels]."""
    import numpy as np
    import tensorflow as tf

    from common import data
    from gpen_tf import degradation
    degrade = tf.function(degradation.degrade, reduce_retracing=True)

    def pair(image):
        checksum = zlib.crc32(np.ascontiguousarray(image).tobytes(),
                              zlib.crc32(str(image.shape).encode()))
        face = tf.constant(image)
        if size:
            face = data.resize(data.center_crop(face), size)
        degraded, clean = degrade(face, tf.constant([seed, checksum], tf.int64), settings)
        return tuple(data.from_range(x, (0.0, 1.0)).numpy() for x in (degraded, clean))

    return pair


def main(argv):
    cli.check_arguments(argv, FLAGS, "input", "output")
    if FLAGS.clean_output and os.path.abspath(FLAGS.clean_output) == os.path.abspath(FLAGS.output):
        raise app.UsageError("--clean_output must be another folder than --output")
    for flag in ("output", "clean_output"):
        cli.output_folder(FLAGS, flag)
    try:
        settings = options.degradation_from_flags()
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    from common import images  # TensorFlow, once the flags are known to be good
    pair = degrader(settings, seed=FLAGS.seed, size=FLAGS.size)

    def copy(which):
        return lambda image: pair(image)[which]

    def write():
        failed = images.process_files(FLAGS.input, FLAGS.output, copy(0))
        if FLAGS.clean_output:
            failed = max(failed, images.process_files(FLAGS.input, FLAGS.clean_output, copy(1)))
        return failed

    cli.exit_after(write)


if __name__ == "__main__":
    cli.run(main)
