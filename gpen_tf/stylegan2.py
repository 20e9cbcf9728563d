"""StyleGAN2 building blocks as GPEN uses them (yangxy/GPEN `face_model/gpen_model.py`, itself
rosinality/stylegan2-pytorch), as Keras layers written with `keras.ops` only: no compiled custom ops,
so they run on a CPU and under every Keras backend.

- Equalized learning rate: weights are stored N(0, 1) (N(0, 1/lr_mul) for dense layers) and scaled at
  run time by lr_mul / sqrt(fan_in); biases are stored divided by lr_mul.
- `fused_leaky_relu`: leaky ReLU (slope 0.2) of x + bias, times sqrt(2) to keep the variance.
- `upfirdn2d`: zero-stuff by `up`, pad, convolve with a (flipped) FIR kernel, keep every `down`-th pixel,
  as the official CUDA op and its `upfirdn2d_native`; the [1, 3, 3, 1] blur of up/down sampling.
- `ModulatedConv2D`: a style-modulated convolution with demodulation. It scales the input channels by
  the style and the output channels by the demodulation coefficients instead of building one kernel per
  sample (the non-fused form of the StyleGAN2 paper, equal up to rounding).
- `NoiseConcat`: GPEN's NoiseInjection(isconcat=True): the "noise" (an encoder feature map in GPEN) times
  a learned scalar (initialised to 0) is concatenated to the activations, doubling the channels.

Layout is NHWC; kernels are stored [kh, kw, in, out] (the official [out, in, kh, kw] transposed) and
dense kernels [in, out], so official weights port one to one.
"""

import math

import keras
import numpy as np
from keras import ops

SLOPE = 0.2            # official leaky ReLU slope
GAIN = math.sqrt(2.0)  # official fused_leaky_relu scale
EPS = 1e-8             # PixelNorm, demodulation and minibatch stddev epsilon
BLUR = (1, 3, 3, 1)    # official blur_kernel

_serializable = keras.saving.register_keras_serializable(package="gpen_tf")


def make_kernel(taps):
    """The normalized 2-D FIR kernel (outer product of 1-D taps, summing to 1), float32 NumPy."""
    k = np.asarray(taps, np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Upsample (zero insertion), pad, FIR-filter and downsample NHWC `x` with a 2-D `kernel`.

    Output size per axis: (size * up + pad[0] + pad[1] - len(kernel)) // down + 1. As the official op,
    the kernel is flipped (a true convolution) and each channel is filtered separately.
    """
    if min(pad) < 0:
        raise ValueError(f"upfirdn2d supports non-negative padding only, got {pad}")
    kernel = np.asarray(kernel, np.float32)
    shape = ops.shape(x)
    height, width, channels = shape[1], shape[2], shape[3]
    if up > 1:
        # Zeros after every row, then after every column, through 4-D tensors only: LiteRT's pad
        # takes at most 5 dimensions (tests/test_formats.py checks this against a 6-D pad).
        x = ops.reshape(x, (-1, height, 1, width * channels))
        x = ops.pad(x, [[0, 0], [0, 0], [0, up - 1], [0, 0]])
        x = ops.reshape(x, (-1, width, 1, channels))
        x = ops.pad(x, [[0, 0], [0, 0], [0, up - 1], [0, 0]])
        x = ops.reshape(x, (-1, height * up, width * up, channels))
    x = ops.pad(x, [[0, 0], list(pad), list(pad), [0, 0]])
    taps = np.tile(kernel[::-1, ::-1, None, None], (1, 1, channels, 1))
    return ops.depthwise_conv(x, ops.cast(taps, x.dtype), strides=down, padding="valid")


def fused_leaky_relu(x, bias):
    """leaky_relu(x + bias, 0.2) * sqrt(2), the bias added over the last axis."""
    return ops.leaky_relu(x + bias, negative_slope=SLOPE) * GAIN


def _normal(stddev=1.0):
    return keras.initializers.RandomNormal(stddev=stddev)


@_serializable
class FusedLeakyReLU(keras.layers.Layer):
    """A per-channel bias (initialised to 0), then leaky ReLU 0.2 scaled by sqrt(2)."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return fused_leaky_relu(x, self.bias)

    def compute_output_shape(self, input_shape):
        return input_shape


@_serializable
class PixelNorm(keras.layers.Layer):
    """x / sqrt(mean(x^2 over the features) + 1e-8): the mapping network's input normalization."""

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + EPS)

    def compute_output_shape(self, input_shape):
        return input_shape


@_serializable
class EqualDense(keras.layers.Layer):
    """Equalized-learning-rate linear layer (official EqualLinear).

    Kernel [in, units] stored N(0, 1/lr_mul) and used times lr_mul / sqrt(in); bias initialised to
    `bias_init` and used times lr_mul. With activation="fused_lrelu" the bias goes into the fused
    leaky ReLU. lr_mul 0.01 in the mapping network slows its learning 100x under Adam.
    """

    def __init__(self, units, lr_mul=1.0, bias_init=0.0, activation=None, **kwargs):
        super().__init__(**kwargs)
        if activation not in (None, "fused_lrelu"):
            raise ValueError(f"{self.name}: activation must be None or 'fused_lrelu', got {activation!r}")
        self.units = int(units)
        self.lr_mul = float(lr_mul)
        self.bias_init = float(bias_init)
        self.activation = activation

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.scale = self.lr_mul / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(fan_in, self.units), initializer=_normal(1.0 / self.lr_mul),
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=keras.initializers.Constant(self.bias_init))

    def call(self, x):
        out = ops.matmul(x, self.kernel * self.scale)
        bias = self.bias * self.lr_mul
        if self.activation:
            return fused_leaky_relu(out, bias)
        return out + bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "lr_mul": self.lr_mul,
                "bias_init": self.bias_init, "activation": self.activation}


@_serializable
class EqualConv2D(keras.layers.Layer):
    """Equalized-learning-rate convolution (official EqualConv2d): kernel N(0, 1) times
    1/sqrt(in * k * k), optional bias initialised to 0. Padding 'same' (k // 2 on each side, stride 1)
    or 'valid' (the strided convolutions, which are preceded by a blur that pads)."""

    def __init__(self, filters, kernel_size, strides=1, padding="same", use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.padding = padding
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        k, fan_in = self.kernel_size, input_shape[-1]
        self.scale = 1.0 / math.sqrt(fan_in * k * k)
        self.kernel = self.add_weight(shape=(k, k, fan_in, self.filters), initializer=_normal(),
                                      name="kernel")
        self.bias = (self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
                     if self.use_bias else None)

    def call(self, x):
        out = ops.conv(x, self.kernel * self.scale, strides=self.strides, padding=self.padding)
        return out if self.bias is None else out + self.bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "use_bias": self.use_bias}


@_serializable
class Blur(keras.layers.Layer):
    """upfirdn2d with the blur kernel and padding `pad`; times factor^2 after a 2x upsampling conv."""

    def __init__(self, pad, upsample_factor=1, taps=BLUR, **kwargs):
        super().__init__(**kwargs)
        self.pad = tuple(int(p) for p in pad)
        self.upsample_factor = int(upsample_factor)
        self.taps = tuple(taps)
        self.kernel = make_kernel(taps) * self.upsample_factor ** 2

    def call(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "upsample_factor": self.upsample_factor,
                "taps": self.taps}


@_serializable
class Upsample(keras.layers.Layer):
    """2x upsampling of the toRGB skip: zero insertion and the blur kernel times 4 (official Upsample)."""

    def __init__(self, taps=BLUR, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.taps = tuple(taps)
        self.factor = int(factor)
        self.kernel = make_kernel(taps) * self.factor ** 2
        p = len(self.taps) - self.factor
        self.pad = ((p + 1) // 2 + self.factor - 1, p // 2)

    def call(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)

    def get_config(self):
        return {**super().get_config(), "taps": self.taps, "factor": self.factor}


@_serializable
class ModulatedConv2D(keras.layers.Layer):
    """Style-modulated convolution, called on [x, w] (official ModulatedConv2d).

    s = modulation(w) (an EqualDense to the input channels, bias initialised to 1); the effective kernel
    of sample n is K[., ., i, o] = w_scale * weight[., ., i, o] * s[n, i], and with `demodulate` it is
    divided by sqrt(sum over (kh, kw, i) of K^2 + 1e-8), i.e. each output channel gets unit norm.
    With `upsample`, a stride-2 transposed convolution (no padding) followed by the blur (pad (1, 1),
    kernel times 4), which doubles H and W. The official code never uses the downsampling variant.
    """

    def __init__(self, filters, kernel_size, demodulate=True, upsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.demodulate = bool(demodulate)
        self.upsample = bool(upsample)
        if self.upsample:
            # Official padding: p = (4 - 2) - (k - 1); pad0 = (p + 1) // 2 + 1, pad1 = p // 2 + 1.
            p = (len(BLUR) - 2) - (self.kernel_size - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2, name="blur")

    def build(self, input_shapes):
        x_shape, w_shape = input_shapes
        in_channels, k = x_shape[-1], self.kernel_size
        self.scale = 1.0 / math.sqrt(in_channels * k * k)
        self.kernel = self.add_weight(shape=(k, k, in_channels, self.filters), initializer=_normal(),
                                      name="kernel")
        self.modulation = EqualDense(in_channels, bias_init=1.0, name="modulation")
        self.modulation.build(w_shape)

    def call(self, inputs):
        x, w = inputs
        s = self.modulation(w)                                      # [N, in]
        kernel = self.kernel * self.scale                           # [k, k, in, out]
        x = x * s[:, None, None, :]
        if self.upsample:
            out = ops.conv_transpose(x, ops.transpose(kernel, (0, 1, 3, 2)), strides=2, padding="valid")
        else:
            out = ops.conv(x, kernel, padding="same")
        if self.demodulate:
            # sum over (kh, kw, i) of (kernel * s_i)^2 = s^2 @ (sum over kh, kw of kernel^2)
            norms = ops.matmul(ops.square(s), ops.sum(ops.square(kernel), axis=(0, 1)))  # [N, out]
            out = out * ops.rsqrt(norms + EPS)[:, None, None, :]
        return self.blur(out) if self.upsample else out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "demodulate": self.demodulate, "upsample": self.upsample}


@_serializable
class NoiseConcat(keras.layers.Layer):
    """[x, noise] -> concat(x, weight * noise) on channels; weight a scalar initialised to 0."""

    def build(self, input_shapes):
        self.weight = self.add_weight(shape=(1,), initializer="zeros", name="weight")

    def call(self, inputs):
        x, noise = inputs
        return ops.concatenate([x, self.weight * ops.cast(noise, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shapes):
        x_shape, noise_shape = input_shapes
        return (*x_shape[:-1], x_shape[-1] + noise_shape[-1])


@_serializable
class ConstantInput(keras.layers.Layer):
    """The learned 4x4 input of the synthesis network, N(0, 1), repeated over the batch of w."""

    def __init__(self, channels, size=4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, w_shape):
        self.constant = self.add_weight(shape=(1, self.size, self.size, self.channels),
                                        initializer=_normal(), name="constant")

    def call(self, w):
        return ops.tile(self.constant, (ops.shape(w)[0], 1, 1, 1))

    def compute_output_shape(self, w_shape):
        return (w_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@_serializable
class StyledConv(keras.layers.Layer):
    """[x, w, noise] -> ModulatedConv2D -> NoiseConcat -> FusedLeakyReLU over 2 * filters channels."""

    def __init__(self, filters, kernel_size=3, upsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.upsample = bool(upsample)
        self.conv = ModulatedConv2D(filters, kernel_size, upsample=upsample, name="conv")
        self.noise = NoiseConcat(name="noise")
        self.activate = FusedLeakyReLU(name="activate")

    def build(self, input_shapes):
        x_shape, w_shape, noise_shape = input_shapes
        self.conv.build((x_shape, w_shape))
        size = None if x_shape[1] is None else x_shape[1] * (2 if self.upsample else 1)
        out_shape = (x_shape[0], size, size, self.filters)
        self.noise.build((out_shape, noise_shape))
        self.activate.build((*out_shape[:-1], self.filters + noise_shape[-1]))

    def call(self, inputs):
        x, w, noise = inputs
        return self.activate(self.noise([self.conv([x, w]), noise]))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "upsample": self.upsample}


@_serializable
class ToRGB(keras.layers.Layer):
    """[x, w] or [x, w, skip] -> 1x1 ModulatedConv2D to 3 channels without demodulation, + bias (0),
    + the previous RGB image upsampled 2x when there is one (official ToRGB)."""

    def __init__(self, upsample=True, **kwargs):
        super().__init__(**kwargs)
        self.upsample = bool(upsample)
        self.conv = ModulatedConv2D(3, 1, demodulate=False, name="conv")
        if self.upsample:
            self.upsample_skip = Upsample(name="upsample")

    def build(self, input_shapes):
        self.conv.build(input_shapes[:2])
        self.bias = self.add_weight(shape=(3,), initializer="zeros", name="bias")

    def call(self, inputs):
        out = self.conv(inputs[:2]) + self.bias
        if self.upsample:
            out = out + self.upsample_skip(inputs[2])
        return out

    def get_config(self):
        return {**super().get_config(), "upsample": self.upsample}


@_serializable
class ConvLayer(keras.layers.Layer):
    """Official ConvLayer: [blur (pad for k) + stride 2 if downsample] EqualConv2D [+ FusedLeakyReLU].

    With `activate` the bias lives in the FusedLeakyReLU; without, the convolution has no bias (the only
    use in GPEN is the residual skip, ConvLayer(..., activate=False, bias=False)).
    """

    def __init__(self, filters, kernel_size, downsample=False, activate=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.downsample = bool(downsample)
        self.activate = bool(activate)
        if self.downsample:
            # Official padding: p = (4 - 2) + (k - 1), pad0 = (p + 1) // 2, pad1 = p // 2.
            p = (len(BLUR) - 2) + (self.kernel_size - 1)
            self.blur = Blur(((p + 1) // 2, p // 2), name="blur")
        self.conv = EqualConv2D(filters, kernel_size, strides=2 if downsample else 1,
                                padding="valid" if downsample else "same", use_bias=False, name="conv")
        if self.activate:
            self.act = FusedLeakyReLU(name="activate")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.activate:
            self.act.build((None, None, None, self.filters))

    def call(self, x):
        if self.downsample:
            x = self.blur(x)
        x = self.conv(x)
        return self.act(x) if self.activate else x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "downsample": self.downsample, "activate": self.activate}


@_serializable
class ResBlock(keras.layers.Layer):
    """Discriminator residual block: (conv3x3 -> conv3x3 down  +  1x1 down skip) / sqrt(2)."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.skip = ConvLayer(filters, 1, downsample=True, activate=False, name="skip")
        self.conv2 = ConvLayer(filters, 3, downsample=True, name="conv2")

    def build(self, input_shape):
        self.conv1 = ConvLayer(input_shape[-1], 3, name="conv1")
        self.conv1.build(input_shape)
        self.conv2.build(input_shape)
        self.skip.build(input_shape)

    def call(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / GAIN

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@_serializable
class MinibatchStdDev(keras.layers.Layer):
    """Appends `num_features` channels: the standard deviation over groups of samples, averaged.

    Groups of G samples taken with stride N / G (sample b is in group member b // (N / G)); per group the
    population std (+1e-8 inside the sqrt) of every feature, averaged over H, W and the channels of each
    of the `num_features` channel splits. `group_size=None` makes the whole batch one group, as GPEN's
    released discriminator (`group = batch`; its `stddev_group = 4` is unused). With a number, G =
    min(N, group_size) as StyleGAN2 (rosinality); where that fails (N > G not a multiple of G), G is the
    largest divisor of N below it.
    """

    def __init__(self, group_size=4, num_features=1, **kwargs):
        super().__init__(**kwargs)
        self.group_size = None if group_size is None else int(group_size)
        self.num_features = int(num_features)

    def call(self, x):
        n, h, w, c = ops.shape(x)
        f = self.num_features
        group = self._group(n)
        y = ops.reshape(x, (group, -1, h, w, f, c // f))
        y = ops.sqrt(ops.var(ops.cast(y, "float32"), axis=0) + EPS)  # [M, h, w, f, c / f]
        y = ops.mean(y, axis=(1, 2, 4))                                # [M, f]
        y = ops.tile(ops.cast(y, x.dtype)[:, None, None, :], (group, h, w, 1))
        return ops.concatenate([x, y], axis=-1)

    def _group(self, n):
        """The largest divisor of the batch size n not above group_size (n may be a tensor)."""
        if self.group_size is None:
            return n
        if isinstance(n, int):
            return max(g for g in range(1, min(n, self.group_size) + 1) if n % g == 0)
        group = ops.minimum(n, self.group_size)
        for smaller in range(self.group_size - 1, 0, -1):
            group = ops.where(ops.mod(n, group) == 0, group, ops.minimum(group, smaller))
        return group

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_features)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size,
                "num_features": self.num_features}
