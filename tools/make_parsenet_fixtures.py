"""Writes tests/fixtures/parsenet.npz: GPEN's own ParseNet (face_parse/parse_model.py) on a face.

Run once in a throwaway venv with PyTorch (never a dependency of this package), beside a checkout of
yangxy/GPEN:

    /tmp/tv/bin/python tools/make_parsenet_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

It builds the official ParseNet at reduced sizes (32 px, features from 8 to 32 channels, 2 body
blocks; GPEN's is 512 px, 64 to 256, 10 blocks), fills its state dict by tests/random_state.py from a
seed (the test makes the same arrays, so no weights are shipped), and runs it in eval mode on the
demo's astronaut_face_1.jpg at 32 px, RGB in [-1, 1] as FaceParse.img2tensor makes it. Saved: the
keys and shapes, the input, the outputs `mask` and `image`, and the parameter count of GPEN's size.
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

SMALL = dict(in_size=32, out_size=32, min_feat_size=8, base_ch=8, parsing_ch=19, res_depth=2,
             ch_range=[8, 32])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpen", required=True, help="a checkout of yangxy/GPEN")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(args.gpen, "face_parse"))  # parse_model imports blocks by name
    from parse_model import ParseNet

    net = ParseNet(**SMALL, norm_type="bn", relu_type="LeakyReLU").eval()
    keys = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    shapes = [tuple(net.state_dict()[k].shape) for k in keys]
    net.load_state_dict({k: torch.from_numpy(v) for k, v in random_state(keys, shapes, seed=7).items()},
                        strict=False)
    face = Image.open(os.path.join(REPO, "common", "demo_data", "astronaut_face_1.jpg")).convert("RGB")
    rgb = np.asarray(face.resize((32, 32), Image.BICUBIC), np.float32) / 255.0 * 2 - 1
    with torch.no_grad():
        mask, image = net(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])
    full = ParseNet(512, 512, 32, 64, 19, norm_type="bn", relu_type="LeakyReLU", ch_range=[32, 256])
    count = sum(p.numel() for p in full.parameters())
    np.savez_compressed(os.path.join(args.output, "parsenet.npz"), parsenet_keys=np.array(keys),
                        parsenet_shapes=np.array([",".join(map(str, s)) for s in shapes]), rgb=rgb,
                        mask=mask[0].numpy().transpose(1, 2, 0), image=image[0].numpy().transpose(1, 2, 0),
                        official_count=np.array(count))
    print(f"{len(keys)} tensors; mask {tuple(mask.shape)}; GPEN's ParseNet has {count:,} parameters")


if __name__ == "__main__":
    main()
