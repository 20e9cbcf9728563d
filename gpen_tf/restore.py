"""Restore the faces in photos with an exported GPEN model.

    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=photos/ --output=restored/
    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=crops/ --output=restored/ --aligned

By default each input is a whole photo, as the official face_enhancement tool takes it: every face of
at least --min_face pixels is found with five landmarks (MTCNN), aligned to the model's template,
restored, warped back and blended in at the photo's full resolution (gpen_tf/faces.py); the rest of
the photo keeps its pixels. Each photo's line says how many faces were restored; a photo without a
face is written unchanged and named. --save_faces also writes <name>_face<k>.png: the aligned input
and the restored face side by side; --compare writes <name>_compare.png: the photo before and after.

--aligned takes inputs that are already aligned face crops (FFHQ-style, or made by
`python -m gpen_tf.degrade`): each is resized to the model's size, restored and resized back.

Outputs are PNGs named after their inputs, of their inputs' size. Grayscale and RGBA files are
converted to RGB; unreadable files are named and skipped, the others still written. Inputs are never
overwritten.

Exit codes: 0 all written; 1 some input files could not be read (named on stderr); 2 bad arguments
(a missing flag, no SavedModel in --model, no images in --input, --output holding the inputs).
"""

import os
import sys

from absl import flags

from common import cli, tool
from common.tool import FLAGS  # --model, --input and --output, shared with the other tools
from gpen_tf.options import MIN_FACE

flags.DEFINE_boolean("aligned", False, "Inputs are aligned face crops: restore each whole, without "
                     "face detection.")
flags.DEFINE_boolean("save_faces", False, "Also write <name>_face<k>.png for each face: the aligned "
                     "input and the restored face side by side.")
flags.DEFINE_boolean("compare", False, "Also write <name>_compare.png: the photo before and after, "
                     "side by side.")
flags.DEFINE_integer("min_face", MIN_FACE, "Faces whose detected box is narrower than this "
                     "(pixels) are left as they are.", lower_bound=1)


def _photo_restorer():
    """The function of one photo that `images.process_files` calls with its paths."""
    import numpy as np

    from common import images
    from gpen_tf import faces
    restorer = faces.PhotoRestorer(FLAGS.model, min_face=FLAGS.min_face)

    def restore(photo, source, output):
        result = restorer(photo)
        name = os.path.basename(source)
        if not result.faces:
            print(f"{name}: no face found, written unchanged", file=sys.stderr)
        else:
            print(f"{name}: {len(result.faces)} face{'s' if len(result.faces) > 1 else ''} restored")
        stem = os.path.splitext(output)[0]
        if FLAGS.save_faces:
            for k, (crop, restored) in enumerate(zip(result.crops, result.restored)):
                images.write_image(f"{stem}_face{k:02d}.png", np.concatenate([crop, restored], axis=1))
        if FLAGS.compare:
            images.write_image(f"{stem}_compare.png", np.concatenate([photo, result.photo], axis=1))
        return result.photo

    return restore


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "input", "output")
    cli.output_folder(FLAGS, "output")
    from common import formats, images  # TensorFlow, once the flags are known to be good

    def work():
        if FLAGS.aligned:
            return images.process_files(FLAGS.input, FLAGS.output, formats.load(FLAGS.model, "GPEN").serving())
        return images.process_files(FLAGS.input, FLAGS.output, _photo_restorer(), with_paths=True)

    cli.exit_after(work)


if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(main)
