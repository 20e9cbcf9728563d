"""--export_formats, shared by every train.py and convert tool: which files an export writes."""

import os

from absl import app, flags

flags.DEFINE_string("export_formats", "saved_model",
                    "Comma-separated: saved_model, tflite, onnx. The SavedModel is always written; "
                    "model.tflite and model.onnx are converted from it, beside it (needs the deploy "
                    "extra: pip install 'gan-zoo-tf[deploy]').")


def chosen():
    """The formats of --export_formats; a usage error names an unknown one or the missing extra."""
    from common import formats  # TensorFlow: the convert tools read their files first
    try:
        wanted = formats.parse(flags.FLAGS.export_formats)
        formats.require(wanted)
        return wanted
    except (ValueError, ImportError) as err:
        raise app.UsageError(f"--export_formats={flags.FLAGS.export_formats}: {err}") from None


def write_others(saved_model):
    """Convert the SavedModel just written to the other formats asked for; returns their paths."""
    from common import formats
    return formats.write(saved_model, chosen())


def print_others(output):
    """write_others for a convert tool's --output folder, each file written named on stdout."""
    for path in write_others(os.path.join(output, "saved_model")):
        print(f"wrote {path}")
