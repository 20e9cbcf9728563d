"""Writes tests/fixtures/retinaface_boxes.npz: GPEN's RetinaFace post-processing on fixed raw outputs.

Run once in a throwaway venv with PyTorch and OpenCV (never dependencies of this package), beside a
checkout of yangxy/GPEN:

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy opencv-python-headless
    /tmp/torchenv/bin/python tools/make_retinaface_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

It runs the official `RetinaFaceDetection.detect` (face_detect/retinaface_detection.py: the 1500 px
rule, PriorBox, decode, decode_landm, the score threshold, py_cpu_nms, the final division by the
scale) with the network replaced by one that returns fixed raw outputs, so that no weights are needed:
every score 0.02 but at 40 random anchors and the 3 anchors after each (neighbours, so that their
boxes overlap and NMS has work), scored 0.85-1.0, with random box and landmark offsets there. The
network's module (facemodels/retinaface.py) needs torchvision and is not imported. Two photos: 120 x
160 (detected as it is) and 1200 x 1600 (detected at 750 x 1000). For each it saves the raw outputs,
the size the network saw, and `dets` and `landms` as detect returns them.
"""

import argparse
import os
import sys
import types

import numpy as np
import torch

SIZES = {"small": (120, 160), "large": (1200, 1600)}


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
    sys.modules["facemodels.retinaface"] = types.SimpleNamespace(RetinaFace=None)  # needs torchvision
    from data import cfg_re50
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


if __name__ == "__main__":
    main()
