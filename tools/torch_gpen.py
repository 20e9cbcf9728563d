"""GPEN in PyTorch with the module and parameter names of yangxy/GPEN `face_model/gpen_model.py`, so that
its state dicts have the released checkpoints' keys. Used only by tools/make_torch_fixtures.py (in a
throwaway environment with torch) to write the converter's test fixtures.

The compiled CUDA ops of the official code are replaced by their plain-PyTorch definitions (the ones
the official code falls back to off Linux): upfirdn2d as zero-stuffing, padding and a per-channel
convolution with the flipped kernel; the fused leaky ReLU as leaky_relu(x + bias, 0.2) * sqrt(2).
"""

import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F

TAPS = (1, 3, 3, 1)


def fir_kernel(factor=1):
    k = torch.tensor(TAPS, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum() * factor ** 2


def upfirdn(x, kernel, up=1, down=1, pad=(0, 0)):
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = torch.flip(kernel, [0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, groups=c)[:, :, ::down, ::down]


def lrelu(x, bias):
    return F.leaky_relu(x + bias.view(1, -1, *[1] * (x.dim() - 2)), 0.2) * math.sqrt(2)


class Bias(nn.Module):  # official FusedLeakyReLU
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return lrelu(x, self.bias)


class ScaledLeakyReLU(nn.Module):
    def forward(self, x):
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class Blur(nn.Module):
    def __init__(self, pad, factor=1):
        super().__init__()
        self.register_buffer("kernel", fir_kernel(factor))
        self.pad = pad

    def forward(self, x):
        return upfirdn(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", fir_kernel(2))

    def forward(self, x):
        return upfirdn(x, self.kernel, up=2, pad=(2, 1))


class EqualConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale, self.stride, self.padding = 1 / math.sqrt(cin * k * k), stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(self, cin, cout, bias_init=0.0, lr_mul=1.0, activate=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(cin), lr_mul, activate

    def forward(self, x):
        out = F.linear(x, self.weight * self.scale)
        bias = self.bias * self.lr_mul
        return lrelu(out, bias) if self.activate else out + bias


class ConvLayer(nn.Sequential):
    def __init__(self, cin, cout, k, downsample=False, bias=True, activate=True):
        layers = []
        if downsample:
            p = 2 + (k - 1)
            layers.append(Blur(((p + 1) // 2, p // 2)))
        layers.append(EqualConv2d(cin, cout, k, stride=2 if downsample else 1,
                                  padding=0 if downsample else k // 2, bias=bias and not activate))
        if activate:
            layers.append(Bias(cout) if bias else ScaledLeakyReLU())
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    def __init__(self, cin, cout, k, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1)
        self.scale, self.k, self.demodulate, self.upsample = 1 / math.sqrt(cin * k * k), k, demodulate, upsample
        if upsample:
            p = 2 - (k - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), factor=2)

    def forward(self, x, style):
        n, cin, h, w = x.shape
        weight = self.scale * self.weight * self.modulation(style).view(n, 1, cin, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(n, -1, 1, 1, 1)
        cout = weight.shape[1]
        x = x.reshape(1, n * cin, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(n * cin, cout, self.k, self.k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=n)
            return self.blur(out.reshape(n, cout, *out.shape[2:]))
        out = F.conv2d(x, weight.reshape(n * cout, cin, self.k, self.k), padding=self.k // 2, groups=n)
        return out.reshape(n, cout, h, w)


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return torch.cat((x, self.weight * noise), 1)


class ConstantInput(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, n):
        return self.input.repeat(n, 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, cin, cout, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = Bias(2 * cout)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, cin, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        return out if skip is None else out + self.upsample(skip)


def channel_table(channel_multiplier, narrow):
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier,
            128: 128 * channel_multiplier, 256: 64 * channel_multiplier, 512: 32 * channel_multiplier,
            1024: 16 * channel_multiplier, 2048: 8 * channel_multiplier}
    return {r: int(c * narrow) for r, c in base.items()}


class Generator(nn.Module):
    def __init__(self, size, style_dim, n_mlp, channel_multiplier, narrow, lr_mlp=0.01):
        super().__init__()
        ch = channel_table(channel_multiplier, narrow)
        self.style = nn.Sequential(nn.Identity(), *[  # index 0: the PixelNorm, applied in forward
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True) for _ in range(n_mlp)])
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], style_dim)
        self.to_rgb1 = ToRGB(2 * ch[4], style_dim, upsample=False)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        cin = ch[4]
        for r in (2 ** i for i in range(3, int(math.log2(size)) + 1)):
            self.convs.append(StyledConv(2 * cin, ch[r], style_dim, upsample=True))
            self.convs.append(StyledConv(2 * ch[r], ch[r], style_dim))
            self.to_rgbs.append(ToRGB(2 * ch[r], style_dim))
            cin = ch[r]

    def forward(self, z, noise):
        w = self.style(z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8))
        out = self.conv1(self.input(z.shape[0]), w, noise[0])
        skip = self.to_rgb1(out, w)
        for up, conv, n1, n2, rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2],
                                         self.to_rgbs):
            out = conv(up(out, w, n1), w, n2)
            skip = rgb(out, w, skip)
        return skip


class FullGenerator(nn.Module):
    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1.0):
        super().__init__()
        ch = channel_table(channel_multiplier, narrow)
        log_size = int(math.log2(size))
        self.generator = Generator(size, style_dim, n_mlp, channel_multiplier, narrow)
        self.ecd0 = nn.Sequential(ConvLayer(3, ch[size], 1))
        self.depth = log_size - 1
        for i in range(1, self.depth):
            r = 2 ** (log_size - i)
            setattr(self, f"ecd{i}", nn.Sequential(ConvLayer(ch[2 * r], ch[r], 3, downsample=True)))
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, style_dim, activate=True))

    def forward(self, x):
        features = []
        for i in range(self.depth):
            x = getattr(self, f"ecd{i}")(x)
            features.append(x)
        latent = self.final_linear(x.reshape(x.shape[0], -1))
        noise = list(itertools.chain.from_iterable((f, f) for f in features))[::-1][1:]
        return self.generator(latent, noise)


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, bias=False, activate=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    def __init__(self, size, channel_multiplier=2, narrow=1.0):
        super().__init__()
        ch = channel_table(channel_multiplier, narrow)
        log_size = int(math.log2(size))
        self.convs = nn.Sequential(ConvLayer(3, ch[size], 1), *[
            ResBlock(ch[2 ** i], ch[2 ** (i - 1)]) for i in range(log_size, 2, -1)])
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activate=True),
                                          EqualLinear(ch[4], 1))

    def forward(self, x):
        out = self.convs(x)
        n, _, h, w = out.shape
        std = torch.sqrt(out.var(0, unbiased=False) + 1e-8).mean()  # the whole batch is one group
        out = torch.cat([out, std.expand(n, 1, h, w)], 1)
        return self.final_linear(self.final_conv(out).reshape(n, -1))
