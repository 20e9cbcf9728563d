"""Seconds per whole photo for GPEN in the wild, face detection and restoration apart (a benchmark).

    python tools/faces_benchmark.py                       # BFR-512 widths, 1 MP, 1 and 5 faces
    python tools/faces_benchmark.py --size=256 --channel_multiplier=1 --narrow=0.5 --megapixels=4

The photo is scikit-image's astronaut (a test dependency) pasted --faces times, at scales that keep
every face above the detector's minimum, onto a smooth background of --megapixels. The generator is
GPEN at the given widths with random weights (the time does not depend on the weights). "detect" is
MTCNN on the whole photo; "restore" is the rest of `faces.PhotoRestorer`: aligning each face, the
generator on all of them at once, warping back and blending. Each figure is the median of --repeats
calls after one untimed call (tracing).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
from gpen_tf import detection, faces, networks, serving  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("size", 512, "The generator's face size.")
flags.DEFINE_integer("channel_multiplier", 2, "GPEN's channel multiplier (BFR-512: 2).")
flags.DEFINE_float("narrow", 1.0, "GPEN's width factor (BFR-512: 1).")
flags.DEFINE_float("megapixels", 1.0, "Size of the photo.")
flags.DEFINE_list("faces", ["1", "5"], "Face counts to measure.")
flags.DEFINE_integer("repeats", 3, "Timed calls per figure.")
FLAGS = flags.FLAGS


def photo_with_faces(count, megapixels):
    from skimage import data as skdata
    side = int(np.sqrt(megapixels * 1e6))
    y, x = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side), indexing="ij")
    photo = np.stack([90 + 60 * x, 120 + 40 * y, 150 - 50 * x * y], -1).round().astype(np.uint8)
    columns = int(np.ceil(np.sqrt(count)))
    cell = side // columns
    astronaut = skdata.astronaut()
    pasted = tf.cast(tf.image.resize(astronaut, [cell, cell], antialias=True), tf.uint8).numpy()
    for k in range(count):
        top, left = (k // columns) * cell, (k % columns) * cell
        photo[top:top + cell, left:left + cell] = pasted
    return photo


def median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv):
    del argv
    generator = networks.generator(FLAGS.size, FLAGS.channel_multiplier, FLAGS.narrow)
    restore_fn = tf.function(lambda crops: serving.restore_uint8(generator, crops, FLAGS.size))
    detector = detection.MTCNN()
    flags_line = " ".join(f for f in ("avx512_bf16", "avx512f", "avx2")
                          if f in open("/proc/cpuinfo").read().split())
    print(f"GPEN {FLAGS.size} px (cm {FLAGS.channel_multiplier}, narrow {FLAGS.narrow}), "
          f"{FLAGS.megapixels} MP photo, {os.cpu_count()} cores ({flags_line}), TF {tf.__version__}")
    for count in (int(c) for c in FLAGS.faces):
        photo = photo_with_faces(count, FLAGS.megapixels)
        found = detector(photo)
        detect = median_seconds(lambda: detector(photo), FLAGS.repeats)
        restorer = faces.PhotoRestorer(lambda crops: restore_fn(tf.constant(crops)).numpy(),
                                       size=FLAGS.size, detector=lambda _: found)
        restore = median_seconds(lambda: restorer(photo), FLAGS.repeats)
        print(f"{count} face(s), {len(found)} found: detect {detect:.2f} s, restore {restore:.2f} s, "
              f"total {detect + restore:.2f} s")


if __name__ == "__main__":
    app.run(main)
