"""Writes the RRDBNet (RealESRNet) fixtures of tests/test_gpen_rrdbnet.py with GPEN's own class.

Run once in a throwaway venv with PyTorch (never a dependency of this package), beside a checkout of
yangxy/GPEN, whose `sr_model/rrdbnet_arch.py` it imports:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_sr_fixtures.py --gpen=/path/to/GPEN --output=tests/fixtures

For each scale (1, 2, 4) it builds the official RRDBNet at reduced widths (8 features, 2 blocks, 4
growth channels; the released files have 32, 23 and 32), gives every weight random values, and saves
  rrdbnet_x{s}.pth    {"params_ema": state dict}, as the released realesrnet_x{s}.pth are laid out;
  rrdbnet_x{s}.npz    a 3 x 24 x 20 RGB input in [0, 1] (NCHW as PyTorch takes it) and the output of
                      the official forward on it in eval mode; and `RealESRNet.process` (the official
                      pre- and post-processing: reflect padding to the unshuffle's multiple, tiles,
                      rounding to uint8) of a 37 x 45 crop of the demo's coffee.jpg (odd sides, so that
                      the padding shows): `photo` (RGB uint8), `whole` (no tiles) and, at x2 and x4,
                      `tiled` (16 px tiles with the official 10 px pad);
and prints the parameter count of the released size for each scale (the test's RELEASED_COUNTS).
"""

import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

SMALL = dict(num_feat=8, num_block=2, num_grow_ch=4)
RELEASED = dict(num_feat=32, num_block=23, num_grow_ch=32)  # sr_model/real_esrnet.py


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpen", required=True, help="a checkout of yangxy/GPEN")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(args.gpen, "sr_model"))  # rrdbnet_arch imports arch_util by name
    from real_esrnet import RealESRNet
    from rrdbnet_arch import RRDBNet

    demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common", "demo_data")
    photo = np.asarray(Image.open(os.path.join(demo, "coffee.jpg")).convert("RGB"))[100:137, 150:195]

    os.makedirs(args.output, exist_ok=True)
    for scale in (1, 2, 4):
        torch.manual_seed(scale)
        net = RRDBNet(num_in_ch=3, num_out_ch=3, scale=scale, **SMALL).eval()
        with torch.no_grad():
            for tensor in net.state_dict().values():
                tensor.copy_(torch.randn_like(tensor) * 0.2)
        sample = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(10 + scale))
        with torch.no_grad():
            out = net(sample)
        torch.save({"params_ema": net.state_dict()}, os.path.join(args.output, f"rrdbnet_x{scale}.pth"))
        processed = {}
        # The official RealESRNet with this network in place of the released one (its constructor
        # loads the released size from weights/); `process` takes and returns BGR, as cv2 reads.
        sr = RealESRNet.__new__(RealESRNet)
        sr.scale, sr.tile_pad, sr.device, sr.srmodel = scale, 10, "cpu", net
        for name, tile in (("whole", 0), ("tiled", 16)):
            if name == "tiled" and scale == 1:
                continue  # x1's 4 px unshuffle does not fit 16 px tiles with a 10 px pad
            sr.tile_size = tile
            processed[name] = sr.process(photo[:, :, ::-1].copy())[:, :, ::-1]
        np.savez_compressed(os.path.join(args.output, f"rrdbnet_x{scale}.npz"), input=sample[0].numpy(),
                 output=out[0].numpy(), photo=photo, **processed)
        full = RRDBNet(num_in_ch=3, num_out_ch=3, scale=scale, **RELEASED)
        count = sum(p.numel() for p in full.parameters())
        print(f"x{scale}: output {tuple(out.shape)}, released size {count:,} parameters")


if __name__ == "__main__":
    main()
