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

import os
import sys

import tensorflow as tf
from absl import flags

from common import cli, images
from common.tool import FLAGS  # defines --model, --input and --output, shared with the other tools
from pienet_tf.data import square

flags.DEFINE_string("preferred", None, "A folder of photos the user likes; their style is applied.")
flags.DEFINE_string("style", None, "The name of a style stored in the model (a training user).")


def load(path):
    """The loaded SavedModel in `path`, checked to be a PieNet export (FileNotFoundError/ValueError)."""
    # Not common.export.load_signature: it would load the model a second time for the other endpoints.
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"no SavedModel in {path!r} (expected {path}/saved_model.pb)")
    model = tf.saved_model.load(path)
    if "preference" not in model.signatures:
        raise ValueError(f"the SavedModel in {path} has no 'preference' endpoint: it was not exported "
                         "by PieNet")
    return model


def stored_style(model, name):
    """The stored preference vector [1, D] of style `name`; a usage error lists the stored names."""
    stored = model.signatures["styles"]()
    names = [n.decode() for n in stored["names"].numpy()]
    if name not in names:
        raise cli.usage_error(f"--style={name} is not a style of this model; its styles are: "
                              f"{', '.join(names)}")
    return stored["vectors"][names.index(name)][None]


def preferred_style(model, folder):
    """(preference vector [1, D] of the photos in `folder`, how many could not be read).

    Each photo's centred square is resized to the embedding's size here, so that all make one batch.
    """
    size = int(model.signatures["styles"]()["embed_size"])
    photos, failed = [], 0
    for path in images.list_images(folder):
        try:
            photos.append(square(images.read_image(path), size))
        except images.ImageReadError as err:
            print(f"skipped preferred photo: {err}", file=sys.stderr)
            failed += 1
    if not photos:
        raise ValueError(f"none of the preferred photos in {folder} could be read")
    print(f"preference vector from {len(photos)} photos in {folder}")
    return model.signatures["preference"](images=tf.stack(photos))["preference"], failed


def main(argv):
    """Enhance --input with the preference of --preferred or --style, writing PNGs to --output."""
    if len(argv) > 1:
        raise cli.usage_error(f"unexpected arguments: {' '.join(argv[1:])}")
    for name in ("model", "input", "output"):
        if not getattr(FLAGS, name):
            raise cli.usage_error(f"--{name} is required")
    if bool(FLAGS.preferred) == bool(FLAGS.style):
        raise cli.usage_error("give exactly one of --preferred=DIR (photos the user likes) and "
                              "--style=NAME (a style stored in the model)")
    try:
        model = load(FLAGS.model)
        if FLAGS.style:
            vector, failed = stored_style(model, FLAGS.style), 0
        else:
            vector, failed = preferred_style(model, FLAGS.preferred)
        serve = model.signatures["serving_default"]

        def enhance(image):
            return serve(images=tf.constant(image[None]), preference=vector)["images"][0].numpy()

        failed += images.process_files(FLAGS.input, FLAGS.output, enhance)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    cli.run(main)
