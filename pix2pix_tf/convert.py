"""Convert a released pix2pix checkpoint (PyTorch, junyanz/pytorch-CycleGAN-and-pix2pix) to this package.

    python -m pix2pix_tf.convert --checkpoint=latest_net_G.pth [--discriminator=latest_net_D.pth] --output=DIR

The released models (facades_label2photo, sat2map, map2sat, edges2shoes, edges2handbags, day2night)
are `unet_256` generators with batch norm, saved in PyTorch 0.4's legacy format; any U-Net depth,
width, channel count and norm is read from the tensors' shapes, and both formats of torch.save are
read. PyTorch is not needed: the .pth is read by `common.pth`, which refuses a file that asks to run
code, and a file that cannot be read or is no pix2pix network is named before TensorFlow loads.
DIR receives
  saved_model/          what `python -m pix2pix_tf.translate --model=DIR/saved_model` runs;
  pix2pix.weights.h5    both networks, for fine-tuning: `--init_weights=` of pix2pix_tf.train, or
                        `Pix2Pix(**config).load_weights(...)` in Python;
  config.json           that config (the Pix2Pix arguments).
The SavedModel runs the paper's test mode by default, as the official test.py serves the released
models: each image at 256 x 256, normalised by its own statistics, dropout on (pix2pix_tf/inference.py);
`--inference=eval` exports eval mode (stored statistics, no dropout, the image's own size) instead.
Without --discriminator the discriminator keeps a random initialisation (fine-tuning then starts its
adversarial part from scratch). A checkpoint that does not fit is named with the keys that do not.

Exit codes: 0 written; 1 a checkpoint that cannot be read or does not fit; 2 bad arguments.
"""

from absl import flags

from common import cli, export_flag
from pix2pix_tf import checkpoints

flags.DEFINE_string("checkpoint", None, "The generator's .pth (latest_net_G.pth).")
flags.DEFINE_string("discriminator", None, "The discriminator's .pth (latest_net_D.pth), optional.")
flags.DEFINE_string("key", None, "Entry of the .pth that holds the state dict, if it is wrapped.")
flags.DEFINE_string("output", None, "Folder for saved_model/, pix2pix.weights.h5 and config.json.")
flags.DEFINE_boolean("dropout", True, "The generator has dropout (the official default; weights do "
                     "not show it). It only matters for fine-tuning and paper mode.")
# pix2pix_tf/inference.py's modes (that module loads TensorFlow, which waits for the files to be read).
flags.DEFINE_enum("inference", "paper", ["paper", "eval"], "What the SavedModel runs: paper, as the "
                  "official test.py serves the released models (each image resized to the U-Net's "
                  "size, its own batch-norm statistics, dropout on), or eval (stored statistics, no "
                  "dropout, the image's own size; the official test.py --eval).")
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "checkpoint", "output")
    cli.output_folder(FLAGS, "output")
    config, state, d_state = cli.converted(checkpoints.read, FLAGS.checkpoint, FLAGS.discriminator,
                                           key=FLAGS.key, dropout=FLAGS.dropout)
    from pix2pix_tf import inference, official  # TensorFlow, once the files are known to be good

    inference.check_formats(FLAGS.inference, export_flag.chosen())
    model = cli.converted(official.build, config, state, d_state,
                          sources=(FLAGS.checkpoint, FLAGS.discriminator))
    official.write(model, FLAGS.output, FLAGS.inference)
    print(f"converted {FLAGS.checkpoint} ({config['generator']}, ngf {config['ngf']}, "
          f"{config['norm']} norm) into {FLAGS.output}, serving {FLAGS.inference} mode")
    export_flag.print_others(FLAGS.output)


if __name__ == "__main__":
    cli.run(main)
