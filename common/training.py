"""The flow every train.py shares: flags -> runtime -> model under the strategy -> fit -> export.

A notebook needs none of this: build the model, `compile()`, `fit(dataset)` with
`common.callbacks.standard(model_dir)`, and export. This module reads the shared flags for the scripts.
"""

import os
import sys

from absl import app, logging

from common import callbacks, data, distribute, export, export_flag, run_folder, runtime, schedules
from common.flags import FLAGS


def setup(model_class):
    """The runtime the flags ask for, for a `model_class` (a GANModel subclass) run; call it first,
    before any other TensorFlow work, and after `common.flags.check_run_flags`."""
    export_flag.chosen()  # an unknown format stops the run before it trains
    chosen = runtime.configure(FLAGS.strategy, FLAGS.mixed_precision, FLAGS.xla, FLAGS.seed,
                               FLAGS.deterministic, FLAGS.tpu, FLAGS.cpu_devices,
                               gpu_float16=model_class.GPU_FLOAT16)
    replicas = chosen.strategy.num_replicas_in_sync
    if FLAGS.batch_size % replicas:
        raise app.UsageError(f"--batch_size={FLAGS.batch_size} is the global batch: it must divide "
                             f"by the {replicas} replicas of --strategy={FLAGS.strategy}")
    global _data_seed
    try:
        _data_seed = callbacks.data_seed_of(FLAGS.model_dir, FLAGS.seed, chosen.strategy)
    except ValueError as err:
        raise app.UsageError(f"--model_dir={FLAGS.model_dir}: {err}") from err
    if distribute.is_chief(chosen.strategy):
        logging.info("data seed %d; precision %s (--mixed_precision=%s on the %s)", _data_seed,
                     chosen.policy, FLAGS.mixed_precision, chosen.device.upper())
    return chosen  # --model_dir is made by the first file written, so a bad flag leaves nothing


_data_seed = None  # the run's, set by setup()


def data_seed():
    """The run's data seed (callbacks.data_seed_of); setup() must have run."""
    if _data_seed is None:
        raise RuntimeError("training.setup() chooses the data seed: call it first")
    return _data_seed


def dataset(flag_name, **kwargs):
    """data.pipeline over the source in --<flag_name>, turning a bad source into a usage error."""
    try:
        return data.pipeline(getattr(FLAGS, flag_name), on_bad_image=FLAGS.on_bad_image,
                             seed=data_seed(), **kwargs)
    except (ValueError, FileNotFoundError) as err:
        raise app.UsageError(f"--{flag_name}={getattr(FLAGS, flag_name)}: {err}") from err


def resume_start(model_dir):
    """Where the training data stream of a run in `model_dir` resumes: the elements that the epochs
    of its checkpoint have read, 0 for a new run."""
    folder = run_folder.checkpoint_folder(model_dir)
    state = run_folder.read_state(folder)
    if state is None:
        return 0
    if "data_position" not in state:
        raise app.UsageError(f"the checkpoint in {folder} does not say where its training data "
                             "stream was (a notebook's run?): resume it as it was made")
    return state["data_position"]


def require_pairs(model, *flag_names):
    """A usage error unless the sources in --<flag_names> (those given) give (input, target) pairs."""
    for name in flag_names:
        value = getattr(FLAGS, name)
        try:
            pairs = value is None or data.gives_pairs(value)
        except (ValueError, FileNotFoundError) as err:
            raise app.UsageError(f"--{name}={value}: {err}") from err
        if not pairs:
            raise app.UsageError(
                f"--{name}={value} gives single images, but {model} trains on (input, target) pairs: "
                "give ab:DIR, paired:DIR_A,DIR_B or demo:gray2color, demo:edges2photo, demo:enhance")


def _batches(flag_name, round_up):
    """Batches in one pass over the source in --<flag_name>."""
    try:
        return data.batches(getattr(FLAGS, flag_name), FLAGS.batch_size, full_only=not round_up)
    except (ValueError, FileNotFoundError) as err:
        raise app.UsageError(f"--{flag_name}={getattr(FLAGS, flag_name)}: {err}") from err


def steps_per_epoch():
    """--steps_per_epoch, or one pass over --data in full batches."""
    return FLAGS.steps_per_epoch or _batches("data", round_up=False)


def learning_rate(default, steps):
    """--learning_rate (or the paper's `default`), decaying linearly over the last --decay_epochs."""
    rate = FLAGS.learning_rate or default
    if not FLAGS.decay_epochs:
        return rate
    return schedules.LinearDecay(rate, steps, FLAGS.epochs - FLAGS.decay_epochs, FLAGS.decay_epochs)


def fit_and_export(model, train_ds, steps, *, val_ds=None, val_steps=None, sample_batch=None,
                   export_fn=None, model_dir=None, epochs=None):
    """Train with checkpoints, samples and TensorBoard under model_dir, then export the SavedModel.

    `train_ds` repeats; `steps` batches make an epoch, `epochs` (default --epochs) the run.
    `model_dir` defaults to --model_dir (a stage of a multi-stage run has its own folder in it).
    `export_fn(model, path, metadata)` writes the SavedModel to <--model_dir>/saved_model, with
    `metadata` from `export.describe` (the epochs trained included). Returns whether
    training finished (it stops early on a non-finite loss).
    """
    # Known validation steps: the pipeline's filter hides the size, and keras warns at its end.
    # Under several replicas a last, partial batch may leave a replica with no example, which
    # TensorFlow cannot run; so the replicas validate on full batches only.
    if val_ds is not None and val_steps is None:
        replicas = model.distribute_strategy.num_replicas_in_sync
        val_steps = FLAGS.validation_steps or _batches("val_data", round_up=replicas == 1)
        if replicas > 1 and not FLAGS.validation_steps:
            left_out = data.count(FLAGS.val_data) - val_steps * FLAGS.batch_size
            if left_out > 0:
                logging.warning("%d validation images after the last full batch are left out, "
                                "to split every batch over the %d replicas", left_out, replicas)
    model_dir = model_dir or FLAGS.model_dir
    try:
        model.fit(train_ds, epochs=epochs or FLAGS.epochs, steps_per_epoch=steps,
                  validation_data=val_ds, validation_steps=val_steps,
                  shuffle=False,  # the pipeline shuffles; keras warns that it cannot
                  # A progress bar redraws its line, which in a log file glues every update and
                  # the lines printed beside it into one; there a line per epoch is written.
                  verbose=1 if sys.stdout.isatty() else 2,
                  callbacks=callbacks.standard(model_dir, sample_batch, FLAGS.sample_every,
                                               state={"data_seed": data_seed()},
                                               elements_per_epoch=steps * FLAGS.batch_size))
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM (common.cli prints this and exits)
        interrupt.resume = _where_it_stopped(model_dir)
        raise
    if model.stop_training:
        return False
    if FLAGS.export and export_fn:
        path = os.path.join(FLAGS.model_dir, "saved_model")
        metadata = export.describe(type(model).__name__, model.get_config(),
                                   epoch=epochs or FLAGS.epochs)
        with distribute.chief_path(path, model.distribute_strategy) as target:
            export_fn(model, target, metadata)
        if distribute.is_chief(model.distribute_strategy):
            logging.info("exported the SavedModel to %s", path)
            for written in export_flag.write_others(path):
                logging.info("converted it to %s", written)
    return True


def _where_it_stopped(model_dir):
    """For a run stopped between checkpoints: what its checkpoint holds and how to go on."""
    folder = run_folder.checkpoint_folder(model_dir)
    state = run_folder.read_state(folder)
    if state is None:
        return f"no epoch was finished, so {folder} holds no checkpoint; the same command starts again"
    return (f"{folder} holds epoch {state['epoch']}, the last finished; the same command resumes "
            "from there")


def load_initial_weights(model, flag_name):
    """Load the weights file in --<flag_name> into `model`; a usage error if it does not fit."""
    path = getattr(FLAGS, flag_name)
    if not os.path.isfile(path):
        raise app.UsageError(f"--{flag_name}={path}: no such file")
    try:
        model.load_weights(path)
    except Exception as err:
        raise app.UsageError(f"--{flag_name}={path} does not fit this model (are the architecture flags "
                             f"those it was made with?): {err}") from err


def stages(order, chosen, init_from=None):
    """The training stages to run, in order: (stage, its folder, the folder of the stage before it).

    `order` names a model's stages (PieNet: embed, enhance; GPEN: prior, restore); `chosen` is one of
    them or "all". Each stage trains in <--model_dir>/<stage>/, so each resumes on its own. A stage
    starts from the weights of the one before it: `init_from` (a model_dir of that stage's run) or
    its folder beside this one; the first stage starts from nothing (None).
    """
    names = order if chosen == "all" else (chosen,)
    for name in names:
        index = order.index(name)
        previous = None
        if index:
            previous = init_from or os.path.join(FLAGS.model_dir, order[index - 1])
        yield name, os.path.join(FLAGS.model_dir, name), previous


def previous_weights(stage_dir):
    """The latest weights file of a finished stage's run folder, or a usage error saying what is missing."""
    path = os.path.join(run_folder.checkpoint_folder(stage_dir), run_folder.WEIGHTS)
    if not os.path.isfile(path):
        raise app.UsageError(f"no checkpoint of the previous stage in {stage_dir} (expected {path}): "
                             "train that stage first, or point --init_from at its folder")
    return path
