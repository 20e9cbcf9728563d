"""Latency of each export format beside the SavedModel's, at the models' real sizes (a benchmark).

    python tools/formats_benchmark.py                      # every model
    python tools/formats_benchmark.py --models=dpe,gpen --steps=5

Each model is built at its paper's size with random weights, exported (SavedModel), converted to
model.tflite and model.onnx (common/formats.py), and each file is called through `formats.load` on the
same input: median milliseconds over --steps calls after one untimed call; "tflite fixed" is a
LiteRT file converted for that input's size (`--fixed_size` of common.deploy; not for DCGAN's batch of
latents). Needs the deploy extra.
Prints the CPU's flags, as the figures depend on them (AVX-512, native bfloat16).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This package first: importing it sets TensorFlow's CPU options, read when TensorFlow loads.
from common import export, formats, runtime  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

MODELS = ["pix2pix", "dcgan", "dpe", "pienet", "gpen"]
flags.DEFINE_list("models", MODELS, "Which models.")
flags.DEFINE_integer("steps", 5, "Timed calls per figure.")
FLAGS = flags.FLAGS


def photo(h, w):
    return np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)


def pix2pix(path):
    """unet_256 on a 256 x 256 image (the paper's facades model)."""
    from pix2pix_tf import Pix2Pix, serving
    model = Pix2Pix(generator="unet_256")
    serving.export_translator(model.generator, path, value_range=(-1, 1), multiple=model.multiple,
                              metadata=export.describe("Pix2Pix"))
    return "Pix2Pix", {"256x256": {"images": photo(256, 256)}}


def dcgan(path):
    """The 64 x 64 generator sampling 64 latents at once."""
    from dcgan_tf import DCGAN
    from dcgan_tf.model import export_sampler, latents
    export_sampler(DCGAN().generator, path, metadata=export.describe("DCGAN"))
    return "DCGAN", {"64 latents": {"latents": latents(64)}}


def dpe(path):
    """The 512 generator on a 512 x 512 photo and a 1024 x 768 one (global feature of a downsized
    copy; the SavedModel tiles it, the other formats run it whole)."""
    from dpe_tf import networks, serving
    serving.export_enhancer(networks.generator(512), path, metadata=export.describe("DPE"))
    return "DPE", {"512x512": {"images": photo(512, 512)}, "768x1024": {"images": photo(768, 1024)}}


def pienet(path):
    """The enhancer at 256 x 256 with a stored preference (ResNet18 embedding at 224)."""
    from pienet_tf import networks, serving
    vectors = np.eye(2, networks.EMBEDDING_DIM, dtype=np.float32)
    serving.export_pienet(networks.embedding(), networks.enhancer(), ["a", "b"], vectors, path,
                          embed_size=224, metadata=export.describe("PieNet"))
    return "PieNet", {"256x256": {"images": photo(256, 256), "preference": vectors[:1]}}


def gpen(path):
    """GPEN-BFR-256 (channel multiplier 1, narrow 0.5) on one 256 x 256 face."""
    from gpen_tf import networks, serving
    generator = networks.generator(256, channel_multiplier=1, narrow=0.5)
    serving.export_restorer(generator, path, metadata=export.describe("GPEN"))
    return "GPEN", {"256x256 face": {"images": photo(256, 256)}}


def milliseconds(fn, inputs):
    fn(**inputs)
    times = []
    for _ in range(FLAGS.steps):
        start = time.perf_counter()
        fn(**inputs)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # absl's INFO would print every conversion step
    flags_seen = runtime.cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma"}
    print(f"tf={tf.__version__} cores={os.cpu_count()} cpu flags: {' '.join(sorted(flags_seen))}")
    print(f"{'model':<9}{'input':<14}{'saved_model ms':>16}{'tflite ms':>12}{'tflite fixed ms':>17}"
          f"{'onnx ms':>10}{'convert s':>11}{'tflite MB':>11}{'onnx MB':>9}")
    for name in FLAGS.models:
        with tempfile.TemporaryDirectory() as folder:
            saved_model = os.path.join(folder, "saved_model")
            model, cases = globals()[name](saved_model)
            start = time.perf_counter()
            formats.write(saved_model, ("tflite", "onnx"))
            convert = time.perf_counter() - start
            sizes = [os.path.getsize(os.path.join(folder, formats.FILES[f])) / 2 ** 20
                     for f in ("tflite", "onnx")]
            served = {f: formats.load(p, model) for f, p in (
                ("saved_model", saved_model), ("tflite", os.path.join(folder, "model.tflite")),
                ("onnx", os.path.join(folder, "model.onnx")))}
            for case, inputs in cases.items():
                ms = [milliseconds(served[f].signatures["serving_default"], inputs)
                      for f in ("saved_model", "tflite", "onnx")]
                fixed = "-"
                if "images" in inputs:
                    folder_fixed = os.path.join(folder, case.split()[0])
                    formats.write(saved_model, ("tflite",), folder_fixed, inputs["images"].shape[1:3])
                    lite = formats.load(os.path.join(folder_fixed, "model.tflite"), model)
                    fixed = f"{milliseconds(lite.signatures['serving_default'], inputs):.1f}"
                print(f"{name:<9}{case:<14}{ms[0]:>16.1f}{ms[1]:>12.1f}{fixed:>17}{ms[2]:>10.1f}"
                      f"{convert:>11.1f}{sizes[0]:>11.1f}{sizes[1]:>9.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
