"""Train GPEN: `python -m gpen_tf.train --flagfile=gpen_tf/configs/demo.cfg`.

Two stages (--stage, default all: both in turn):
  prior    the StyleGAN2 decoder as a GAN on clean faces (non-saturating loss, lazy R1), in
           <model_dir>/prior/, for --prior_epochs;
  restore  the whole network on (degraded, clean) pairs made on the fly from the clean faces
           (gpen_tf/degradation.py; its flags set the ranges), in <model_dir>/restore/, for --epochs;
           it starts from the prior stage's decoder and discriminator (that folder, or --init_from;
           --init_from=none starts from scratch) and exports <model_dir>/saved_model.
Each stage resumes from its own checkpoint. --data is a folder of aligned face crops, tfds:celeb_a
style sources (centre-cropped), or demo:faces. configs/bfr512.cfg is the paper's BFR-512 model.
"""

from absl import app, flags

import common.flags
from common import cli
from common.flags import FLAGS, check_run_flags
from gpen_tf import options
from gpen_tf.options import EMA_DECAY, STAGES

flags.DEFINE_enum("stage", "all", STAGES + ("all",), "Which training stage to run (all: both in turn).")
flags.DEFINE_integer("channel_multiplier", 2, "Width of the 64 px and larger layers (BFR-512: 2).",
                     lower_bound=1)
flags.DEFINE_float("narrow", 1.0, "Width factor of every layer (BFR-512: 1, BFR-256: 0.5).",
                   lower_bound=0.0)
flags.DEFINE_integer("prior_epochs", 100, "Epochs of the prior stage (--epochs is the restore "
                     "stage's).", lower_bound=1)
flags.DEFINE_float("ema_decay", EMA_DECAY, "Decay per step of the EMA generator that is evaluated, "
                   "sampled and exported (official: 0.5 ** (32 / 10000), a half-life of 312 steps).",
                   lower_bound=0.0, upper_bound=0.999999)
flags.DEFINE_float("path_regularize", 2.0, "Weight of the path-length regularisation, applied every 4th "
                   "step as the official train_simple.py; 0 turns it off.", lower_bound=0.0)
flags.DEFINE_string("init_from", None, "The prior stage's folder to start the restore stage from "
                    "(default <model_dir>/prior); 'none' starts it from random weights.")
options.define_degradation_flags()
# The paper's settings where they differ from the other models'.
FLAGS.set_default("image_size", 512)
FLAGS.set_default("batch_size", 4)
FLAGS.set_default("epochs", 100)


def _faces(flag_name, stage, training_, batch_size, degraded, start=0):
    """Clean faces (prior) or (degraded, clean) pairs (restore, degraded as `degraded` says) in
    [-1, 1] of the source in --flag_name (training: from element `start` of the stream on)."""
    from common import training
    from gpen_tf import degradation
    try:
        return degradation.faces(
            getattr(FLAGS, flag_name), size=FLAGS.image_size, batch_size=batch_size, training=training_,
            stage=stage, degradation=degraded, seed=training.data_seed(),
            on_bad_image=FLAGS.on_bad_image, cache=FLAGS.cache, repeat=training_, start=start)
    except (ValueError, FileNotFoundError) as err:
        raise app.UsageError(f"--{flag_name}={getattr(FLAGS, flag_name)}: {err}") from err


def main(argv):
    check_run_flags(argv, "GPEN")
    try:
        degraded = options.degradation_from_flags()
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    from common import training  # TensorFlow, once the flags are known to be good
    from common.callbacks import first_batch
    from gpen_tf import networks, serving
    from gpen_tf.model import GPEN
    runtime = training.setup(GPEN)
    try:
        networks.check_size(FLAGS.image_size)
    except ValueError as err:
        raise app.UsageError(f"--image_size={FLAGS.image_size}: {err}") from err
    steps = training.steps_per_epoch()
    init_from = None if FLAGS.init_from == "none" else FLAGS.init_from
    for stage, stage_dir, previous in training.stages(STAGES, FLAGS.stage, init_from):
        train_ds = _faces("data", stage, True, FLAGS.batch_size, degraded,
                          start=training.resume_start(stage_dir))
        val_ds = _faces("val_data", stage, False, FLAGS.batch_size, degraded) if FLAGS.val_data else None
        sample_batch = first_batch(_faces("val_data" if FLAGS.val_data else "data", stage, False,
                                          FLAGS.num_samples, degraded))
        with runtime.strategy.scope():
            model = GPEN(size=FLAGS.image_size, channel_multiplier=FLAGS.channel_multiplier,
                         narrow=FLAGS.narrow, stage=stage, ema_decay=FLAGS.ema_decay,
                         path_regularize=FLAGS.path_regularize)
            if previous and FLAGS.init_from != "none":
                model.load_prior(training.previous_weights(previous))
            if stage == "prior":
                epochs, rate = FLAGS.prior_epochs, FLAGS.learning_rate or GPEN.learning_rate
            else:  # --decay_epochs counts in the restore stage, the one --epochs sets
                epochs, rate = FLAGS.epochs, training.learning_rate(GPEN.learning_rate, steps)
            model.compile(learning_rate=rate, jit_compile=runtime.jit_compile)
        finished = training.fit_and_export(
            model, train_ds, steps, val_ds=val_ds, sample_batch=sample_batch, model_dir=stage_dir,
            epochs=epochs, export_fn=(lambda m, path, metadata: serving.export_restorer(
                m.generator_ema, path, FLAGS.image_size, metadata=metadata))
            if stage == "restore" else None)
        if not finished:
            break


if __name__ == "__main__":
    flags.adopt_module_key_flags(common.flags)  # --help lists the shared training flags too
    cli.run(main)
