"""Convert a DPE TensorFlow 1 checkpoint (the authors' demo models, or the 2-way training code's) to
this package.

    python -m dpe_tf.convert --checkpoint=LPGAN/model/90.000-new.ckpt --output=DIR [--generator=A|B]

`--checkpoint` is the prefix TensorFlow names a checkpoint by (beside it: PREFIX.index and
PREFIX.data-00000-of-00001; the .meta graph is not needed). The authors' demo-site checkpoints
(`27.500-new.ckpt`, `90.000-new.ckpt` in LPGAN/model/) hold one generator; a checkpoint of the 2-way
training code holds both generators with both iBN sets and both critics, and `--generator` chooses the
one the SavedModel serves (A: input -> retouched, the enhancer; B: the other way). Both spellings of
the released names (`netG-999_...` and `netG_...`) are read. TensorFlow 2 reads the file
(`tf.train.load_checkpoint`); a prefix without a checkpoint is named before it loads. DIR receives
  saved_model/     what `python -m dpe_tf.enhance --model=DIR/saved_model` runs: any photo size, as a
                   DPE trained here (photos above 512 px: the global feature of a downsized copy);
  dpe.weights.h5   the networks, for fine-tuning: `DPE(**config).load_weights(...)`;
  config.json      that config (the DPE arguments: mode supervised for one generator, 2way for all).
A missing, extra or mis-shaped variable is named.

Exit codes: 0 written; 1 a checkpoint that cannot be read or does not fit; 2 bad arguments.
"""

from absl import flags

from common import cli, export_flag
from dpe_tf import checkpoints

flags.DEFINE_string("checkpoint", None, "The checkpoint's prefix (PREFIX.index and PREFIX.data-* beside "
                    "it), e.g. LPGAN/model/90.000-new.ckpt.")
flags.DEFINE_string("output", None, "Folder for saved_model/, dpe.weights.h5 and config.json.")
flags.DEFINE_enum("generator", "A", ["A", "B"], "The generator the SavedModel serves: A (input to "
                  "retouched, the enhancer) or B (retouched to input, in a 2-way checkpoint).")
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "checkpoint", "output")
    cli.output_folder(FLAGS, "output")
    cli.converted(checkpoints.check_files, FLAGS.checkpoint)
    from dpe_tf import official  # TensorFlow, once the files are known to be there

    export_flag.chosen()  # an unknown format or a missing extra stops it before converting
    model, exported = cli.converted(official.convert, FLAGS.checkpoint, generator=FLAGS.generator)
    official.write(model, exported, FLAGS.output, generator=FLAGS.generator)
    print(f"converted {FLAGS.checkpoint} (generator {FLAGS.generator}, {model.options['image_size']} px, "
          f"{model.options['mode']} mode) into {FLAGS.output}")
    export_flag.print_others(FLAGS.output)


if __name__ == "__main__":
    cli.run(main)
