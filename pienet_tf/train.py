"""Train PieNet: `python -m pienet_tf.train --flagfile=pienet_tf/configs/demo.cfg`.

Two stages (--stage, default all: both in turn):
  embed    the ResNet18 style embedding and one preference vector per training user (triplet loss),
           in <model_dir>/embed/, for --embed_epochs;
  enhance  the enhancer, fed each user's learned vector, with the embedding frozen, in
           <model_dir>/enhance/, for --epochs; it starts from the embed stage's weights (that folder,
           or --init_from) and exports <model_dir>/saved_model. With --enhance_with=photos it is fed
           instead vectors made as a new user's are, from 1 to --max_preferred of the user's photos.
Each stage resumes from its own checkpoint. --data is a FiveK-style folder (input/ plus one folder per
user) or demo:styles; configs/fivek_multi.cfg is the paper's multi-user run on the five experts.
"""

from absl import app, flags

import common.flags
from common import cli
from common.flags import FLAGS, check_run_flags
from pienet_tf.options import STAGES

flags.DEFINE_enum("stage", "all", STAGES + ("all",), "Which training stage to run (all: both in turn).")
flags.DEFINE_list("users", None, "The training users (folder names, or demo styles); default: every "
                  "user folder of --data, or the demo styles not held out.")
flags.DEFINE_integer("embed_epochs", 20, "Epochs of the embed stage (--epochs is the enhance stage's).",
                     lower_bound=1)
flags.DEFINE_string("init_from", None, "The embed stage's folder to start the enhance stage from "
                    "(default <model_dir>/embed).")
flags.DEFINE_integer("embedding_width", 64, "Width of the ResNet18 embedding (64: ResNet18; narrower "
                     "ones embed in 8 * width dimensions and take no ImageNet weights).", lower_bound=1)
flags.DEFINE_integer("enhancer_width", 64, "Width of the enhancer's first stage (doubling to 8x).",
                     lower_bound=1)
flags.DEFINE_string("resnet18_weights", None, "A local .npz of ImageNet ResNet18 weights for the "
                    "embedding (see pienet_tf/networks.py for how to make it); default: random init.")
flags.DEFINE_enum("enhance_with", "learned", ["learned", "photos"], "What the enhancer is fed in "
                  "training: each user's learned vector (the paper), or the normalised mean embedding of "
                  "1 to --max_preferred random retouched photos of that user, as a new user's vector is "
                  "made (ours: new users are followed far more reliably, see BUILD_NOTES.md).")
flags.DEFINE_integer("max_preferred", 20, "With --enhance_with=photos, the most photos a training "
                     "vector is made from (the paper's new users pick 10 to 20).", lower_bound=1)
# The paper's settings where they differ from the other models'.
FLAGS.set_default("batch_size", 8)
FLAGS.set_default("epochs", 100)


def _batches(flag_name, users, training_, batch_size, start=0):
    from common import training
    from pienet_tf import data
    try:
        return data.dataset(getattr(FLAGS, flag_name), users, batch_size=batch_size,
                            image_size=FLAGS.image_size, training=training_, repeat=training_,
                            load_size=FLAGS.load_size, flip=FLAGS.flip, seed=training.data_seed(),
                            on_bad_image=FLAGS.on_bad_image, cache=FLAGS.cache, start=start)
    except (ValueError, FileNotFoundError) as err:
        raise app.UsageError(f"--{flag_name}={getattr(FLAGS, flag_name)}: {err}") from err


def _users():
    from pienet_tf import data
    try:
        return tuple(FLAGS.users or data.training_users(FLAGS.data))
    except (ValueError, FileNotFoundError) as err:
        raise app.UsageError(f"--data={FLAGS.data}: {err}") from err


def _export(model, path, metadata):
    from pienet_tf import serving
    names, vectors = model.style_vectors()
    serving.export_pienet(model.embedding, model.enhancer, names, vectors, path,
                          embed_size=FLAGS.image_size, metadata=metadata)


def main(argv):
    check_run_flags(argv, "PieNet")
    from common import training  # TensorFlow, once the flags are known to be good
    from common.callbacks import first_batch
    from pienet_tf import data, networks
    from pienet_tf.model import PieNet, retouched_embeddings
    runtime = training.setup(PieNet)
    if FLAGS.image_size % networks.MULTIPLE:
        raise app.UsageError(f"--image_size={FLAGS.image_size} must divide by {networks.MULTIPLE}")
    users = _users()
    val_ds = _batches("val_data", users, False, FLAGS.batch_size) if FLAGS.val_data else None
    sample_batch = first_batch(_batches("val_data" if FLAGS.val_data else "data", users, False,
                                        FLAGS.num_samples))
    steps = FLAGS.steps_per_epoch or max(1, data.count(FLAGS.data, users) // FLAGS.batch_size)
    val_steps = FLAGS.validation_steps or (
        -(-data.count(FLAGS.val_data, users) // FLAGS.batch_size) if val_ds else None)
    for stage, stage_dir, previous in training.stages(STAGES, FLAGS.stage, FLAGS.init_from):
        train_ds = _batches("data", users, True, FLAGS.batch_size,
                            start=training.resume_start(stage_dir))
        with runtime.strategy.scope():
            model = PieNet(users=users, stage=stage, image_size=FLAGS.image_size,
                           embedding_width=FLAGS.embedding_width, enhancer_width=FLAGS.enhancer_width,
                           sync_batch_norm=FLAGS.sync_batch_norm)
            if previous:
                model.load_weights(training.previous_weights(previous), skip_mismatch=True)
            elif FLAGS.resnet18_weights:
                networks.load_resnet18_weights(model.embedding, FLAGS.resnet18_weights)
            if stage == "enhance" and FLAGS.enhance_with == "photos":
                # The embedding is frozen from here on, so its photos' embeddings are made once.
                photos = _batches("data", users, False, FLAGS.batch_size)
                model.use_photo_vectors(*retouched_embeddings(model.embedding, photos),
                                        FLAGS.max_preferred)
            # --decay_epochs counts in the enhance stage, the one --epochs sets.
            if stage == "embed":
                epochs, rate = FLAGS.embed_epochs, FLAGS.learning_rate or PieNet.learning_rate
            else:
                epochs, rate = FLAGS.epochs, training.learning_rate(PieNet.learning_rate, steps)
            model.compile(learning_rate=rate, jit_compile=runtime.jit_compile)
        finished = training.fit_and_export(
            model, train_ds, steps, val_ds=val_ds, val_steps=val_steps, sample_batch=sample_batch,
            export_fn=_export if stage == "enhance" else None, model_dir=stage_dir, epochs=epochs)
        if not finished:
            break


if __name__ == "__main__":
    flags.adopt_module_key_flags(common.flags)  # --help lists the shared training flags too
    cli.run(main)
