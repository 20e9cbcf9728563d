"""Writes tests/fixtures/fid.npz: pytorch-fid's Inception and FID on small inputs, for tests/test_fid.py.

Run once in a throwaway venv with PyTorch, torchvision and pytorch-fid (never dependencies of this
package):

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 pytorch-fid==0.3.0 scipy pillow absl-py
    /tmp/tv/bin/python tools/make_fid_fixtures.py --output=tests/fixtures

The network is pytorch-fid's own (`fid_inception_v3`'s torchvision Inception-v3 with its FID blocks,
wrapped in its `InceptionV3` with all four feature blocks), at its full size, filled by
tests/random_state.py from a seed instead of the released weights (no download; the test makes the
same arrays). Saved: the state dict's keys and shapes (what the converter must read from
pt_inception-2015-12-05-6726825d.pth), two demo photos at 64 x 48 in [0, 1] and the network's four
feature blocks on them (spatial means, as pytorch-fid takes them), and `calculate_fid_given_paths`
on two folders of 80 crops of the demo photos (24 x 24 PNGs, also saved) at --dims 64.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from random_state import random_state  # noqa: E402

SEED = 11
CROPS, CROP = 80, 24


def seeded_inception():
    from pytorch_fid import inception as fid
    net = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    keys = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    shapes = [tuple(net.state_dict()[k].shape) for k in keys]
    net.load_state_dict({k: torch.from_numpy(v) for k, v in random_state(keys, shapes, SEED).items()},
                        strict=False)
    fid.fid_inception_v3 = lambda: net  # what pytorch-fid's InceptionV3 builds itself from
    return fid, keys, shapes


def photo(name, size):
    image = Image.open(os.path.join(REPO, "common", "demo_data", name)).convert("RGB")
    return np.asarray(image.resize(size, Image.BICUBIC))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    fid, keys, shapes = seeded_inception()
    from pytorch_fid.fid_score import calculate_fid_given_paths

    model = fid.InceptionV3([0, 1, 2, 3]).eval()
    images = np.stack([photo(n, (64, 48)) for n in ("astronaut.jpg", "coffee.jpg")]).astype(np.float32) / 255
    blocks = model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    saved = {"inception_keys": np.array(keys), "inception_shapes": np.array([",".join(map(str, s)) for s in shapes]),
             "images": images}
    for k, block in enumerate(blocks):
        saved[f"block{k}"] = block.mean(dim=(2, 3)).numpy()

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for side, names in (("a", ("astronaut.jpg", "rocket.jpg")), ("b", ("coffee.jpg", "chelsea_cat.jpg"))):
            sources = [np.asarray(Image.open(os.path.join(REPO, "common", "demo_data", n)).convert("RGB")) for n in names]
            crops = []
            for i in range(CROPS):
                source = sources[i % 2]
                top, left = rng.integers(0, source.shape[0] - CROP), rng.integers(0, source.shape[1] - CROP)
                crops.append(source[top:top + CROP, left:left + CROP])
            saved[f"crops_{side}"] = np.stack(crops)
            os.makedirs(os.path.join(folder, side))
            for i, crop in enumerate(crops):
                Image.fromarray(crop).save(os.path.join(folder, side, f"{i:03d}.png"))
        saved["fid_64"] = np.array(calculate_fid_given_paths([os.path.join(folder, "a"), os.path.join(folder, "b")],
                                                             batch_size=20, device="cpu", dims=64, num_workers=0))
    np.savez_compressed(os.path.join(args.output, "fid.npz"), **saved)
    count = sum(int(np.prod(s)) for k, s in zip(keys, shapes) if not k.startswith("fc.") and "running" not in k)
    print(f"{len(keys)} tensors, {count:,} parameters without fc; FID at 64 dims {float(saved['fid_64']):.6f}")


if __name__ == "__main__":
    main()
