"""Translate images with an exported pix2pix model.

    python -m pix2pix_tf.translate --model=runs/demo/saved_model --input=photos/ --output=out/

Any size works: the model pads to its U-Net multiple and crops back. Grayscale and RGBA files are
converted to RGB; unreadable files are named and skipped, and the exit code is then 1.
"""

from absl import flags

from common import cli, tool

if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(tool.main_for("Pix2Pix"))
