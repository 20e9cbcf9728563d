"""Restore degraded faces with an exported GPEN model.

    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=faces/ --output=restored/
    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=face.png --output=restored/

Inputs are aligned face crops, as the model was trained on (e.g. FFHQ-aligned, or made by
`python -m gpen_tf.degrade`); there is no face detection. Each face is resized to the model's size,
restored and resized back, so every output (PNG, named after its input) has its input's size.
Grayscale and RGBA files are converted to RGB; unreadable files are named and skipped, the others
still written. Inputs are never overwritten.

Exit codes: 0 all written; 1 some input files could not be read (named on stderr); 2 bad arguments
(a missing flag, no SavedModel in --model, no images in --input, --output holding the inputs).
"""

from absl import flags

from common import cli, tool

if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(tool.main_for("GPEN"))
