"""Writes tests/fixtures/lpips.npz: the lpips package's LPIPS v0.1 (AlexNet and VGG-16) on small image
pairs, for tests/test_lpips.py.

Run once in a throwaway venv with PyTorch, torchvision and lpips (never dependencies of this package):

    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 lpips==0.1.4 pillow absl-py
    /tmp/tv/bin/python tools/make_lpips_fixtures.py --output=tests/fixtures

`lpips.LPIPS(net=..., version="0.1")` with its own linear heads (the v0.1 files in its wheel) and, as
nothing can be downloaded, the torchvision backbone filled by tests/random_state.py from a seed under
torchvision's key names (`features.0.weight`, ...), which the test makes again. Saved per network:
those keys and shapes, the classifier's keys and shapes (in torchvision's file, left out by the
converter), the heads' weights, and LPIPS of four pairs of 64 x 64 crops of the demo photos (RGB in
[0, 1], `normalize=True`), with each layer's share.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from random_state import random_state  # noqa: E402

SEEDS = {"alex": 21, "vgg": 22}


def pairs():
    """Four pairs of 64 x 64 crops in [0, 1]: near, shifted, other photos, and a photo with its noisy copy."""
    photos = {n: np.asarray(Image.open(os.path.join(REPO, "common", "demo_data", f"{n}.jpg")).convert("RGB"))
              for n in ("astronaut", "coffee", "chelsea_cat")}
    a = photos["astronaut"][100:164, 150:214]
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255)
    first = [a, a, photos["coffee"][50:114, 60:124], a]
    second = [photos["astronaut"][102:166, 151:215], photos["astronaut"][120:184, 170:234],
              photos["chelsea_cat"][80:144, 100:164], noisy]
    return (np.stack(first).astype(np.float32) / 255, np.stack(second).astype(np.float32) / 255)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    import lpips

    x0, x1 = pairs()
    saved = {"x0": x0, "x1": x1}
    for net, build in (("alex", torchvision.models.alexnet), ("vgg", torchvision.models.vgg16)):
        full = build().state_dict()
        keys = [k for k in full if k.startswith("features.")]
        shapes = [tuple(full[k].shape) for k in keys]
        seeded = random_state(keys, shapes, SEEDS[net])
        metric = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False).eval()
        state = metric.state_dict()
        for key in state:
            if key.startswith("net.slice"):
                index_and_name = key.split(".", 2)[2]  # "net.slice2.3.weight" -> "3.weight"
                state[key] = torch.from_numpy(seeded[f"features.{index_and_name}"])
        metric.load_state_dict(state)
        value, layers = metric(torch.from_numpy(x0.transpose(0, 3, 1, 2).copy()),
                               torch.from_numpy(x1.transpose(0, 3, 1, 2).copy()), retPerLayer=True, normalize=True)
        saved.update({f"{net}_keys": np.array(keys), f"{net}_shapes": np.array([",".join(map(str, s)) for s in shapes]),
                      f"{net}_classifier": np.array([f"{k}:{','.join(map(str, v.shape))}" for k, v in full.items()
                                                     if k.startswith("classifier.")]),
                      f"{net}_lpips": value.flatten().numpy(),
                      f"{net}_layers": np.stack([r.flatten().numpy() for r in layers], axis=1)})
        for k in range(5):
            saved[f"{net}_lin{k}"] = state[f"lin{k}.model.1.weight"].numpy()
        print(net, value.flatten().numpy())
    np.savez_compressed(os.path.join(args.output, "lpips.npz"), **saved)


if __name__ == "__main__":
    main()
