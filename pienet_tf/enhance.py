"""Enhance photos the way one user likes them, with an exported PieNet model.

    python -m pienet_tf.enhance --model=runs/pienet/saved_model --preferred=liked/ --input=photos/ --output=out/
    python -m pienet_tf.enhance --model=runs/pienet/saved_model --style=expert_c --input=IMG_0042.jpg --output=out/

The user is given by exactly one of:
  --preferred=DIR  photos the user likes (the paper asks a new user for 10-20): their normalised mean
                   embedding is the user's preference vector;
  --style=NAME     a style stored in the model: the learned vector of a training user (FiveK's expert_a ...
                   expert_e, or a demo preset); a wrong name is refused with the list of stored names.
Each output (PNG, named after its input) has the size of its input; grayscale and RGBA files are converted
to RGB. Unreadable files, inputs or preferred photos, are named and skipped, the others still used.
Inputs are never overwritten.

Exit codes: 0 all written; 1 some input or preferred files could not be read (named on stderr); 2 bad
arguments (a missing flag, both or neither of --preferred and --style, an unknown style, no PieNet
SavedModel in --model, no images in --input or --preferred, --output holding the inputs).
"""

from absl import app, flags

from common import cli, tool
from common.tool import FLAGS  # defines --model, --input and --output, shared with the other tools

flags.DEFINE_string("preferred", None, "A folder of photos the user likes; their style is applied.")
flags.DEFINE_string("style", None, "The name of a style stored in the model (a training user).")


def main(argv):
    """Enhance --input with the preference of --preferred or --style, writing PNGs to --output."""
    cli.check_arguments(argv, FLAGS, "model", "input", "output")
    cli.output_folder(FLAGS, "output")
    if bool(FLAGS.preferred) == bool(FLAGS.style):
        raise app.UsageError("give exactly one of --preferred=DIR (photos the user likes) and "
                              "--style=NAME (a style stored in the model)")
    cli.exit_after(_enhance)


def _enhance():
    """Enhance --input into --output with --style's vector or that of the photos in --preferred;
    returns how many files could not be read. An unknown style is a usage error naming the stored ones."""
    from common import images  # TensorFlow, once the flags are known to be good
    from pienet_tf.serving import load, preferred_style, stored_style
    model = load(FLAGS.model)
    if FLAGS.preferred:
        vector, failed = preferred_style(model, FLAGS.preferred)
    else:
        try:
            vector, failed = stored_style(model, FLAGS.style), 0
        except KeyError as err:
            raise app.UsageError(f"--style={FLAGS.style}: {err.args[0]}") from None
    serve = model.signatures["serving_default"]

    def enhance(image):
        return serve(images=image[None], preference=vector)["images"][0]

    return failed + images.process_files(FLAGS.input, FLAGS.output, enhance)


if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(main)
