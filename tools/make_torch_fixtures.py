"""Writes the PyTorch checkpoints that the converter tests read (tests/fixtures/*.pth, *.npz).

Run once, in a throwaway environment with PyTorch (never a dependency of this package):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy pillow
    /tmp/torchenv/bin/python tools/make_torch_fixtures.py tests/fixtures

The pix2pix networks (tools/torch_pix2pix.py) have the official state-dict keys; here they are tiny
(unet_64, 4 filters), with random weights and batch-norm statistics, so that every key matters; the
generator is also saved in the legacy format of the released models. Beside each checkpoint an .npz
holds an input and what the PyTorch network in eval mode makes of it: the outputs the converted model
must reproduce (for the generator also the uint8 image its input was made from, a demo photo of this
package, and its outputs in the paper's test mode: of that photo, and of two 64 px photos, each run
alone as the official test runs them). The reader's own cases are a wrapped state dict of several
dtypes and views, in both formats. GPEN's networks are in tools/torch_gpen.py; beside the generator
and discriminator there is a training checkpoint holding both.
"""

import collections
import os
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn

import torch_gpen
from torch_pix2pix import Unet, patch_discriminator


def photo(name, size):
    """A demo photo of this package (common/demo_data), resized to `size` (width, height), uint8."""
    path = os.path.join(os.path.dirname(__file__), "..", "common", "demo_data", name)
    return np.array(Image.open(path).convert("RGB").resize(size, Image.BICUBIC))


def randomize(net, generator):
    """N(0, 0.2) weights and biases, BN gamma around 1, statistics away from 0 and 1."""
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            values = torch.randn(tensor.shape, generator=generator) * 0.2
            if name.endswith("running_var"):
                values = values.abs() + 0.5
            elif "running" not in name and tensor.dim() == 1 and name.endswith("weight"):
                values += 1.0
            tensor.copy_(values)


def main(folder):
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    unet = Unet(3, 3, downs=6, ngf=4)  # unet_64: one dropout block
    randomize(unet, generator)
    with torch.no_grad():  # keep the tanh out of saturation, where outputs would hide differences
        unet.model.model[3].weight.mul_(0.003)
    unet.eval()
    image = torch.from_numpy(photo("coffee.jpg", (128, 64)))[None]  # a real photo, not square
    x = image.permute(0, 3, 1, 2).float() / 255 * 2 - 1  # the official [-1, 1]
    with torch.no_grad():
        y = unet(x)
    torch.save(unet.state_dict(), os.path.join(folder, "pix2pix_unet64_G.pth"))
    # The same weights as the released 2018 models were saved: PyTorch 0.4's legacy format, and batch
    # norm without num_batches_tracked (added in 0.4.1).
    legacy = collections.OrderedDict((k, v) for k, v in unet.state_dict().items()
                                     if not k.endswith("num_batches_tracked"))
    torch.save(legacy, os.path.join(folder, "pix2pix_unet64_G_legacy.pth"),
               _use_new_zipfile_serialization=False)
    # The paper's test mode (test.py without --eval): batch norm on the batch's own statistics. Dropout
    # is switched off here so that the output is deterministic. Run after saving: it moves the stored
    # statistics.
    unet.train()
    for module in unet.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    with torch.no_grad():
        y_paper = unet(x)
        # The official test runs one image at a time: two photos at the network's size, each alone.
        pair = torch.from_numpy(np.stack([photo(name, (64, 64)) for name in ("chelsea_cat.jpg",
                                                                             "rocket.jpg")]))
        pair_x = pair.permute(0, 3, 1, 2).float() / 255 * 2 - 1
        pair_paper = torch.cat([unet(pair_x[k:k + 1]) for k in range(2)])
    np.savez(os.path.join(folder, "pix2pix_unet64_G.npz"), image=image.numpy(),
             x=x.permute(0, 2, 3, 1).numpy(), y=y.permute(0, 2, 3, 1).numpy(),
             y_paper=y_paper.permute(0, 2, 3, 1).numpy(), pair=pair.numpy(),
             pair_paper=pair_paper.permute(0, 2, 3, 1).numpy())

    disc = patch_discriminator(6, 4, 3)
    randomize(disc, generator)
    disc.eval()
    pair = torch.rand((1, 6, 64, 64), generator=generator) * 2 - 1
    with torch.no_grad():
        logits = disc(pair)
    torch.save(disc.state_dict(), os.path.join(folder, "pix2pix_D.pth"))
    np.savez(os.path.join(folder, "pix2pix_D.npz"), x=pair.permute(0, 2, 3, 1).numpy(),
             y=logits.permute(0, 2, 3, 1).numpy())

    # The reader's cases: a wrapped state dict with DataParallel's prefix, tensors of several dtypes,
    # a transposed (non-contiguous) view and a view at an offset into a shared storage.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {"module.f32": base, "module.t": base.t(), "module.offset": base[1:, 2:4],
               "module.f16": base.half(), "module.bf16": (base / 7).bfloat16(),
               "module.i64": torch.arange(5), "module.flag": torch.tensor([True, False])}
    torch.save({"state_dict": tensors, "epoch": 7}, os.path.join(folder, "wrapped.pth"))
    np.savez(os.path.join(folder, "wrapped.npz"),
             **{k[len("module."):]: v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
                for k, v in tensors.items()})
    torch.save({"state_dict": tensors, "epoch": 7}, os.path.join(folder, "wrapped_legacy.pth"),
               _use_new_zipfile_serialization=False)

    gpen(folder, generator)


def gpen(folder, generator):
    """A 64 px GPEN (narrow 1/32, channel multiplier 1: 16 channels up to 32 px, 8 at 64; a 16-wide
    style of 2 mapping layers) and its discriminator, every parameter random (the zero-initialised
    noise weights and biases too, so that every path counts), and their outputs on two faces."""
    net = torch_gpen.FullGenerator(64, style_dim=16, n_mlp=2, channel_multiplier=1, narrow=1 / 32)
    disc = torch_gpen.Discriminator(64, channel_multiplier=1, narrow=1 / 32)
    for module in (net, disc):
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name.endswith(("bias", "noise.weight")):
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.2
                            + (1.0 if "modulation" in name else 0.0))
                else:
                    p.copy_(torch.randn(p.shape, generator=generator))
    image = torch.from_numpy(np.stack([photo(f"astronaut_face_{k}.jpg", (64, 64)) for k in (1, 2)]))
    x = (image.permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5  # the official is_norm input
    with torch.no_grad():
        y, logits = net(x), disc(x)
    torch.save(net.state_dict(), os.path.join(folder, "gpen_G.pth"))
    torch.save(disc.state_dict(), os.path.join(folder, "gpen_D.pth"))
    # A training checkpoint as the official train_simple.py saves it (g and g_ema share storages here,
    # which torch.save writes once).
    torch.save({"g": net.state_dict(), "d": disc.state_dict(), "g_ema": net.state_dict(),
                "g_optim": torch.optim.Adam(net.parameters()).state_dict(),
                "d_optim": torch.optim.Adam(disc.parameters()).state_dict()},
               os.path.join(folder, "gpen_train.pth"))
    np.savez(os.path.join(folder, "gpen.npz"), image=image.numpy(), y=y.permute(0, 2, 3, 1).numpy(),
             logits=logits.numpy())


if __name__ == "__main__":
    main(sys.argv[1])
