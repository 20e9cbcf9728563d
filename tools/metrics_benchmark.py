"""Seconds per 1,000 images of the learned metrics on this machine (a benchmark, not a test; random
weights: the cost does not depend on them): the FID Inception's features at each of pytorch-fid's four
feature sizes, and LPIPS per 1,000 pairs with each backbone.

    python tools/metrics_benchmark.py [--images=100] [--batch_size=50] [--size=256]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import inception, lpips  # noqa: E402  (sets TensorFlow's CPU options first)

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("images", 100, "Images timed per feature size (after one untimed batch).")
flags.DEFINE_integer("batch_size", 50, "Images per forward pass (common.fid's default).")
flags.DEFINE_integer("size", 256, "Side of the images.")
flags.DEFINE_integer("lpips_batch", 10, "Pairs per LPIPS call (VGG-16's activations of 50 pairs at "
                     "256 px take several GB).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    flags_line = " ".join(f for f in ("avx512_bf16", "avx512f", "avx2") if f in open("/proc/cpuinfo").read().split())
    print(f"{os.cpu_count()} cores ({flags_line}); {FLAGS.size} x {FLAGS.size} images, batches of "
          f"{FLAGS.batch_size}")
    batch = np.random.default_rng(0).random((FLAGS.batch_size, FLAGS.size, FLAGS.size, 3)).astype(np.float32)
    model = inception.build()
    for dims in inception.DIMS:
        network = inception.feature_network(model, dims)
        print(f"FID features, --dims={dims}: {per_thousand(lambda: inception.features(network, batch)):.0f} s "
              "per 1,000 images")
    pairs = batch[:FLAGS.lpips_batch]
    for net in lpips.NETWORKS:
        metric = lpips.LPIPS(net)
        seconds = per_thousand(lambda: metric(pairs, pairs[::-1]), len(pairs))
        print(f"LPIPS {net}: {seconds:.0f} s per 1,000 pairs")


def per_thousand(run_batch, size=None):
    """Seconds per 1,000 images of `run_batch` (`size` images per call), after an untimed call."""
    size = size or FLAGS.batch_size
    run_batch()
    repeats = max(1, FLAGS.images // size)
    start = time.perf_counter()
    for _ in range(repeats):
        run_batch()
    return (time.perf_counter() - start) / (repeats * size) * 1000


if __name__ == "__main__":
    app.run(main)
