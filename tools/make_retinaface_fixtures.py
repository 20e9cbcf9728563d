"""Writes the RetinaFace fixtures of tests/test_gpen_retinaface*.py with GPEN's own code.

Run once in a throwaway venv with PyTorch, torchvision and OpenCV (never dependencies of this
package), beside a checkout of yangxy/GPEN:

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy opencv-python-headless pillow
    /tmp/tv/bin/python tools/make_retinaface_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

retinaface_boxes.npz: it runs the official `RetinaFaceDetection.detect` (face_detect/retinaface_detection.py: the 1500 px
rule, PriorBox, decode, decode_landm, the score threshold, py_cpu_nms, the final division by the
scale) with the network replaced by one that returns fixed raw outputs, so that no weights are needed:
every score 0.02 but at 40 random anchors and the 3 anchors after each (neighbours, so that their
boxes overlap and NMS has work), scored 0.85-1.0, with random box and landmark offsets there. The
Two photos: 120 x 160 (detected as it is) and 1200 x 1600 (detected at 750 x 1000). For each it saves
the raw outputs, the size the network saw, and `dets` and `landms` as detect returns them.

retinaface_net.npz: the official RetinaFace (phase "test") with each backbone, ResNet-50 (cfg_re50)
and MobileNet-0.25 (cfg_mnet), its state dict filled by tests/random_state.py from a seed (so that no
weights are shipped: the test makes the same arrays), run on a 70 x 90 crop of the demo's coffee.jpg
as detect() feeds it (BGR minus the mean); saved: the keys and shapes of the state dict, the input
and the outputs loc, conf, landms, and the parameter count.
"""

import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from random_state import random_state  # noqa: E402

SIZES = {"small": (120, 160), "large": (1200, 1600)}
# Random weights make ResNet-50's features grow to ~1e6: its class head is scaled down so that the
# softmax is not saturated and the comparison of `conf` means something.
CLASS_SCALES = {"resnet50": {"ClassHead": 1e-6}, "mobilenet0.25": {}}


def raw_outputs(height, width, rng, priors):
    """Sparse raw outputs for `priors` anchors (zeros compress: the fixture stays small)."""
    loc = np.zeros((priors, 4), np.float32)
    conf = np.zeros((priors, 2), np.float32)
    landms = np.zeros((priors, 10), np.float32)
    conf[:, 1] = 0.02
    chosen = np.unique(np.concatenate([k + np.arange(4) for k in rng.choice(priors - 4, 40, replace=False)]))
    conf[chosen, 1] = rng.uniform(0.85, 1.0, len(chosen)).astype(np.float32)
    loc[chosen] = rng.normal(0, 0.5, (len(chosen), 4)).astype(np.float32)
    landms[chosen] = rng.normal(0, 0.5, (len(chosen), 10)).astype(np.float32)
    conf[:, 0] = 1 - conf[:, 1]
    return loc, conf, landms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpen", required=True, help="a checkout of yangxy/GPEN")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(args.gpen, "face_detect"))
    from data import cfg_mnet, cfg_re50
    from facemodels.retinaface import RetinaFace
    from layers.functions.prior_box import PriorBox
    from retinaface_detection import RetinaFaceDetection

    os.makedirs(args.output, exist_ok=True)
    saved = {}
    for name, (height, width) in SIZES.items():
        rng = np.random.default_rng(len(name))
        seen = {}

        def network(image):
            h, w = image.shape[2:]
            seen["size"] = (h, w)
            count = PriorBox(cfg_re50, image_size=(h, w)).forward().shape[0]
            seen["raw"] = raw_outputs(h, w, rng, count)
            return tuple(torch.from_numpy(a)[None] for a in seen["raw"])

        detector = RetinaFaceDetection.__new__(RetinaFaceDetection)
        detector.cfg, detector.device, detector.net = cfg_re50, "cpu", network
        dets, landms = detector.detect(np.zeros((height, width, 3), np.uint8))
        for key, value in (("loc", seen["raw"][0]), ("conf", seen["raw"][1]), ("landms", seen["raw"][2]),
                           ("detected_size", np.array(seen["size"])), ("dets", dets),
                           ("landmarks", landms), ("photo_size", np.array([height, width]))):
            saved[f"{name}_{key}"] = value
        print(f"{name}: {height} x {width} detected at {seen['size']}, {len(dets)} faces kept of "
              f"{int((seen['raw'][1][:, 1] > 0.9).sum())} above 0.9")
    np.savez_compressed(os.path.join(args.output, "retinaface_boxes.npz"), **saved)

    photo = np.asarray(Image.open(os.path.join(REPO, "common", "demo_data", "coffee.jpg")).convert("RGB"))
    bgr = photo[60:130, 100:190, ::-1].astype(np.float32) - np.float32([104, 117, 123])
    nets = {"bgr": bgr}
    for name, cfg in (("resnet50", cfg_re50), ("mobilenet0.25", cfg_mnet)):
        net = RetinaFace(cfg=dict(cfg, pretrain=False), phase="test").eval()
        keys = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
        shapes = [tuple(net.state_dict()[k].shape) for k in keys]
        state = random_state(keys, shapes, seed=len(name), scales=CLASS_SCALES[name])
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        with torch.no_grad():
            loc, conf, landms = net(torch.from_numpy(bgr.transpose(2, 0, 1).copy())[None])
        nets.update({f"{name}_keys": np.array(keys), f"{name}_shapes": np.array([",".join(map(str, shape)) for shape in shapes]),
                     f"{name}_loc": loc[0].numpy(), f"{name}_conf": conf[0].numpy(),
                     f"{name}_landms": landms[0].numpy(),
                     f"{name}_count": np.array(sum(p.numel() for p in net.parameters()))})
        print(f"{name}: {len(keys)} tensors, {int(nets[name + '_count']):,} parameters, {loc.shape[1]} priors")
    np.savez_compressed(os.path.join(args.output, "retinaface_net.npz"), **nets)


if __name__ == "__main__":
    main()
