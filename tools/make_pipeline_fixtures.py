"""Writes tests/fixtures/pipeline.npz: GPEN's whole-photo pipeline, `FaceEnhancement.process` of
yangxy/GPEN's face_enhancement.py, run by the official code on a real photo, and the OpenCV calls it
makes, for tests/test_gpen_pipeline.py.

Run once in a throwaway venv with PyTorch, torchvision and OpenCV (never dependencies of this
package), beside a checkout of yangxy/GPEN:

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy opencv-python-headless pillow absl-py
    /tmp/tv/bin/python tools/make_pipeline_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

The networks are the official classes at reduced sizes with the test fixtures' weights, so that
nothing is downloaded and the test builds the same ones: the 64 px GPEN of gpen_G.pth
(tools/make_torch_fixtures.py), RealESRNet x2 of rrdbnet_x2.pth (tools/make_sr_fixtures.py, tiles
of 64 px) and ParseNet at 128 px with the seeded state of tools/make_parsenet_fixtures.py. The face
detector is replaced by fixed detections (random detector weights would find nothing useful): the
astronaut's face where MTCNN finds it, and a second, larger "face" around it that overlaps it, so
that the rule for overlapping masks has work and one face is under 100 px (blurred) and one over.

Two runs on the demo's astronaut.jpg: "sr", the photo at 160 px upscaled by RealESRNet to 320 px
(alpha 1); "plain", the photo at 320 px without super-resolution and alpha 0.7. Saved: each input
and output (RGB), the detections, and OpenCV's results on small arrays for the NumPy equivalents
of gpen_tf/opencv.py. And RetinaFaceDetection.detect's preprocessing: the network's input (every
50th pixel) for photos of 1600 x 1200 (over the 1500 px rule) and 900 x 700 (astronaut.jpg
repeated), with a network that only records it.
"""

import argparse
import os
import sys

import cv2
import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from random_state import random_state  # noqa: E402

FACE = 64          # the GPEN of gpen_G.pth
PARSE = 128        # ParseNet's input here (the released one: 512)
# The astronaut's five points in the 320 px photo (MTCNN's, rounded), and a face twice as
# large about the same centre (its box 108 x 138 px, over 100).
POINTS = np.array([[127.0, 62.0], [154.0, 64.0], [140.0, 80.0], [125.0, 86.0], [153.0, 87.0]])
BOX = np.array([113.0, 38.0, 167.0, 107.0])
GROWN = 2.0


def detections():
    """(dets [2, 5], landms [2, 10]) as RetinaFaceDetection.detect returns them."""
    centre = POINTS.mean(0)
    points = [POINTS, centre + (POINTS - centre) * GROWN]
    box_centre = (BOX[:2] + BOX[2:]) / 2
    boxes = [BOX, np.concatenate([box_centre - (BOX[2:] - BOX[:2]) * GROWN / 2,
                                  box_centre + (BOX[2:] - BOX[:2]) * GROWN / 2])]
    dets = np.array([np.append(b, s) for b, s in zip(boxes, (0.99, 0.97))], np.float32)
    landms = np.array([np.concatenate([p[:, 0], p[:, 1]]) for p in points], np.float32)
    return dets, landms


class FixedDetector:
    def detect(self, img):
        return detections()


def official_parts(gpen):
    for folder in ("face_detect", "face_parse", "face_model", "sr_model", ""):
        sys.path.insert(0, os.path.join(gpen, folder))
    from align_faces import get_reference_facial_points
    from face_enhancement import FaceEnhancement
    from face_gan import FaceGAN
    from face_parsing import FaceParse
    from gpen_model import FullGenerator
    from parse_model import ParseNet
    from real_esrnet import RealESRNet
    from rrdbnet_arch import RRDBNet

    fixtures = os.path.join(REPO, "tests", "fixtures")
    gan = FaceGAN.__new__(FaceGAN)
    gan.device, gan.is_norm, gan.in_resolution, gan.out_resolution = "cpu", True, FACE, FACE
    gan.model = FullGenerator(FACE, 16, 2, channel_multiplier=1, narrow=1 / 32).eval()
    gan.model.load_state_dict(torch.load(os.path.join(fixtures, "gpen_G.pth")))

    parser = FaceParse.__new__(FaceParse)
    parser.size, parser.device = PARSE, "cpu"
    parser.MASK_COLORMAP = [0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 255,
                            255, 255, 0]
    net = ParseNet(PARSE, PARSE, 32, 8, 19, res_depth=2, norm_type="bn", relu_type="LeakyReLU",
                   ch_range=[8, 32]).eval()
    keys = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    state = random_state(keys, [tuple(net.state_dict()[k].shape) for k in keys], seed=7)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    parser.faceparse = net

    sr = RealESRNet.__new__(RealESRNet)
    sr.scale, sr.tile_size, sr.tile_pad, sr.device = 2, 64, 10, "cpu"
    sr.srmodel = RRDBNet(num_in_ch=3, num_out_ch=3, scale=2, num_feat=8, num_block=2, num_grow_ch=4).eval()
    sr.srmodel.load_state_dict(torch.load(os.path.join(fixtures, "rrdbnet_x2.pth"))["params_ema"])

    def enhancer(use_sr, alpha):
        fe = FaceEnhancement.__new__(FaceEnhancement)
        fe.facedetector, fe.facegan, fe.srmodel, fe.faceparser = FixedDetector(), gan, sr, parser
        fe.use_sr, fe.in_size, fe.out_size, fe.threshold, fe.alpha = use_sr, FACE, FACE, 0.9, alpha
        fe.kernel = np.array([[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]],
                             np.float32)
        fe.reference_5pts = get_reference_facial_points((FACE, FACE), 0.25, (0, 0), True)
        return fe

    return enhancer


def opencv_cases():
    """OpenCV's results on small arrays, for gpen_tf/opencv.py."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (57, 71, 3)).astype(np.uint8), (3, 3), 0.6)
    values = rng.random((40, 33)).astype(np.float32)
    angle, scale = 0.3, 1.4
    matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 6.5],
                       [scale * np.sin(angle), scale * np.cos(angle), -7.25]])
    return {"cv_image": image, "cv_values": values, "cv_matrix": matrix,
            "cv_warp_image": cv2.warpAffine(image, matrix, (64, 50), flags=3),
            "cv_warp_values": cv2.warpAffine(values, matrix, (64, 50), flags=3),
            "cv_up_image": cv2.resize(image, (142, 114)), "cv_down_image": cv2.resize(image, (30, 40)),
            "cv_down_values": cv2.resize(values, (20, 27)),
            "cv_factor_image": cv2.resize(image.astype(np.float32), (0, 0), fx=0.37, fy=0.37),
            "cv_smooth": cv2.filter2D(image, -1, np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16),
            "cv_weighted": cv2.addWeighted(image, 0.7, image[::-1].copy(), 0.3, 0)}


def tiled(photo, height, width):
    """A height x width photo of `photo` repeated (made the same way by the test, with no resampling)."""
    return np.tile(photo, (-(-height // photo.shape[0]), -(-width // photo.shape[1]), 1))[:height, :width]


def detector_inputs(gpen, photo):
    """RetinaFaceDetection.detect's network input (every 50th pixel) for two photo sizes."""
    sys.path.insert(0, os.path.join(gpen, "face_detect"))
    from data import cfg_re50
    from layers.functions.prior_box import PriorBox
    from retinaface_detection import RetinaFaceDetection

    saved = {}
    for name, (height, width) in (("large", (1200, 1600)), ("small", (700, 900))):
        seen = {}

        def network(image):
            seen["input"] = image[0].numpy().transpose(1, 2, 0)
            count = PriorBox(cfg_re50, image_size=image.shape[2:]).forward().shape[0]
            return (torch.zeros(1, count, 4), torch.zeros(1, count, 2), torch.zeros(1, count, 10))

        detector = RetinaFaceDetection.__new__(RetinaFaceDetection)
        detector.cfg, detector.device, detector.net = cfg_re50, "cpu", network
        detector.detect(tiled(photo, height, width)[..., ::-1].copy())
        saved[f"detector_{name}_shape"] = np.array(seen["input"].shape)
        saved[f"detector_{name}_input"] = seen["input"][::50, ::50]
    return saved


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpen", required=True, help="a checkout of yangxy/GPEN")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    enhancer = official_parts(args.gpen)
    astronaut = Image.open(os.path.join(REPO, "common", "demo_data", "astronaut.jpg")).convert("RGB")
    saved = dict(zip(("dets", "landms"), detections()))
    for name, side, use_sr, alpha in (("sr", 160, True, 1.0), ("plain", 320, False, 0.7)):
        photo = np.asarray(astronaut.resize((side, side), Image.LANCZOS))
        restored, crops, faces = enhancer(use_sr, alpha).process(photo[..., ::-1].copy())  # BGR, as cv2 reads
        saved[f"{name}_photo"], saved[f"{name}_restored"] = photo, restored[..., ::-1]
        changed = np.any(restored[..., ::-1] != (cv2.resize(photo, restored.shape[1::-1]) if use_sr else photo), -1)
        print(f"{name}: {photo.shape} -> {restored.shape}, {len(faces)} faces, {changed.mean():.1%} of pixels changed")
    saved.update(opencv_cases())
    saved.update(detector_inputs(args.gpen, np.asarray(astronaut)))
    np.savez_compressed(os.path.join(args.output, "pipeline.npz"), **saved)


if __name__ == "__main__":
    main()
