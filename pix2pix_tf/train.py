"""Train pix2pix: `python -m pix2pix_tf.train --flagfile=pix2pix_tf/configs/demo.cfg`.

The paper's facades run is configs/facades.cfg. Flags given after --flagfile override it.
"""

from absl import app, flags

import common.flags
from common import cli, export_flag
from common.flags import FLAGS, check_run_flags
from common.options import GAN_MODES
from pix2pix_tf import options

flags.DEFINE_enum("generator", "unet_256", options.GENERATORS, "U-Net depth: unet_N for N x N crops.")
flags.DEFINE_integer("n_layers", 3, "PatchGAN depth: 3 gives 70x70 patches.", lower_bound=1)
flags.DEFINE_enum("norm", "batch", ["batch", "instance"], "Normalization in both networks.")
flags.DEFINE_enum("gan_mode", "vanilla", GAN_MODES, "Adversarial loss.")
flags.DEFINE_integer("ngf", 64, "Generator width.", lower_bound=1)
flags.DEFINE_integer("ndf", 64, "Discriminator width.", lower_bound=1)
flags.DEFINE_boolean("dropout", True, "Dropout 0.5 in the generator's middle decoder blocks.")
flags.DEFINE_float("lambda_l1", 100.0, "Weight of the L1 term.", lower_bound=0.0)
flags.DEFINE_enum("direction", "AtoB", ["AtoB", "BtoA"], "Translate A to B or B to A.")
flags.DEFINE_integer("input_channels", 3, "Channels of A (1: grayscale).", lower_bound=1)
flags.DEFINE_integer("output_channels", 3, "Channels of B (1: grayscale).", lower_bound=1)
flags.DEFINE_enum("inference", "eval", options.INFERENCE_MODES, "What the SavedModel runs: eval "
                  "(stored batch-norm statistics, no dropout) or paper (the official test.py without "
                  "--eval: each image resized to --image_size, its own statistics, dropout on).")
flags.DEFINE_string("init_weights", None, "Start from these weights instead of random ones: the "
                    "pix2pix.weights.h5 of pix2pix_tf.convert (an official checkpoint), with the "
                    "architecture flags of the config.json beside it. A resumed run ignores it.")


def _pairs(flag_name, training_, batch_size, start=0):
    """(input, target) batches of the source in --<flag_name>, in --direction (training: from
    element `start` of the stream on)."""
    swap = FLAGS.direction == "BtoA"
    channels = (FLAGS.input_channels, FLAGS.output_channels)
    from common import training
    ds = training.dataset(
        flag_name, batch_size=batch_size,
        image_size=FLAGS.image_size, training=training_, repeat=training_, cache=FLAGS.cache,
        load_size=FLAGS.load_size or FLAGS.image_size * 286 // 256, flip=FLAGS.flip,
        channels=channels[::-1] if swap else channels, start=start)
    return ds.map(lambda a, b: (b, a)) if swap else ds


def main(argv):
    check_run_flags(argv, "Pix2Pix")
    multiple = 2 ** options.num_downs(FLAGS.generator)
    if FLAGS.image_size % multiple:
        raise app.UsageError(f"--image_size={FLAGS.image_size} must divide by {multiple} for "
                             f"--generator={FLAGS.generator}")
    from common import training  # TensorFlow, once the flags are known to be good
    from common.callbacks import first_batch
    from pix2pix_tf import inference
    from pix2pix_tf.model import VALUE_RANGE, Pix2Pix
    runtime = training.setup(Pix2Pix)
    training.require_pairs("pix2pix", "data", "val_data")
    inference.check_formats(FLAGS.inference, export_flag.chosen())
    steps = training.steps_per_epoch()
    train_ds = _pairs("data", True, FLAGS.batch_size,
                      start=training.resume_start(FLAGS.model_dir))
    val_ds = _pairs("val_data", False, FLAGS.batch_size) if FLAGS.val_data else None
    sample_batch = first_batch(_pairs("val_data" if FLAGS.val_data else "data", False,
                                      FLAGS.num_samples))
    with runtime.strategy.scope():
        model = Pix2Pix(
            generator=FLAGS.generator, n_layers=FLAGS.n_layers, norm=FLAGS.norm,
            gan_mode=FLAGS.gan_mode, input_channels=FLAGS.input_channels,
            output_channels=FLAGS.output_channels, ngf=FLAGS.ngf, ndf=FLAGS.ndf,
            dropout=FLAGS.dropout, lambda_l1=FLAGS.lambda_l1,
            sync_batch_norm=FLAGS.sync_batch_norm)
        model.compile(learning_rate=training.learning_rate(Pix2Pix.learning_rate, steps),
                      jit_compile=runtime.jit_compile)
        if FLAGS.init_weights:  # the run's own checkpoint, if any, replaces these when training starts
            training.load_initial_weights(model, "init_weights")
    training.fit_and_export(
        model, train_ds, steps, val_ds=val_ds, sample_batch=sample_batch,
        export_fn=lambda m, path, metadata: inference.export_generator(
            m.generator, path, FLAGS.inference, size=FLAGS.image_size, multiple=m.multiple,
            value_range=VALUE_RANGE, metadata=metadata))


if __name__ == "__main__":
    flags.adopt_module_key_flags(common.flags)  # --help lists the shared training flags too
    cli.run(main)
