"""Translate images with an exported pix2pix model.

    python -m pix2pix_tf.translate --model=runs/pix2pix_demo/saved_model --input=photos/ --output=out/

Any size works: an eval-mode export pads to its U-Net multiple and crops back, running large photos in
exact tiles (1024 px by default, --tile to change: memory grows with the tile, time with the margins'
share; pix2pix_tf/serving.py); a paper-mode export (a converted official model, by default) runs each
image at its training size and resizes the result back, with fresh dropout masks every run unless
--seed is given. Grayscale and RGBA files are converted to RGB; unreadable files are named and skipped,
and the exit code is then 1.
"""

import os

import numpy as np
from absl import flags

# TensorFlow's oneDNN build pools large allocations (a BFC allocator) and keeps what one tile freed:
# an 8000x6000 photo then peaked at 3.62 GiB instead of 2.71 (BUILD_NOTES.md). Set before TensorFlow
# loads; a value the user set wins.
os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "true")

from common import cli, tool  # noqa: E402

flags.DEFINE_integer("seed", None, "For a paper-mode export: draw its dropout masks from this seed, so "
                     "that every run gives the same images (default: fresh masks every run).")
flags.DEFINE_integer("tile", None, "For an eval-mode SavedModel: the core size of its tiles, a multiple "
                     "of its U-Net's 2**num_downs (default: the export's, 1024). The result is the "
                     "same; a smaller tile takes less memory and more time.")
FLAGS = flags.FLAGS


def _check_tile(served):
    """A ValueError unless --tile can be given to `served`: an eval-mode SavedModel (its LiteRT and
    ONNX files run images whole), a multiple of its grid."""
    if served.format != "saved_model" or "serving_tiled" not in served.signatures:
        how = "at its training size" if served.metadata.get("inference") == "paper" else "whole"
        raise ValueError(f"--tile: {FLAGS.model} runs each image {how}, not in tiles")
    multiple = served.metadata["multiple"]
    if FLAGS.tile < multiple or FLAGS.tile % multiple:
        raise ValueError(f"--tile={FLAGS.tile}: give a positive multiple of {multiple}, the grid of "
                         f"{FLAGS.model}'s U-Net")


def serving(served):
    if FLAGS.seed is not None and "serving_seeded" not in served.signatures:
        raise ValueError(f"--seed: {FLAGS.model} runs in eval mode, where nothing is drawn at random")
    if FLAGS.tile is not None:
        _check_tile(served)
        return served.serving("serving_tiled", tile=np.int32(FLAGS.tile))
    if FLAGS.seed is not None:
        return served.serving("serving_seeded", seed=np.int64(FLAGS.seed))
    return served.serving()


if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(tool.main_for("Pix2Pix", serving))
