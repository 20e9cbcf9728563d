"""Training and inference speed of the models, printed as a table (a benchmark, not a test).

    python tools/benchmark.py --model=pix2pix --image_size=256 --batch_size=1

    python tools/benchmark.py --model=dcgan --image_size=64 --batch_size=128 --serve_batch=64
    python tools/benchmark.py --model=dpe --mode=supervised --image_size=512 --batch_size=3 \
        --serve_size=3000,4000
    python tools/benchmark.py --model=pienet --mode=enhance --image_size=256 --batch_size=8
    python tools/benchmark.py --model=gpen --mode=restore --image_size=512 --batch_size=1

For every precision and XLA setting asked for it prints training steps and images per second and the
milliseconds of one inference call on --serve_batch inputs (pix2pix: uint8 images; DCGAN: latents to
uint8 samples), each the median over --steps calls after --warmup untimed ones.
"""

import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from common import data, export  # noqa: E402

flags.DEFINE_enum("model", "pix2pix", ["pix2pix", "dcgan", "dpe", "pienet", "gpen"], "Which model.")
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


def pix2pix_case():
    """The paper's pix2pix (unet_256 when --image_size is 256) on random pairs; serving uint8 images."""
    from pix2pix_tf import Pix2Pix
    generator = f"unet_{FLAGS.image_size}"
    model = Pix2Pix(generator=generator)
    rng = np.random.default_rng(0)
    shape = (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3)
    a, b = (rng.uniform(-1, 1, shape).astype("float32") for _ in range(2))

    def serve(images):
        return export.translate_uint8(model.generator, images, value_range=(-1, 1),
                                      multiple=model.multiple)

    served = np.zeros((FLAGS.serve_batch,) + shape[1:], np.uint8)
    return model, (a, b), serve, served


def dcgan_case():
    """The paper's DCGAN at --image_size on random images; serving = sampling latents."""
    from dcgan_tf import DCGAN
    from dcgan_tf.model import VALUE_RANGE, latents
    model = DCGAN(image_size=FLAGS.image_size)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3))

    def serve(z):
        return data.from_range(model.generator(z, training=False), VALUE_RANGE)

    return model, (x.astype("float32"),), serve, latents(FLAGS.serve_batch)


def dpe_case():
    """DPE in --mode at --image_size on random pairs; serving = enhancing --serve_size photos."""
    from dpe_tf import serving
    from dpe_tf.model import DPE
    model = DPE(mode=FLAGS.mode or "2way", image_size=FLAGS.image_size)
    rng = np.random.default_rng(0)
    shape = (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3)
    x, y = (rng.uniform(0, 1, shape).astype("float32") for _ in range(2))
    h, w = (int(v) for v in FLAGS.serve_size or (FLAGS.image_size,) * 2)

    def serve(images):
        return serving.enhance_uint8(model.generator, images, image_size=FLAGS.image_size)

    return model, (x, y), serve, np.zeros((FLAGS.serve_batch, h, w, 3), np.uint8)


def pienet_case():
    """PieNet's --mode stage at --image_size on random pairs of 5 users; serving = enhancing
    --serve_size photos with one preference vector."""
    from pienet_tf import serving
    from pienet_tf.model import PieNet
    model = PieNet(users=[f"user{i}" for i in range(5)], stage=FLAGS.mode or "enhance",
                   image_size=FLAGS.image_size)
    rng = np.random.default_rng(0)
    shape = (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3)
    x, y = (rng.uniform(0, 1, shape).astype("float32") for _ in range(2))
    users = (np.arange(FLAGS.batch_size) % 5).astype("int32")
    preference = model.style_vectors()[1][:1]
    h, w = (int(v) for v in FLAGS.serve_size or (FLAGS.image_size,) * 2)

    def serve(images):
        return serving.enhance_uint8(model.enhancer, images, preference)

    return model, ((x, users), y), serve, np.zeros((FLAGS.serve_batch, h, w, 3), np.uint8)


def gpen_case():
    """GPEN's --mode stage on random faces: BFR-256 at --image_size 256, else BFR-512's widths;
    serving = restoring --serve_size faces (resized to the model's size and back)."""
    from gpen_tf import serving
    from gpen_tf.model import GPEN
    widths = dict(channel_multiplier=1, narrow=0.5) if FLAGS.image_size == 256 else {}
    model = GPEN(size=FLAGS.image_size, stage=FLAGS.mode or "restore", **widths)
    rng = np.random.default_rng(0)
    shape = (FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, 3)
    degraded, clean = (rng.uniform(-1, 1, shape).astype("float32") for _ in range(2))
    h, w = (int(v) for v in FLAGS.serve_size or (FLAGS.image_size,) * 2)

    def serve(images):
        return serving.restore_uint8(model.generator, images, FLAGS.image_size)

    return model, (degraded, clean), serve, np.zeros((FLAGS.serve_batch, h, w, 3), np.uint8)


CASES = {"pix2pix": pix2pix_case, "dcgan": dcgan_case, "dpe": dpe_case, "pienet": pienet_case,
         "gpen": gpen_case}


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
    print(f"{'precision':<16}{'xla':<6}{'train steps/s':>14}{'s/step':>10}{'images/s':>10}"
          f"{'infer ms/call':>15}")
    for policy, xla in itertools.product(FLAGS.precisions, FLAGS.xla):
        keras.mixed_precision.set_global_policy(policy)
        model, batch, serve, served = CASES[FLAGS.model]()
        model.compile(jit_compile=xla == "on")
        step = train_seconds(model, batch)
        infer = tf.function(serve, jit_compile=xla == "on")
        ms = call_seconds(lambda: infer(tf.constant(served)).numpy()) * 1000
        print(f"{policy:<16}{xla:<6}{1 / step:>14.2f}{step:>10.3f}{FLAGS.batch_size / step:>10.1f}"
              f"{ms:>15.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
