"""pix2pix in PyTorch after junyanz/pytorch-CycleGAN-and-pix2pix: `UnetGenerator` (blocks nested in
`model` Sequentials, so that state dicts have the official keys) and `NLayerDiscriminator`. Used in a
throwaway environment with torch only: by tools/make_torch_fixtures.py (the converter's test fixtures)
and tools/torch_reference.py (the speed reference).
"""

import torch
from torch import nn


class SkipBlock(nn.Module):
    """One level of the official U-Net: [down, inner levels, up] with the input concatenated."""

    def __init__(self, outer, inner, in_channels=None, sub=None, outermost=False, innermost=False,
                 dropout=False):
        super().__init__()
        self.outermost = outermost
        in_channels = in_channels or outer
        down = nn.Conv2d(in_channels, inner, 4, 2, 1, bias=False)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), sub, nn.ReLU(True), up,
                      nn.BatchNorm2d(outer)] + ([nn.Dropout(0.5)] if dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class Unet(nn.Module):
    def __init__(self, in_channels, out_channels, downs, ngf):
        super().__init__()
        block = SkipBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(downs - 5):
            block = SkipBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
        block = SkipBlock(ngf * 4, ngf * 8, sub=block)
        block = SkipBlock(ngf * 2, ngf * 4, sub=block)
        block = SkipBlock(ngf, ngf * 2, sub=block)
        self.model = SkipBlock(out_channels, ngf, in_channels=in_channels, sub=block, outermost=True)

    def forward(self, x):
        return self.model(x)


def patch_discriminator(in_channels, ndf, n_layers):
    layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for n in range(1, n_layers + 1):
        stride = 2 if n < n_layers else 1
        width = ndf * min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * min(2 ** (n - 1), 8), width, 4, stride, 1, bias=False),
                   nn.BatchNorm2d(width), nn.LeakyReLU(0.2, True)]
    layers.append(nn.Conv2d(ndf * min(2 ** n_layers, 8), 1, 4, 1, 1))
    net = nn.Module()
    net.model = nn.Sequential(*layers)
    net.forward = lambda x: net.model(x)
    return net
