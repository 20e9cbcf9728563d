"""Translate images with an exported pix2pix model.

    python -m pix2pix_tf.translate --model=runs/pix2pix_demo/saved_model --input=photos/ --output=out/

Any size works: an eval-mode export pads to its U-Net multiple and crops back; a paper-mode export
(a converted official model, by default) runs each image at its training size and resizes the result
back, with fresh dropout masks every run unless --seed is given. Grayscale and RGBA files are
converted to RGB; unreadable files are named and skipped, and the exit code is then 1.
"""

import numpy as np
from absl import flags

from common import cli, tool

flags.DEFINE_integer("seed", None, "For a paper-mode export: draw its dropout masks from this seed, so "
                     "that every run gives the same images (default: fresh masks every run).")
FLAGS = flags.FLAGS


def serving(served):
    if FLAGS.seed is None:
        return served.serving()
    if "serving_seeded" not in served.signatures:
        raise ValueError(f"--seed: {FLAGS.model} runs in eval mode, where nothing is drawn at random")
    return served.serving("serving_seeded", seed=np.int64(FLAGS.seed))


if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(tool.main_for("Pix2Pix", serving))
