"""Training and inference speed of the models, printed as a table (a benchmark, not a test).

    python tools/benchmark.py --model=pix2pix --image_size=256 --batch_size=1

    python tools/benchmark.py --model=dcgan --image_size=64 --batch_size=128 --serve_batch=64
    python tools/benchmark.py --model=dpe --mode=supervised --image_size=512 --batch_size=3 \
        --serve_size=3000,4000
    python tools/benchmark.py --model=pienet --mode=enhance --image_size=256 --batch_size=8
    python tools/benchmark.py --model=gpen --mode=restore --image_size=512 --batch_size=1

For every precision and XLA setting asked for it prints training steps and images per second and the
milliseconds of one inference call on --serve_batch inputs (pix2pix: uint8 images; DCGAN: latents to
uint8 samples), each the median over --steps calls after --warmup untimed ones. Beside each it prints
the GFLOP/s achieved and their percentages of the float32 / bfloat16 peak of a large matmul measured at
the start: the GFLOP of a train step and of an inference call are counted once from the layers' shapes
(tools/flops.py, tools/speed_cases.py say what is counted and what is left out).
"""

import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
import flops  # noqa: E402
import speed_cases  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_enum("model", "pix2pix", list(speed_cases.CASES), "Which model.")
flags.DEFINE_string("mode", None, "The training mode or stage: DPE supervised, 1way or 2way (default); "
                    "PieNet embed or enhance (default); GPEN prior or restore (default).")
flags.DEFINE_integer("image_size", 256, "Square image size.")
flags.DEFINE_integer("batch_size", 1, "Training batch size.")
flags.DEFINE_integer("serve_batch", 1, "Images per inference call (DCGAN: latents sampled at once).")
flags.DEFINE_list("serve_size", None, "H,W of the served images (DPE: e.g. 3000,4000 for 12 MP); "
                  "default --image_size.")
flags.DEFINE_integer("steps", 10, "Timed calls per figure.")
flags.DEFINE_integer("warmup", 3, "Untimed calls first (tracing, XLA compilation).")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies to measure.")
flags.DEFINE_list("xla", ["off", "on"], "XLA settings to measure.")
FLAGS = flags.FLAGS


class StepTimes(keras.callbacks.Callback):
    """Wall time of each training step inside one fit() call."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def train_seconds(model, batch):
    """Median seconds per training step after --warmup steps (tracing, XLA compilation)."""
    timer = StepTimes()
    batches = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(batches, steps_per_epoch=FLAGS.warmup + FLAGS.steps, epochs=1, verbose=0,
              callbacks=[timer])
    return float(np.median(timer.times[FLAGS.warmup:]))


def call_seconds(fn):
    """Median seconds per call of fn after --warmup calls."""
    times = []
    for _ in range(FLAGS.warmup + FLAGS.steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times[FLAGS.warmup:]))


def main(argv):
    del argv
    print(f"model={FLAGS.model} image_size={FLAGS.image_size} batch_size={FLAGS.batch_size} "
          f"tf={tf.__version__} keras={keras.__version__} threads={os.cpu_count()}")
    peaks = flops.matmul_peak()
    print(flops.describe_machine(peaks))
    counts = None  # the same networks at every setting: counted once
    for policy, xla in itertools.product(FLAGS.precisions, FLAGS.xla):
        keras.mixed_precision.set_global_policy(policy)
        model, batch, serve, served = speed_cases.build(
            FLAGS.model, mode=FLAGS.mode, image_size=FLAGS.image_size, batch_size=FLAGS.batch_size,
            serve_batch=FLAGS.serve_batch, serve_size=FLAGS.serve_size)
        if counts is None:
            train, formula = speed_cases.train_flop(FLAGS.model, model, batch)
            inference = flops.forward(serve, served)
            counts = train.flop, inference.flop
            print(f"train step {flops.gflop(train)} = {formula}; inference call {flops.gflop(inference)}")
            print(f"{'precision':<16}{'xla':<6}{'train steps/s':>14}{'s/step':>10}{'images/s':>10}"
                  f"{'GFLOP/s':>9}{'% peak':>9}{'infer ms/call':>15}{'GFLOP/s':>9}{'% peak':>9}"
                  "   (% of the float32/bfloat16 matmul peak)")
        model.compile(jit_compile=xla == "on")
        step = train_seconds(model, batch)
        infer = tf.function(serve, jit_compile=xla == "on")
        call = call_seconds(lambda: infer(tf.constant(served)).numpy())
        (train_rate, train_peak), (infer_rate, infer_peak) = (
            flops.rate(flop, seconds, peaks) for flop, seconds in zip(counts, (step, call)))
        print(f"{policy:<16}{xla:<6}{1 / step:>14.2f}{step:>10.3f}{FLAGS.batch_size / step:>10.1f}"
              f"{train_rate:>9.1f}{train_peak:>9}{call * 1000:>15.1f}{infer_rate:>9.1f}{infer_peak:>9}",
              flush=True)


if __name__ == "__main__":
    app.run(main)
