"""The PyTorch side of tools/speed_vs_torch.py: the same networks and steps as the official code, timed.

Runs only in a throwaway environment with torch (never a dependency of this package); the driver
starts it as a worker (tools/speed_protocol.py). In float32, on the GPU when there is one, as the
official code runs:

- pix2pix: junyanz/pytorch-CycleGAN-and-pix2pix `Pix2PixModel.optimize_parameters` (unet_256 with
  batch norm and dropout, 70x70 PatchGAN, BCE-with-logits GAN loss + 100 L1, Adam 2e-4 / 0.5);
- DCGAN: pytorch/examples `dcgan/main.py`'s networks and loop (BCELoss on a sigmoid, D on real, then on
  the detached fake, then G through D);
- DPE: the global U-Net of the official TF code (nothinglo), written here in PyTorch after
  dpe_tf/networks.py (official SELU constants, symmetric padding, BN after SELU), one supervised
  step (MSE, Adam) or one forward;
- GPEN: tools/torch_gpen.py (the official FullGenerator with the plain-PyTorch ops it falls back to
  without its CUDA extensions), one forward.
"""

import argparse
import math

import torch
from torch import nn
from torch.nn import functional as F

import speed_protocol
import torch_gpen
from torch_pix2pix import Unet, patch_discriminator

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def adam(net, lr, beta1):
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(beta1, 0.999))


def parameters(*nets):
    return sum(p.numel() for net in nets for p in net.parameters())


def done():
    """Returns once queued GPU work has finished (CPU work is synchronous)."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def pix2pix_train(image_size, batch_size):
    G = Unet(3, 3, downs=int(math.log2(image_size)), ngf=64).to(DEVICE).train()
    D = patch_discriminator(6, 64, 3).to(DEVICE).train()
    opt_g, opt_d = adam(G, 2e-4, 0.5), adam(D, 2e-4, 0.5)
    gan, l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    a, b = (torch.rand(batch_size, 3, image_size, image_size, device=DEVICE) * 2 - 1 for _ in range(2))

    def step():
        fake = G(a)
        for p in D.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad()
        pred_fake = D(torch.cat([a, fake.detach()], 1))
        pred_real = D(torch.cat([a, b], 1))
        loss_d = (gan(pred_fake, torch.zeros_like(pred_fake))
                  + gan(pred_real, torch.ones_like(pred_real))) * 0.5
        loss_d.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad()
        pred_fake = D(torch.cat([a, fake], 1))
        loss_g = gan(pred_fake, torch.ones_like(pred_fake)) + l1(fake, b) * 100
        loss_g.backward()
        opt_g.step()
        done()

    return step, parameters(G, D)


def dcgan_networks(image_size, nz=100, ngf=64, ndf=64, nc=3):
    """pytorch/examples' Generator and Discriminator, with one stride-2 block per factor of two."""
    blocks = int(math.log2(image_size)) - 2
    width = ngf * 2 ** (blocks - 1)
    g = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(blocks - 1):
        g += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
              nn.ReLU(True)]
        width //= 2
    g += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
    d = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    width = ndf
    for _ in range(blocks - 1):
        d += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
              nn.LeakyReLU(0.2, True)]
        width *= 2
    d += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*g), nn.Sequential(*d)


def dcgan_train(image_size, batch_size, nz=100):
    G, D = (net.to(DEVICE).train() for net in dcgan_networks(image_size, nz))
    opt_g, opt_d = adam(G, 2e-4, 0.5), adam(D, 2e-4, 0.5)
    bce = nn.BCELoss()
    real = torch.rand(batch_size, 3, image_size, image_size, device=DEVICE) * 2 - 1
    ones = torch.ones(batch_size, device=DEVICE)
    zeros = torch.zeros(batch_size, device=DEVICE)

    def step():
        D.zero_grad()
        err_real = bce(D(real).view(-1), ones)
        err_real.backward()
        fake = G(torch.randn(batch_size, nz, 1, 1, device=DEVICE))
        err_fake = bce(D(fake.detach()).view(-1), zeros)
        err_fake.backward()
        opt_d.step()
        G.zero_grad()
        err_g = bce(D(fake).view(-1), ones)
        err_g.backward()
        opt_g.step()
        done()

    return step, parameters(G, D)


# DPE's official constants (see dpe_tf/networks.py).
SELU_ALPHA = 1.0198755295894968
SELU_SCALE = 1.0026538655307724


class SymmetricPad(nn.Module):
    """tf.pad(mode='SYMMETRIC') on H and W (the edge pixel repeated): the flipped edge rows, then
    columns, concatenated (the fastest of a gather and this, in both directions, on the CPU)."""

    def __init__(self, pad):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        p = self.pad
        x = torch.cat([x[:, :, :p].flip(2), x, x[:, :, -p:].flip(2)], 2)
        return torch.cat([x[:, :, :, :p].flip(3), x, x[:, :, :, -p:].flip(3)], 3)


def dpe_conv(cin, cout, k, stride=1):
    """Official conv_layer: symmetric padding (k - 1) // 2, then a VALID conv with bias."""
    conv = nn.Conv2d(cin, cout, k, stride)
    return nn.Sequential(SymmetricPad((k - 1) // 2), conv) if k > 1 else conv


class SeluBN(nn.Module):
    """Official `act`: SELU with the official constants, then batch norm (decay 0.9, eps 1e-5)."""

    def __init__(self, channels):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return self.bn(SELU_SCALE * F.elu(x, SELU_ALPHA))


class DPEGenerator(nn.Module):
    """The global U-Net at its training size (512: the global path's VALID conv is 8x8)."""

    def __init__(self, image_size=512):
        super().__init__()
        widths = [3, 16, 32, 64, 128, 128]
        self.enc = nn.ModuleList(dpe_conv(widths[i], widths[i + 1], 3 if i == 0 else 5, 1 if i == 0 else 2)
                                 for i in range(5))
        self.enc_act = nn.ModuleList(SeluBN(w) for w in widths[1:])
        self.glob = nn.ModuleList([dpe_conv(128, 128, 5, 2), dpe_conv(128, 128, 5, 2)])
        self.glob_act = nn.ModuleList([SeluBN(128), SeluBN(128)])
        self.glob3 = nn.Conv2d(128, 128, image_size // 64)
        self.glob4 = nn.Conv2d(128, 128, 1)
        self.dec1 = dpe_conv(128, 128, 3)
        self.dec2 = dpe_conv(256, 128, 1)
        self.dec2_act = SeluBN(128)
        # dec3..dec6: conv 3x3 -> nearest x2 -> concat the encoder conv output -> SELU -> BN.
        ups = [(128, 128, 128), (256, 128, 64), (192, 64, 32), (96, 32, 16)]  # (in, out, skip)
        self.up = nn.ModuleList(dpe_conv(cin, cout, 3) for cin, cout, _ in ups)
        self.up_act = nn.ModuleList(SeluBN(cout + skip) for _, cout, skip in ups)
        self.dec7 = dpe_conv(48, 16, 3)
        self.dec7_act = SeluBN(16)
        self.dec8 = dpe_conv(16, 3, 3)

    def forward(self, image):
        x, skips = image, []
        for conv, act in zip(self.enc, self.enc_act):
            x = conv(x)
            skips.append(x)
            x = act(x)
        g = x
        for conv, act in zip(self.glob, self.glob_act):
            g = act(conv(g))
        g = self.glob4(SELU_SCALE * F.elu(self.glob3(g), SELU_ALPHA))
        x = self.dec1(x)
        x = self.dec2_act(self.dec2(torch.cat([x, g.expand(-1, -1, *x.shape[2:])], 1)))
        for conv, act, skip in zip(self.up, self.up_act, reversed(skips[:4])):
            x = act(torch.cat([F.interpolate(conv(x), scale_factor=2, mode="nearest"), skip], 1))
        return self.dec8(self.dec7_act(self.dec7(x))) + image


def dpe_train(image_size, batch_size):
    G = DPEGenerator(image_size).to(DEVICE).train()
    opt = adam(G, 1e-5, 0.9)
    x, y = (torch.rand(batch_size, 3, image_size, image_size, device=DEVICE) for _ in range(2))

    def step():
        opt.zero_grad()
        F.mse_loss(G(x), y).backward()
        opt.step()
        done()

    return step, parameters(G)


def forward_only(net, image_size):
    net = net.to(DEVICE).eval()
    x = torch.rand(1, 3, image_size, image_size, device=DEVICE)

    def step():
        with torch.no_grad():
            net(x)
        done()

    return step, parameters(net)


def dpe_infer(image_size, batch_size):
    return forward_only(DPEGenerator(image_size), image_size)


def gpen_infer(image_size, batch_size):
    """GPEN-BFR-256's widths at 256, else BFR-512's, as tools/speed_cases.py."""
    widths = dict(channel_multiplier=1, narrow=0.5) if image_size == 256 else {}
    return forward_only(torch_gpen.FullGenerator(image_size, **widths), image_size)


CASES = {"pix2pix_train": pix2pix_train, "dcgan_train": dcgan_train, "dpe_train": dpe_train,
         "dpe_infer": dpe_infer, "gpen_infer": gpen_infer}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--image_size", type=int, required=True)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    step, count = CASES[args.case](args.image_size, args.batch_size)
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    speed_protocol.serve(step, args.warmup, parameters=count, device=device,
                         framework=f"torch {torch.__version__}", precision="float32")


if __name__ == "__main__":
    main()
