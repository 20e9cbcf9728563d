"""Images per second of the training input pipeline alone (a benchmark, not a test).

    python tools/pipeline_benchmark.py                  # 50 synthetic 1024x768 JPEG photos
    python tools/pipeline_benchmark.py --data=photos --cores=1,2,4 --decoders=native

It times `common.data.pipeline(..., image_size=256, load_size=286, training=True, repeat=True,
cache=False)`: decode, resize, random crop and flip, batch. Every (decoder, cores) setting is measured
--repeats times, each in a fresh process pinned to the first N cores (taskset) with tf.data's private
thread pool and TF's op thread pools of N threads. A figure is --batches batches of --batch_size after
--warmup untimed ones; beside it, the cores that other processes kept busy meanwhile (from
/proc/stat): any contention spoils the figure.

Decoders: "native" is common/data.py as it is (TF ops for the files TF decodes to Pillow's pixels,
Pillow for the rest); "py_function" sends every file through Pillow (data.NATIVE emptied), as the
pipeline did before.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
from common import data, images  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from PIL import Image  # noqa: E402

flags.DEFINE_string("data", None, "A folder of images; default: --photos synthetic JPEG photos.")
flags.DEFINE_integer("photos", 50, "How many synthetic photos to make.")
flags.DEFINE_list("photo_size", ["1024", "768"], "Width,height of the synthetic photos.")
flags.DEFINE_integer("batch_size", 16, "Images per batch.")
flags.DEFINE_integer("warmup", 5, "Untimed batches first.")
flags.DEFINE_integer("batches", 20, "Timed batches per figure.")
flags.DEFINE_list("decoders", ["py_function", "native"], "Decoders to measure.")
flags.DEFINE_list("cores", ["1", "2"], "Core counts to measure.")
flags.DEFINE_integer("repeats", 3, "Figures per setting, each from a fresh process.")
flags.DEFINE_string("measure", None, "DECODER:CORES: print the figure of one setting, in this "
                    "process (what each table process runs).")
FLAGS = flags.FLAGS


def synthetic_photos(folder, count, width, height):
    """JPEGs with a photo's make-up: smooth colour regions, a lighting gradient and sensor grain."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    for i in range(count):
        regions = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        light = rng.uniform(-80, 80) * x + rng.uniform(-80, 80) * y
        photo = (np.asarray(regions.resize((width, height), Image.BICUBIC), np.float32)
                 + light[..., None] + rng.normal(0, 6, (height, width, 3)))
        images.write_image(os.path.join(folder, f"photo_{i:03d}.jpg"),
                           np.clip(photo, 0, 255).astype(np.uint8))


def cpu_seconds():
    """CPU seconds used so far by this process and by the whole machine (all but idle and iowait)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    own = os.times()
    return own.user + own.system, (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def measure(decoder, cores):
    """Images per second of the training pipeline over FLAGS.data with `cores` threads, and the
    cores that other processes kept busy meanwhile (their contention spoils the figure)."""
    tf.config.threading.set_inter_op_parallelism_threads(cores)
    tf.config.threading.set_intra_op_parallelism_threads(cores)
    if decoder == "py_function":
        data.NATIVE = {}
    ds = data.pipeline(FLAGS.data, batch_size=FLAGS.batch_size, image_size=256, load_size=286,
                       training=True, repeat=True, cache=False, seed=0)
    options = tf.data.Options()
    options.threading.private_threadpool_size = cores
    batches = iter(ds.with_options(options))
    for _ in range(FLAGS.warmup):
        next(batches)
    start, (own, machine) = time.perf_counter(), cpu_seconds()
    for _ in range(FLAGS.batches):
        next(batches)
    seconds, (own_end, machine_end) = time.perf_counter() - start, cpu_seconds()
    others = (machine_end - machine - (own_end - own)) / seconds
    return FLAGS.batches * FLAGS.batch_size / seconds, max(others, 0.0)


def figure_in_new_process(decoder, cores):
    """One `measure` in a fresh Python pinned to cores 0..cores-1, so TF sizes its pools for them."""
    command = ["taskset", "-c", f"0-{cores - 1}", sys.executable, os.path.abspath(__file__),
               f"--data={FLAGS.data}", f"--batch_size={FLAGS.batch_size}", f"--warmup={FLAGS.warmup}",
               f"--batches={FLAGS.batches}", f"--measure={decoder}:{cores}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return tuple(map(float, done.stdout.split()[-2:]))


def cpu_flags():
    """The vector extensions that matter for TF's kernels, as /proc/cpuinfo lists them."""
    with open("/proc/cpuinfo") as f:
        found = set(f.read().split())
    return " ".join(sorted(found & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})) or "none listed"


def table():
    print(f"{'decoder':12s} {'cores':>5s} {'images/s (median)':>18s} {'spread':>14s}  "
          "each run (cores busy elsewhere)")
    for decoder in FLAGS.decoders:
        for cores in map(int, FLAGS.cores):
            runs = [figure_in_new_process(decoder, cores) for _ in range(FLAGS.repeats)]
            speeds = [speed for speed, _ in runs]
            spread = f"{min(speeds):.1f}-{max(speeds):.1f}"
            print(f"{decoder:12s} {cores:5d} {np.median(speeds):18.1f} {spread:>14s}  "
                  + " ".join(f"{speed:.1f} ({others:.1f})" for speed, others in runs), flush=True)


def main(_):
    if FLAGS.measure:
        decoder, cores = FLAGS.measure.split(":")
        print("%.2f %.2f" % measure(decoder, int(cores)))
        return
    with tempfile.TemporaryDirectory() as folder:
        if not FLAGS.data:
            width, height = map(int, FLAGS.photo_size)
            synthetic_photos(folder, FLAGS.photos, width, height)
            FLAGS.data = folder
        print(f"{FLAGS.data}: {len(images.list_images(FLAGS.data))} images; batches of "
              f"{FLAGS.batch_size}; {os.cpu_count()} cores with {cpu_flags()}")
        table()


if __name__ == "__main__":
    app.run(main)
