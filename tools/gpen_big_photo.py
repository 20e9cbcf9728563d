"""Time and peak memory of GPEN's whole-photo pipeline on one large photo with background
super-resolution (a benchmark, not a test).

    python tools/gpen_big_photo.py                        # 4000 x 3000 (12 MP), x2, tiles of 400
    python tools/gpen_big_photo.py --size=2000x1500 --sr_tile=0

The released networks at their full sizes, with random weights (their cost does not depend on the
weights): GPEN-BFR-512, ParseNet (512 px), RealESRNet x2 (23 RRDB blocks) and RetinaFace-R50, each
exported as gpen_tf.convert writes it and loaded from that export as gpen_tf.restore loads it. The
photo is smooth, with --faces astronauts pasted in. Random detector weights find noise, so the faces
are given to the pipeline where they were pasted, and RetinaFace's forward on the photo at 1000 px
(the 1500 px rule) is timed apart. Printed: the seconds of each stage, of the PNG write, and the
process's peak resident memory.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import export, images  # noqa: E402  (sets TensorFlow's CPU options first)

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from skimage import data as skdata  # noqa: E402

from gpen_tf import (background, detection, faces, networks, opencv, parsenet, retinaface,  # noqa: E402
                     rrdbnet, serving)

flags.DEFINE_string("size", "4000x3000", "Width x height of the photo.")
flags.DEFINE_integer("faces", 5, "Astronauts pasted into the photo, each 400 px.")
flags.DEFINE_integer("sr_tile", 400, "RealESRNet's tile size (0: the whole photo at once).")
flags.DEFINE_string("write_exports", None, "Only write the four exports into this folder (the benchmark "
                    "does so in a child process, so that building them does not count in its peak memory).")
FLAGS = flags.FLAGS
FACE = 400  # pixels of each pasted astronaut photo (its face box about 65 px wide)


NAMES = ("gpen", "parsenet", "sr", "retinaface")


def write_exports(folder):
    paths = {name: os.path.join(folder, name) for name in NAMES}
    serving.export_restorer(networks.generator(512), os.path.join(paths["gpen"], "saved_model"),
                            metadata=export.describe("GPEN", {"size": 512}))
    parsenet.write(parsenet.build_parsenet(**parsenet.OFFICIAL), parsenet.OFFICIAL, paths["parsenet"])
    config = dict(scale=2, **rrdbnet.OFFICIAL)
    background.write(rrdbnet.build_rrdbnet(**config), config, paths["sr"])
    retinaface.write(retinaface.build_retinaface("resnet50"), {"backbone": "resnet50"}, paths["retinaface"])



def photo_with_faces(width, height, count):
    """(the photo, the Face of each pasted astronaut, in the photo's coordinates)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    photo = np.stack([np.uint8(127 + 60 * np.sin(x / 300.0)), np.uint8(127 + 60 * np.cos(y / 200.0)),
                      np.uint8(127 + 40 * np.sin((x + y) / 500.0))], axis=-1)
    astronaut = skdata.astronaut()
    found = detection.MTCNN()(astronaut)[0]
    small = opencv.resize_linear(astronaut, FACE, FACE)
    scale = FACE / astronaut.shape[0]
    placed = []
    for k in range(count):
        left, top = (k + 1) * width // (count + 1) - FACE // 2, height // 2 - FACE // 2
        photo[top:top + FACE, left:left + FACE] = small
        box = tuple(np.array(found.box) * scale + [left, top, 0, 0])
        placed.append(detection.Face(box, found.landmarks * scale + [left, top], found.score))
    return photo, placed


def main(argv):
    del argv
    if FLAGS.write_exports:
        return write_exports(FLAGS.write_exports)
    width, height = (int(v) for v in FLAGS.size.split("x"))
    flags_line = " ".join(f for f in ("avx512_bf16", "avx512f", "avx2") if f in open("/proc/cpuinfo").read().split())
    print(f"{width} x {height} photo, {FLAGS.faces} faces, x2 background, tiles {FLAGS.sr_tile}; "
          f"{os.cpu_count()} cores ({flags_line})")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, os.path.abspath(__file__), f"--write_exports={folder}"], check=True)
        paths = {name: os.path.join(folder, name) for name in NAMES}
        photo, placed = photo_with_faces(width, height, FLAGS.faces)
        upscaled = [detection.Face(tuple(np.array(f.box) * 2), f.landmarks * 2, f.score) for f in placed]
        seconds = {}

        def timed(name, fn):
            def call(*args):
                start = time.perf_counter()
                out = fn(*args)
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                return out
            return call

        detector = detection.RetinaFace.load(paths["retinaface"])
        image, _ = detector.preprocess(photo)
        timed("RetinaFace forward at 1000 px", detector.network)(image[None])
        restorer = faces.PhotoRestorer(paths["gpen"], mask=paths["parsenet"], detector=lambda _: upscaled,
                                       background=paths["sr"], sr_tile=FLAGS.sr_tile)
        restorer.upscale = timed("RealESRNet x2", restorer.upscale)
        restorer.restore_faces = timed("GPEN", restorer.restore_faces)
        restorer.mask = timed("ParseNet masks", restorer.mask)
        result = timed("whole pipeline", restorer)(photo)
        timed("PNG write", images.write_image)(os.path.join(folder, "restored.png"), result.photo)
    for name, value in seconds.items():
        print(f"{name}: {value:.1f} s")
    print(f"result {result.photo.shape[1]} x {result.photo.shape[0]}, {len(result.faces)} faces; "
          f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    app.run(main)
