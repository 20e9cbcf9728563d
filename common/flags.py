"""Command-line flags every training entry point shares; importing this module defines them.

Each model's train.py adds its own flags. Values come from `--flagfile=...` first and later
command-line flags override it; a bad value stops the program with a message naming the flag.
Nothing here loads TensorFlow, so --help is instant and `check_run_flags` refuses bad flags before it loads.
"""

from absl import app, flags

from common import cli, export_flag, run_folder
from common.options import ON_BAD_IMAGE, PRECISIONS, STRATEGIES, XLA_MODES

flags.DEFINE_string("data", None, "Training data source (see common/data.py): DIR, ab:DIR, "
                    "paired:DIR_A,DIR_B, unpaired:DIR_A,DIR_B, tfds:NAME[:SPLIT], demo:NAME[:SPLIT].")
flags.DEFINE_string("val_data", None, "Validation data source, evaluated after every epoch.")
flags.DEFINE_string("model_dir", None, "Where checkpoints, samples, logs and the SavedModel go. "
                    "Running again with the same folder resumes from its last checkpoint.")
flags.DEFINE_integer("epochs", 200, "Number of epochs.", lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch; by default one pass over the data.",
                     lower_bound=1)
flags.DEFINE_integer("validation_steps", None, "Batches per validation; default: all.", lower_bound=1)
flags.DEFINE_integer("batch_size", 1, "Global batch size, split over the replicas.", lower_bound=1)
flags.DEFINE_integer("image_size", 256, "Height and width of the training crops.", lower_bound=8)
flags.DEFINE_integer("load_size", None, "Resize training images to this before the random "
                     "--image_size crop; default: the paper's (pix2pix: image_size * 286 / 256).",
                     lower_bound=8)
flags.DEFINE_boolean("flip", True, "Random horizontal flips of the training images (and pairs).")
flags.DEFINE_float("learning_rate", None, "Learning rate of both optimizers; default: the paper's.",
                   lower_bound=0.0)
flags.DEFINE_integer("decay_epochs", 0, "Epochs at the end of training over which the learning rate "
                     "decays linearly to zero (pix2pix: 100 of 200).", lower_bound=0)
flags.DEFINE_enum("mixed_precision", "auto", PRECISIONS,
                  "Precision policy. auto: bfloat16 where the device computes it natively (TPUs, GPUs "
                  "from Ampere on, CPUs with AVX512-BF16 or AMX), else on a GPU float16 for pix2pix, "
                  "DCGAN and PieNet and float32 for DPE and GPEN, else float32; off: float32 as the "
                  "papers; float16 uses loss scaling.")
flags.DEFINE_enum("xla", "auto", XLA_MODES, "Compile the train step with XLA.")
flags.DEFINE_enum("strategy", "auto", STRATEGIES,
                  "tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG.")
flags.DEFINE_string("tpu", None, "TPU name or address for --strategy=tpu.")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices, so that "
                     "--strategy=mirrored can be tried on a machine without GPUs.", lower_bound=1)
flags.DEFINE_boolean("sync_batch_norm", True, "Under a strategy with several replicas, batch norm "
                     "uses the statistics of the global batch (false: each replica its own share's, "
                     "as PyTorch's DataParallel).")
flags.DEFINE_integer("seed", None, "Random seed for weights, shuffling and augmentation.")
flags.DEFINE_boolean("deterministic", False, "Make TensorFlow ops deterministic (slower).")
flags.DEFINE_enum("on_bad_image", "skip", ON_BAD_IMAGE,
                  "An unreadable training image is skipped with a warning naming it, or is fatal.")
flags.DEFINE_boolean("cache", True, "Keep the decoded, resized images in memory after the first epoch.")
flags.DEFINE_integer("num_samples", 4, "Examples in the sample grid.", lower_bound=1)
flags.DEFINE_integer("sample_every", 1, "Write a sample grid every this many epochs.", lower_bound=1)
flags.DEFINE_boolean("export", True, "Write <model_dir>/saved_model at the end of training.")

# --export_formats, which the convert tools share; listed in every train's --help with the flags above.
flags.adopt_module_key_flags(export_flag)

FLAGS = flags.FLAGS


def check_run_flags(argv, model):
    """The checks of a train.py's command line `argv` that need no TensorFlow, for a run of `model`
    (a class name): a usage error for words left after the flags, a missing --model_dir or --data, a
    --model_dir that cannot be written or that holds another model's checkpoints, and a
    --decay_epochs that leaves no epoch at the full rate. Every train.py's main calls it first;
    `common.training.setup` does the rest."""
    cli.check_arguments(argv, FLAGS)
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required: where checkpoints, samples and the model go")
    if not FLAGS.data:
        raise app.UsageError("--data is required (see --helpfull for the source forms)")
    cli.output_folder(FLAGS, "model_dir")
    try:
        run_folder.check_owner(FLAGS.model_dir, model)
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    if FLAGS.decay_epochs >= FLAGS.epochs:
        raise app.UsageError(f"--decay_epochs={FLAGS.decay_epochs} must be smaller than "
                             f"--epochs={FLAGS.epochs}")
