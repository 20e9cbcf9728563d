"""Convert a released GPEN checkpoint (PyTorch, yangxy/GPEN) to this package.

    python -m gpen_tf.convert --checkpoint=GPEN-BFR-512.pth [--discriminator=GPEN-BFR-512-D.pth] --output=DIR

The network is told from the file's keys. Every released FullGenerator converts: GPEN-BFR-256, -512, -1024 and -2048, GPEN-Colorization-1024,
GPEN-Inpainting-1024 and GPEN-Seg2face-512 (give that one --value_range=0,1: it was trained without
normalisation). Size, channel multiplier, narrow, style width and mapping depth are read from the
tensors' shapes. A training checkpoint ({"g", "d", "g_ema", "g_optim", "d_optim"}) gives its EMA
generator by default (or --key=g), and its discriminator when it is also the --discriminator
(under --discriminator_key, default d). PyTorch is not needed: the .pth is read by `common.pth`, which
refuses a file that asks to run code, and a file that cannot be read or is no GPEN network is named
before TensorFlow loads. DIR receives
  saved_model/       what `python -m gpen_tf.restore --model=DIR/saved_model` runs;
  gpen.weights.h5    the networks, for fine-tuning in Python: `GPEN(**config).load_weights(...)`;
  config.json        that config (the GPEN arguments).
Without --discriminator the discriminator keeps a random initialisation. A checkpoint that does not
fit is named with the keys that do not.

The other networks of GPEN's whole-photo pipeline convert too, into DIR/saved_model alone, with a `raw`
signature: RealESRNet's realesrnet_x1/x2/x4.pth (background super-resolution, gpen_tf/background.py)
RetinaFace-R50.pth (face detection, gpen_tf/retinaface.py) and ParseNet-latest.pth (the paste mask,
gpen_tf/parsenet.py); `python -m gpen_tf.restore` takes those folders as --background, --detector
and --mask, the official whole-photo pipeline.

Exit codes: 0 written; 1 a checkpoint that cannot be read or does not fit; 2 bad arguments.
"""

from absl import app, flags

from common import cli, export_flag
from gpen_tf import checkpoints

flags.DEFINE_string("checkpoint", None, "The generator's .pth (e.g. GPEN-BFR-512.pth).")
flags.DEFINE_string("discriminator", None, "The discriminator's .pth (GPEN-BFR-512-D.pth, or a training "
                    "checkpoint), optional.")
flags.DEFINE_string("key", None, "Entry of the generator's .pth that holds its state dict, if it is "
                    "wrapped (default: the first of state_dict, g_ema, ... that it has).")
flags.DEFINE_string("discriminator_key", checkpoints.DISCRIMINATOR_KEY, "Entry of the discriminator's "
                    ".pth that holds its state dict, if it is wrapped (a training checkpoint's d).")
flags.DEFINE_string("output", None, "Folder for saved_model/, gpen.weights.h5 and config.json.")
flags.DEFINE_enum("value_range", "-1,1", ["-1,1", "0,1"], "The values the network was trained on: "
                  "the official -1,1, or 0,1 for GPEN-Seg2face (the official is_norm=False).")
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "checkpoint", "output")
    cli.output_folder(FLAGS, "output")
    network, config, state, d_state = cli.converted(
        checkpoints.read_any, FLAGS.checkpoint, FLAGS.discriminator, key=FLAGS.key,
        discriminator_key=FLAGS.discriminator_key)
    if network != "GPEN":
        if export_flag.chosen() != ("saved_model",):  # TensorFlow, once the file is known to be good
            raise app.UsageError(f"--export_formats={FLAGS.export_formats}: a {network} export is a "
                                 "SavedModel only")
        from gpen_tf import background, parsenet, retinaface
        module = {"RealESRNet": background, "RetinaFace": retinaface, "ParseNet": parsenet}[network]
        model = cli.converted(module.convert, config, state, FLAGS.checkpoint)
        module.write(model, config, FLAGS.output)
        print(f"converted {FLAGS.checkpoint} ({network}, {', '.join(f'{k} {v}' for k, v in config.items())}) "
              f"into {FLAGS.output}")
        return
    from gpen_tf import official  # TensorFlow, once the files are known to be good

    export_flag.chosen()  # an unknown format or a missing extra stops it before converting
    model = cli.converted(official.build, config, state, d_state,
                          sources=(FLAGS.checkpoint, FLAGS.discriminator))
    official.write(model, FLAGS.output, tuple(float(v) for v in FLAGS.value_range.split(",")))
    print(f"converted {FLAGS.checkpoint} ({config['size']} px, channel multiplier "
          f"{config['channel_multiplier']}, narrow {config['narrow']}) into {FLAGS.output}")
    export_flag.print_others(FLAGS.output)


if __name__ == "__main__":
    cli.run(main)
