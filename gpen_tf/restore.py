"""Restore the faces in photos with an exported GPEN model.

    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=photos/ --output=restored/
    python -m gpen_tf.restore --model=gpen512/ --input=photos/ --output=restored/ \
        --detector=retinaface/ --mask=parsenet/ --background=realesrnet_x2/ --sr_tile=400
    python -m gpen_tf.restore --model=runs/gpen/saved_model --input=crops/ --output=restored/ --aligned

By default each input is a whole photo, as the official face_enhancement tool takes it: every face of
at least --min_face pixels is found with five landmarks, aligned to the model's template, restored,
warped back and blended in at the photo's full resolution (gpen_tf/faces.py); the rest of the photo
keeps its pixels. The second command is the official pipeline with the released files converted by
`python -m gpen_tf.convert` (GPEN-BFR-512.pth, RetinaFace-R50.pth, ParseNet-latest.pth,
realesrnet_x2.pth): RetinaFace finds the faces, ParseNet's face parsing makes each paste mask, and
RealESRNet upscales the whole photo first, so it comes back twice as large. Without them, MTCNN finds
the faces (the mtcnn package) and a feathered square is the mask.

Each photo's line says how many faces were restored and how long it took; a photo without a face is
written unchanged (or upscaled, with --background) and named. --save_faces also writes
<name>_face<k>.png: the aligned input and the restored face side by side; --compare writes
<name>_compare.png: the photo before (resized to the result's size) and after.

--aligned takes inputs that are already aligned face crops (FFHQ-style, or made by
`python -m gpen_tf.degrade`): each is resized to the model's size, restored and resized back (and
then upscaled, with --background, as the official aligned mode does).

Outputs are PNGs named after their inputs. Grayscale and RGBA files are converted to RGB; unreadable
files are named and skipped, the others still written. Inputs are never overwritten.

Exit codes: 0 all written; 1 some input files could not be read (named on stderr); 2 bad arguments
(a missing flag, no SavedModel in --model, an export of the wrong network for --detector, --mask or
--background, no images in --input, --output holding the inputs).
"""

import os
import sys
import time

from absl import app, flags

from common import cli, tool
from common.tool import FLAGS  # --model, --input and --output, shared with the other tools
from gpen_tf.options import MIN_FACE

flags.DEFINE_boolean("aligned", False, "Inputs are aligned face crops: restore each whole, without "
                     "face detection.")
flags.DEFINE_string("detector", "mtcnn", "Face detector: mtcnn, or a converted RetinaFace "
                    "(RetinaFace-R50.pth through gpen_tf.convert), as the official pipeline.")
flags.DEFINE_string("mask", "feather", "Paste mask: feather (a feathered square), or a converted "
                    "ParseNet (ParseNet-latest.pth), the official pipeline's face-parsing mask.")
flags.DEFINE_string("background", "none", "Background super-resolution before the faces: none, or a "
                    "converted RealESRNet (realesrnet_x1/x2/x4.pth); the photo comes back that much larger.")
flags.DEFINE_float("alpha", 1.0, "Weight of the restored face against the aligned input (the "
                   "official --alpha): 1 the restored face alone.", lower_bound=0, upper_bound=1)
flags.DEFINE_integer("sr_tile", 0, "Run --background on tiles of this many pixels (10 px of overlap, "
                     "as the official tile_size), so memory stays bounded on large photos; 0: the whole "
                     "photo at once.", lower_bound=0)
flags.DEFINE_boolean("save_faces", False, "Also write <name>_face<k>.png for each face: the aligned "
                     "input and the restored face side by side.")
flags.DEFINE_boolean("compare", False, "Also write <name>_compare.png: the photo before and after, "
                     "side by side.")
flags.DEFINE_integer("min_face", MIN_FACE, "Faces whose detected box is narrower than this "
                     "(pixels) are left as they are.", lower_bound=1)

KEYWORDS = {"detector": "mtcnn", "mask": "feather", "background": "none"}


def _loaded(flag, load):
    """load(the flag's path), or the flag's keyword's None; a wrong export names the flag."""
    value = FLAGS[flag].value
    if value == KEYWORDS[flag]:
        return None
    try:
        return load(value)
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"--{flag}={value}: {err}") from None


def _upscaler():
    from gpen_tf import background
    return _loaded("background", lambda path: background.upscaler(path, FLAGS.sr_tile)[0])


def _photo_restorer():
    """The function of one photo that `images.process_files` calls with its paths."""
    import numpy as np

    from common import images
    from gpen_tf import detection, faces, masks, opencv
    restorer = faces.PhotoRestorer(
        FLAGS.model, min_face=FLAGS.min_face, alpha=FLAGS.alpha,
        detector=_loaded("detector", detection.RetinaFace.load) or "mtcnn",
        mask=_loaded("mask", masks.ParseNet.load) or "feather", background=_upscaler())

    def restore(photo, source, output):
        start = time.perf_counter()
        result = restorer(photo)
        name, seconds = os.path.basename(source), time.perf_counter() - start
        size = f"{result.photo.shape[1]} x {result.photo.shape[0]}"
        if not result.faces:
            done = "written upscaled" if result.photo.shape != photo.shape else "written unchanged"
            print(f"{name}: no face found, {done} ({size}, {seconds:.1f} s)", file=sys.stderr)
        else:
            count = f"{len(result.faces)} face{'s' if len(result.faces) > 1 else ''}"
            print(f"{name}: {count} restored ({size}, {seconds:.1f} s)")
        stem = os.path.splitext(output)[0]
        if FLAGS.save_faces:
            for k, (crop, restored) in enumerate(zip(result.crops, result.restored)):
                images.write_image(f"{stem}_face{k:02d}.png", np.concatenate([crop, restored], axis=1))
        if FLAGS.compare:
            before = opencv.resize_linear(photo, result.photo.shape[1], result.photo.shape[0])
            images.write_image(f"{stem}_compare.png", np.concatenate([before, result.photo], axis=1))
        return result.photo

    return restore


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "input", "output")
    cli.output_folder(FLAGS, "output")
    for flag, keyword in KEYWORDS.items():
        cli.keyword_or_path(FLAGS, flag, keyword)
    if FLAGS.aligned:
        for flag in ("detector", "mask"):
            if FLAGS[flag].value != KEYWORDS[flag]:
                raise app.UsageError(f"--{flag} applies to whole photos: --aligned crops are restored "
                                     "whole, without looking for faces")
    from common import formats, images  # TensorFlow, once the flags are known to be good

    def work():
        if FLAGS.aligned:
            serve, upscale = formats.load(FLAGS.model, "GPEN").serving(), _upscaler()
            return images.process_files(FLAGS.input, FLAGS.output,
                                        serve if upscale is None else lambda crop: upscale(serve(crop)))
        return images.process_files(FLAGS.input, FLAGS.output, _photo_restorer(), with_paths=True)

    cli.exit_after(work)


if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(main)
