"""The shared body of the image command-line tools (translate, enhance, restore).

`--model` is an exported SavedModel, `--input` a file or folder, `--output` a folder. Unreadable inputs
are reported by name and skipped, the others still written. Exit codes: 0 all written, 1 some input
files could not be read, 2 bad arguments (a missing or unparsable flag, no SavedModel, no images).
Inputs are never overwritten. TensorFlow loads only after the flags are checked (--help is instant).
"""

from absl import flags

from common import cli

flags.DEFINE_string("model", None, "An export: a SavedModel folder (<model_dir>/saved_model), model.tflite or model.onnx.")
flags.DEFINE_string("input", None, "An image file or a folder of images.")
flags.DEFINE_string("output", None, "Folder for the results (PNG); it must not hold the inputs.")
FLAGS = flags.FLAGS


def main_for(model, serving=lambda served: served.serving()):
    """The main of a tool that runs exports of `model` (a class name) over --input, writing PNGs to
    --output; another model's export is a bad argument. `serving(served)` picks the function of one
    image from the opened export (common.formats.Served); a ValueError from it is a bad argument."""
    def main(argv):
        cli.check_arguments(argv, FLAGS, "model", "input", "output")
        cli.output_folder(FLAGS, "output")
        from common import formats, images  # TensorFlow, once the flags are known to be good
        cli.exit_after(lambda: images.process_files(FLAGS.input, FLAGS.output,
                                                    serving(formats.load(FLAGS.model, model))))
    return main

