"""Train Deep Photo Enhancer: `python -m dpe_tf.train --flagfile=dpe_tf/configs/demo.cfg`.

--mode picks the training: `supervised` (paired photos, MSE), `1way` (paired, WGAN-GP critic) or
`2way` (unpaired collections, two generators and critics with cycle losses). configs/fivek_*.cfg are
the paper's FiveK runs. Flags given after --flagfile override it.
"""

from absl import app, flags, logging

import common.flags
from common import cli
from common.flags import FLAGS, check_run_flags
from dpe_tf.options import MODES

flags.DEFINE_enum("mode", "2way", MODES, "supervised: paired, MSE; 1way: paired, WGAN-GP; "
                  "2way: unpaired, two-way GAN with cycle losses (the paper's).")
flags.DEFINE_boolean("rotate", True, "Random quarter turns; with --flip the 8x augmentation of "
                     "the official code.")
# The paper's settings where they differ from the other models'.
FLAGS.set_default("image_size", 512)
FLAGS.set_default("batch_size", 3)
FLAGS.set_default("epochs", 150)
FLAGS.set_default("decay_epochs", 75)


def _pairs(flag_name, training_, batch_size, start=0):
    """(x, y) batches in [0, 1], each photo resized to a long side of --image_size and mirror-padded
    (training: from element `start` of the stream on)."""
    from common import training
    from dpe_tf.model import VALUE_RANGE
    return training.dataset(
        flag_name, batch_size=batch_size, image_size=FLAGS.image_size, training=training_,
        repeat=training_, cache=FLAGS.cache, fit="pad", flip=FLAGS.flip, rotate=FLAGS.rotate,
        value_range=VALUE_RANGE, start=start)


def _input_psnr(val_ds):
    """Mean PSNR of the validation inputs against their targets, as val_psnr measures outputs."""
    import numpy as np

    from common import metrics
    return float(np.mean(np.concatenate([metrics.psnr(x, y).numpy() for x, y in val_ds])))


def main(argv):
    check_run_flags(argv, "DPE")
    if (FLAGS.mode == "2way") != FLAGS.data.startswith("unpaired:"):
        want = "unpaired:DIR_X,DIR_Y" if FLAGS.mode == "2way" else "paired pairs (paired:, demo:enhance)"
        raise app.UsageError(f"--mode={FLAGS.mode} trains on {want}, got --data={FLAGS.data}")
    from common import distribute, training  # TensorFlow, once the flags are known to be good
    from common.callbacks import first_batch
    from dpe_tf import networks, serving
    from dpe_tf.model import DPE
    runtime = training.setup(DPE)
    try:
        networks.generator(FLAGS.image_size)  # checks the size before any data is read
    except ValueError as err:
        raise app.UsageError(f"--image_size={FLAGS.image_size}: {err}") from err
    training.require_pairs(f"DPE --mode={FLAGS.mode}", "data", "val_data")
    steps = training.steps_per_epoch()
    train_ds = _pairs("data", True, FLAGS.batch_size,
                      start=training.resume_start(FLAGS.model_dir))
    val_ds = _pairs("val_data", False, FLAGS.batch_size) if FLAGS.val_data else None
    if val_ds is not None and distribute.is_chief(runtime.strategy):
        logging.info("validation PSNR of the photos as they are: %.2f dB (what val_psnr improves on)",
                     _input_psnr(val_ds))
    sample_batch = first_batch(_pairs("val_data" if FLAGS.val_data else "data", False,
                                      FLAGS.num_samples))
    with runtime.strategy.scope():
        model = DPE(mode=FLAGS.mode, image_size=FLAGS.image_size,
                    sync_batch_norm=FLAGS.sync_batch_norm)
        # The generator's optimizer steps once per critic_steps batches in the GAN modes, so its
        # schedule counts epochs in generator steps.
        g_steps = steps if FLAGS.mode == "supervised" else steps / model.options["critic_steps"]
        g_optimizer, _ = model.default_optimizers(training.learning_rate(DPE.learning_rate, g_steps))
        _, d_optimizer = model.default_optimizers(training.learning_rate(DPE.learning_rate, steps))
        model.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer,
                      jit_compile=runtime.jit_compile)
    training.fit_and_export(
        model, train_ds, steps, val_ds=val_ds, sample_batch=sample_batch,
        export_fn=lambda m, path, metadata: serving.export_enhancer(
            m.generator, path, image_size=FLAGS.image_size, metadata=metadata))


if __name__ == "__main__":
    flags.adopt_module_key_flags(common.flags)  # --help lists the shared training flags too
    cli.run(main)
