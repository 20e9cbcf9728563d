"""Generate images with an exported DCGAN.

    python -m dcgan_tf.sample --model=runs/dcgan_demo/saved_model --num=64 --seed=0 --output=grid.png
    python -m dcgan_tf.sample --model=... --interpolate --seed=0 --end_seed=1 --num=10 --output=walk.png
    python -m dcgan_tf.sample --model=... --num=16 --output_dir=samples/

Latent vectors come from --seed alone (dcgan_tf.model.latents), so the same seed gives the same
images, and `--seed=S --num=K` shows the training sample grid of a run made with `--seed=S
--num_samples=K`. --interpolate walks in a straight line (the paper's latent walk; --slerp walks on the
sphere instead) from the vector of --seed to that of --end_seed.
"""

import math
import os

import numpy as np
from absl import app, flags

from common import cli
from common.options import IMAGE_EXTENSIONS

flags.DEFINE_string("model", None, "An export: a SavedModel folder (<model_dir>/saved_model), "
                    "model.tflite or model.onnx.")
flags.DEFINE_integer("num", 64, "Images to generate (with --interpolate: steps of the walk).",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")
flags.DEFINE_boolean("interpolate", False, "Walk from the latent of --seed to that of --end_seed.")
flags.DEFINE_integer("end_seed", None, "End of the walk; default --seed + 1.")
flags.DEFINE_boolean("slerp", False, "Interpolate along the great circle instead of a line.")
flags.DEFINE_boolean("overwrite", False, "Replace --output if it exists (without this it is refused).")
flags.DEFINE_string("output", None, "Write one grid image here (PNG unless the extension says).")
flags.DEFINE_string("output_dir", None, "Write each image as <output_dir>/<index>.png.")
FLAGS = flags.FLAGS


def walk(start, end, steps, slerp=False):
    """`steps` vectors from start to end (both included), linearly or along the great circle."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    if not slerp:
        return (1 - t) * start + t * end
    cos = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # parallel vectors: the line is the arc
        return (1 - t) * start + t * end
    return (np.sin((1 - t) * omega) * start + np.sin(t * omega) * end) / np.sin(omega)


def main(argv):
    cli.check_arguments(argv, FLAGS, "model")
    if not (FLAGS.output or FLAGS.output_dir):
        raise app.UsageError("give --output (one grid) or --output_dir (single images), or both")
    cli.output_file(FLAGS, "output", IMAGE_EXTENSIONS, FLAGS.overwrite)
    cli.output_folder(FLAGS, "output_dir")
    from common import images  # TensorFlow, once the flags are known to be good
    from dcgan_tf.model import latents, load_generator
    with cli.bad_arguments_exit_2():
        generate, latent_dim = load_generator(FLAGS.model)
    if FLAGS.interpolate:
        end_seed = FLAGS.seed + 1 if FLAGS.end_seed is None else FLAGS.end_seed
        z = walk(latents(1, latent_dim, FLAGS.seed)[0], latents(1, latent_dim, end_seed)[0],
                 FLAGS.num, FLAGS.slerp)
    else:
        z = latents(FLAGS.num, latent_dim, FLAGS.seed)
    batch = np.concatenate([generate(z[i:i + 256]) for i in range(0, len(z), 256)])
    if FLAGS.output:
        columns = FLAGS.num if FLAGS.interpolate else math.ceil(math.sqrt(FLAGS.num))
        images.write_image(FLAGS.output, images.tile_grid(images.rows_of(batch, columns)))
    if FLAGS.output_dir:
        for i, image in enumerate(batch):
            images.write_image(os.path.join(FLAGS.output_dir, f"{i:04d}.png"), image)
    print(f"wrote {len(batch)} images to {FLAGS.output or FLAGS.output_dir}"
          + (f" and {FLAGS.output_dir}" if FLAGS.output and FLAGS.output_dir else ""))


if __name__ == "__main__":
    cli.run(main)
