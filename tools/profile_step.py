"""Where a training step's time goes: TensorFlow's profiler over a few steps, summed by op type.

    python tools/profile_step.py --model=dcgan --image_size=64 --batch_size=64 --precision=off
    python tools/profile_step.py --model=pix2pix --image_size=256 --batch_size=1

Prints the wall time per step and, per op type, the milliseconds its kernels ran per step (summed over
TensorFlow's threads, so the total can exceed the wall time when ops run side by side) and their
share. The trace stays in --logdir for TensorBoard's profile plugin.
"""

import collections
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
import speed_cases  # noqa: E402
from common import runtime  # noqa: E402

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

flags.DEFINE_enum("model", "dcgan", list(speed_cases.CASES), "Which model.")
flags.DEFINE_string("mode", None, "The training mode or stage (as tools/benchmark.py).")
flags.DEFINE_integer("image_size", 64, "Square image size.")
flags.DEFINE_integer("batch_size", 64, "Training batch size.")
flags.DEFINE_string("precision", "auto", "--mixed_precision as in training: auto, off, bfloat16, ...")
flags.DEFINE_integer("steps", 5, "Profiled steps.")
flags.DEFINE_integer("top", 20, "Op types listed.")
flags.DEFINE_string("logdir", None, "Where the trace goes (default: a new temporary folder).")
FLAGS = flags.FLAGS


def op_milliseconds(logdir):
    """Milliseconds per op type, summed over the kernels TensorFlow's executor threads ran."""
    totals = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if ":" in name and "::" not in name:  # "scope/op:OpType"; others wrap them
                        totals[name.rpartition(":")[2]] += event.duration_ps / 1e9
    return totals


def main(argv):
    del argv
    rt = runtime.configure(mixed_precision=FLAGS.precision)
    model, batch, _, _ = speed_cases.build(FLAGS.model, mode=FLAGS.mode, image_size=FLAGS.image_size,
                                           batch_size=FLAGS.batch_size)
    model.compile(jit_compile=rt.jit_compile)
    batches = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(batches, steps_per_epoch=3, epochs=1, verbose=0)  # tracing and warm-up, not profiled
    logdir = FLAGS.logdir or tempfile.mkdtemp(prefix="profile_")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
    wall = (time.perf_counter() - start) / FLAGS.steps
    tf.profiler.experimental.stop()
    totals = op_milliseconds(logdir)
    total = sum(totals.values())
    print(f"{FLAGS.model} {FLAGS.image_size} px, batch {FLAGS.batch_size}, {rt.policy}: "
          f"{1000 * wall:.0f} ms per step (profiled), kernels {total / FLAGS.steps:.0f} ms per step")
    for op, ms in totals.most_common(FLAGS.top):
        print(f"  {op:<40}{ms / FLAGS.steps:9.1f} ms {100 * ms / total:6.1f}%")
    print(f"trace: {logdir}")


if __name__ == "__main__":
    app.run(main)
