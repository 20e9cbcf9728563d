"""Peak memory and time of `pix2pix_tf.translate` on one large photo (a benchmark).

    python tools/pix2pix_big_photo.py                          # 8000 x 6000, tiles of 1024
    python tools/pix2pix_big_photo.py --size=4000x3000 --tiles=512,1024,2048

An eval-mode unet_256 (the paper's generator, random weights) is exported once; a smooth photo of
--size is written as JPEG; then translate runs in a child process for each tile size, with TensorFlow's
oneDNN allocator as translate sets it (the system allocator) and, with --pooled, as TensorFlow leaves it.
Each line gives the wall time and the child's peak resident memory (its maximum RSS).
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import export, images  # noqa: E402  (sets TensorFlow's CPU options first)

import flops  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("size", "8000x6000", "Width x height of the photo.")
flags.DEFINE_list("tiles", ["1024"], "Tile sizes to run (multiples of 256).")
flags.DEFINE_bool("pooled", False, "Also run with TensorFlow's pooling oneDNN allocator.")
FLAGS = flags.FLAGS


def smooth_photo(width, height):
    """A photo with gradients and edges at every scale, so that the JPEG stays small."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [np.sin(x / 97.0) * np.cos(y / 61.0), np.sin((x + y) / 400.0), np.cos(x / 13.0) > 0]
    return np.stack([np.uint8(127.5 + 127 * np.clip(c, -1, 1)) for c in channels], axis=-1)


def run_translate(model, folder, tile, pooled):
    env = dict(os.environ)
    env.pop("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", None)
    if pooled:
        env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = "false"
    out = os.path.join(folder, f"out_{tile}_{int(pooled)}")
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "pix2pix_tf.translate", f"--model={model}",
                              f"--input={folder}/in", f"--output={out}", f"--tile={tile}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(child.stderr.read().decode()[-2000:])
    return seconds, usage.ru_maxrss / 2 ** 20  # ru_maxrss is in KiB on Linux


def main(_):
    from pix2pix_tf import Pix2Pix, serving
    width, height = (int(v) for v in FLAGS.size.lower().split("x"))
    print(flops.describe_machine(flops.matmul_peak()))
    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, "saved_model")
        generator = Pix2Pix(generator="unet_256").generator
        serving.export_translator(generator, model, value_range=(-1, 1), multiple=256,
                                  metadata=export.describe("Pix2Pix"))
        os.makedirs(f"{folder}/in")
        images.write_image(f"{folder}/in/photo.jpg", smooth_photo(width, height))
        for tile in FLAGS.tiles:
            for pooled in (False, True) if FLAGS.pooled else (False,):
                seconds, gib = run_translate(model, folder, int(tile), pooled)
                allocator = "pooled" if pooled else "system"
                print(f"{width}x{height} tile {tile} ({allocator} allocator): {seconds:.0f} s, "
                      f"peak {gib:.2f} GiB", flush=True)


if __name__ == "__main__":
    app.run(main)
