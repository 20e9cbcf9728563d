"""Seconds per 1,000 images of the FID Inception's features on this machine, at each of pytorch-fid's
four feature sizes (a benchmark, not a test; random weights: the cost does not depend on them).

    python tools/fid_benchmark.py [--images=100] [--batch_size=50]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import inception  # noqa: E402  (sets TensorFlow's CPU options first)

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("images", 100, "Images timed per feature size (after one untimed batch).")
flags.DEFINE_integer("batch_size", 50, "Images per forward pass (common.fid's default).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    flags_line = " ".join(f for f in ("avx512_bf16", "avx512f", "avx2") if f in open("/proc/cpuinfo").read().split())
    print(f"{os.cpu_count()} cores ({flags_line}); 256 x 256 inputs resized to 299")
    model = inception.build()
    batch = np.random.default_rng(0).random((FLAGS.batch_size, 256, 256, 3)).astype(np.float32)
    for dims in inception.DIMS:
        network = inception.feature_network(model, dims)
        inception.features(network, batch)  # traced and warmed up
        start = time.perf_counter()
        for _ in range(max(1, FLAGS.images // FLAGS.batch_size)):
            inception.features(network, batch)
        seconds = (time.perf_counter() - start) / (max(1, FLAGS.images // FLAGS.batch_size) * FLAGS.batch_size)
        print(f"--dims={dims}: {seconds * 1000:.0f} s per 1,000 images")


if __name__ == "__main__":
    app.run(main)
