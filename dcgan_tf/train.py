"""Train DCGAN: `python -m dcgan_tf.train --flagfile=dcgan_tf/configs/demo.cfg`.

configs/celeba.cfg and configs/mnist.cfg are the usual full runs. Flags given after --flagfile
override it. The sample grid shows the same latent vectors every epoch; with --val_data the sliced
Wasserstein distance to real images (val_swd) is logged after every epoch.
"""

from absl import app, flags

import common.flags
from common import cli
from common.flags import FLAGS, check_run_flags
from dcgan_tf import options

flags.DEFINE_integer("channels", 3, "Image channels: 3 (RGB) or 1 (grayscale, e.g. MNIST).",
                     lower_bound=1)
flags.DEFINE_integer("latent_dim", 100, "Length of the latent vector z.", lower_bound=1)
flags.DEFINE_integer("ngf", 64, "Generator width (channels of its last hidden layer).", lower_bound=1)
flags.DEFINE_integer("ndf", 64, "Discriminator width (channels of its first layer).", lower_bound=1)
flags.DEFINE_integer("center_crop", 0, "Cut each image to its centred square of this size before "
                     "resizing (0: the largest square, as pytorch/examples; CelebA: 108).",
                     lower_bound=0)
# The paper's settings where they differ from the other models'.
FLAGS.set_default("image_size", 64)
FLAGS.set_default("batch_size", 128)
FLAGS.set_default("epochs", 25)
FLAGS.set_default("flip", False)
FLAGS.set_default("num_samples", 64)


def _images(flag_name, start=0):
    """Batches of real images from --<flag_name>, from element `start` of the stream on. Validation
    draws them the way training does (random crops of --load_size images, repeated), so that both
    measure the same distribution."""
    from common import training
    return training.dataset(
        flag_name, batch_size=FLAGS.batch_size, image_size=FLAGS.image_size, training=True,
        repeat=True, cache=FLAGS.cache, load_size=FLAGS.load_size, flip=FLAGS.flip,
        channels=FLAGS.channels, center_crop_size=FLAGS.center_crop, start=start)


def main(argv):
    check_run_flags(argv, "DCGAN")
    try:
        options.num_blocks(FLAGS.image_size)
    except ValueError as err:
        raise app.UsageError(f"--image_size: {err}") from err
    from common import training  # TensorFlow, once the flags are known to be good
    from dcgan_tf.model import DCGAN, export_sampler, latents
    runtime = training.setup(DCGAN)
    steps = training.steps_per_epoch()
    train_ds = _images("data", start=training.resume_start(FLAGS.model_dir))
    val_ds = _images("val_data") if FLAGS.val_data else None
    with runtime.strategy.scope():
        model = DCGAN(image_size=FLAGS.image_size, channels=FLAGS.channels,
                      latent_dim=FLAGS.latent_dim, ngf=FLAGS.ngf, ndf=FLAGS.ndf,
                      sync_batch_norm=FLAGS.sync_batch_norm)
        model.compile(learning_rate=training.learning_rate(DCGAN.learning_rate, steps),
                      jit_compile=runtime.jit_compile)
    training.fit_and_export(
        model, train_ds, steps, val_ds=val_ds,
        sample_batch=latents(FLAGS.num_samples, FLAGS.latent_dim, FLAGS.seed or 0),
        export_fn=lambda m, path, metadata: export_sampler(m.generator, path, metadata=metadata))


if __name__ == "__main__":
    flags.adopt_module_key_flags(common.flags)  # --help lists the shared training flags too
    cli.run(main)
