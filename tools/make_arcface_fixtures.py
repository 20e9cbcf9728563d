"""Writes tests/fixtures/arcface.npz: GPEN's IR-SE50 (training/loss/model_irse.py, the network of its
model_ir_se50.pth) and IDLoss.extract_feats on two faces, for tests/test_arcface.py.

Run once in a throwaway venv with PyTorch (never a dependency of this package), beside a checkout of
yangxy/GPEN:

    /tmp/tv/bin/python tools/make_arcface_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

The official `Backbone(112, 50, drop_ratio=0.6, mode="ir_se")`, as IDLoss builds it, at its full size,
its state dict filled by tests/random_state.py from a seed (each residual branch's last batch norm
scaled by 0.3; no weights shipped: the test makes the same
arrays), in eval mode. Saved: the keys and shapes, the parameter count, two demo faces at 256 px
(uint8) and their embeddings as IDLoss.extract_feats gives them (values in [-1, 1], the crop
[35:-33, 32:-36], AdaptiveAvgPool2d to 112).
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

SEED = 31
# Fifty random layers are chaotic (a change of 1e-6 in the input moved the embedding by 0.09): each
# residual branch's last batch norm is scaled down, on both sides, which makes them well conditioned.
TAME = {"res_layer.4.weight": 0.3}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpen", required=True, help="a checkout of yangxy/GPEN")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(args.gpen, "training", "loss"))
    from model_irse import Backbone

    torch.set_grad_enabled(False)
    net = Backbone(input_size=112, num_layers=50, drop_ratio=0.6, mode="ir_se").eval()
    keys = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    shapes = [tuple(net.state_dict()[k].shape) for k in keys]
    net.load_state_dict({k: torch.from_numpy(v) for k, v in random_state(keys, shapes, SEED, suffix_scales=TAME).items()}, strict=False)
    faces = np.stack([np.asarray(Image.open(os.path.join(REPO, "common", "demo_data", f"astronaut_face_{k}.jpg"))
                                 .convert("RGB").resize((256, 256), Image.BICUBIC)) for k in (1, 2)])
    x = torch.from_numpy(faces.transpose(0, 3, 1, 2).copy()).float() / 255 * 2 - 1
    x = torch.nn.AdaptiveAvgPool2d((112, 112))(x[:, :, 35:-33, 32:-36])  # IDLoss.extract_feats at 256 px
    embeddings = net(x).numpy()
    count = sum(p.numel() for p in net.parameters())
    np.savez_compressed(os.path.join(args.output, "arcface.npz"), arcface_keys=np.array(keys),
                        arcface_shapes=np.array([",".join(map(str, s)) for s in shapes]), faces=faces,
                        embeddings=embeddings, count=np.array(count))
    print(f"{len(keys)} tensors, {count:,} parameters; cosine of the two faces {float(embeddings[0] @ embeddings[1]):.4f}")


if __name__ == "__main__":
    main()
