"""Convert an export to LiteRT and ONNX: python -m common.deploy --model=run/saved_model.

Writes <run>/model.tflite and <run>/model.onnx (see common/formats.py) beside the SavedModel, or into
--output_dir. Exit codes: 0 written, 2 bad arguments (no export there, an unknown format, the deploy
extra missing).
"""

import sys

from absl import flags

from common import cli

flags.DEFINE_string("model", None, "An exported SavedModel folder (<model_dir>/saved_model).")
flags.DEFINE_string("formats", "tflite,onnx", "The formats to write: tflite, onnx or both.")
flags.DEFINE_string("output_dir", None, "Where the files go; default: the folder that holds --model.")
flags.DEFINE_list("fixed_size", None, "H,W: convert for images of this size only, one per call "
                  "(LiteRT runs such a file up to 2x faster); default: any size and batch.")
FLAGS = flags.FLAGS


def _size(values):
    if values is None:
        return None
    if len(values) != 2 or not all(v.isdigit() and int(v) > 0 for v in values):
        raise ValueError(f"--fixed_size={','.join(values)}: give H,W, two positive integers")
    return tuple(int(v) for v in values)


def main(argv):
    cli.check_arguments(argv, FLAGS, "model")
    cli.output_folder(FLAGS, "output_dir")
    from common import formats  # TensorFlow, once the flags are known to be good
    try:
        size = _size(FLAGS.fixed_size)
        wanted = formats.parse(FLAGS.formats)
        formats.require(wanted)
        written = formats.write(FLAGS.model, wanted, FLAGS.output_dir, size)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    cli.run(main)
