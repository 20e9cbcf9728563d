"""Writes a picture of pix2pix's two inference modes on a trained run (the README's).

    python -m pix2pix_tf.train --flagfile=pix2pix_tf/configs/demo.cfg
    python tools/inference_modes.py --model_dir=runs/pix2pix_demo --data=demo:gray2color:test \
        --output=pix2pix_inference_modes.jpg

One row per test pair: input | eval mode | paper mode, two runs | target. Eval mode is what exports run
by default (stored batch-norm statistics, no dropout); paper mode is the official test.py without
--eval (each image's own statistics, dropout on), so its two runs differ (pix2pix_tf/inference.py).
Each image is translated alone, as the official test runs with batch size 1.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
from common import data, images, run_folder  # noqa: E402
from pix2pix_tf import Pix2Pix, inference  # noqa: E402
from pix2pix_tf.model import VALUE_RANGE  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model_dir", None, "A pix2pix training run (its checkpoints/).", required=True)
flags.DEFINE_string("data", None, "Test pairs, as pix2pix_tf.train's --val_data.", required=True)
flags.DEFINE_integer("image_size", 128, "The size the run trained at (the demo's 128).")
flags.DEFINE_integer("num", 3, "Rows (test pairs).")
flags.DEFINE_integer("seed", 0, "Seed of the paper mode's dropout draws.")
flags.DEFINE_string("output", "pix2pix_inference_modes.jpg", "The picture to write.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    checkpoints = os.path.join(FLAGS.model_dir, "checkpoints")
    model = Pix2Pix.from_config(run_folder.read_state(checkpoints)["config"])
    model.load_weights(os.path.join(checkpoints, "latest.weights.h5"))
    eval_mode = inference.generator_for(model.generator, "eval")
    paper_mode = inference.generator_for(model.generator, "paper")
    keras.utils.set_random_seed(FLAGS.seed)
    pairs = data.pipeline(FLAGS.data, batch_size=1, image_size=FLAGS.image_size, training=False)
    rows = []
    for a, b in pairs.take(FLAGS.num):
        shown = [a, eval_mode(a, training=False), paper_mode(a), paper_mode(a), b]
        rows.append([data.from_range(t, VALUE_RANGE).numpy()[0] for t in shown])
    images.write_image(FLAGS.output, images.tile_grid(rows))
    eval_out, paper_1, paper_2 = (np.stack([r[k] for r in rows]).astype(float) for k in (1, 2, 3))
    print(f"wrote {FLAGS.output}: mean |eval - paper| = {np.abs(eval_out - paper_1).mean():.1f} levels, "
          f"between two paper runs {np.abs(paper_1 - paper_2).mean():.1f}")


if __name__ == "__main__":
    app.run(main)
