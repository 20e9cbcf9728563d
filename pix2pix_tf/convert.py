"""Convert a released pix2pix checkpoint (PyTorch, junyanz/pytorch-CycleGAN-and-pix2pix) to this package.

    python -m pix2pix_tf.convert --checkpoint=latest_net_G.pth [--discriminator=latest_net_D.pth] --output=DIR

The released models (facades_label2photo, sat2map, map2sat, edges2shoes, edges2handbags, day2night)
are `unet_256` generators with batch norm; any U-Net depth, width, channel count and norm is read from
the tensors' shapes. PyTorch is not needed: the .pth is read by `common.pth`, which refuses a file that
asks to run code. DIR receives
  saved_model/          what `python -m pix2pix_tf.translate --model=DIR/saved_model` runs;
  pix2pix.weights.h5    both networks, for fine-tuning: `--init_weights=` of pix2pix_tf.train, or
                        `Pix2Pix(**config).load_weights(...)` in Python;
  config.json           that config (the Pix2Pix arguments).
`--inference=paper` exports the paper's test mode instead of eval mode (pix2pix_tf/inference.py).
Without --discriminator the discriminator keeps a random initialisation (fine-tuning then starts its
adversarial part from scratch). A checkpoint that does not fit is named with the keys that do not.

Exit codes: 0 written; 1 a checkpoint that cannot be read or does not fit; 2 bad arguments.
"""

import os

from absl import flags

from common import cli, export_flag
from pix2pix_tf import inference, official

flags.DEFINE_string("checkpoint", None, "The generator's .pth (latest_net_G.pth).")
flags.DEFINE_string("discriminator", None, "The discriminator's .pth (latest_net_D.pth), optional.")
flags.DEFINE_string("key", None, "Entry of the .pth that holds the state dict, if it is wrapped.")
flags.DEFINE_string("output", None, "Folder for saved_model/, pix2pix.weights.h5 and config.json.")
flags.DEFINE_boolean("dropout", True, "The generator has dropout (the official default; weights do "
                     "not show it). It only matters for fine-tuning and --inference=paper.")
flags.DEFINE_enum("inference", "eval", inference.INFERENCE_MODES, "What the SavedModel runs: eval, or "
                  "paper: the test image's own batch-norm statistics and dropout on, as the official "
                  "results of the released models were made (see pix2pix_tf/inference.py).")
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "checkpoint", "output")
    export_flag.chosen()  # an unknown format or a missing extra stops it before converting
    model = cli.converted(official.convert, FLAGS.checkpoint, FLAGS.discriminator, key=FLAGS.key,
                          dropout=FLAGS.dropout)
    official.write(model, FLAGS.output, FLAGS.inference)
    print(f"converted {FLAGS.checkpoint} ({model.options['generator']}, ngf {model.options['ngf']}, "
          f"{model.options['norm']} norm) into {FLAGS.output}")

    for path in export_flag.write_others(os.path.join(FLAGS.output, "saved_model")):
        print(f"wrote {path}")

if __name__ == "__main__":
    cli.run(main)
