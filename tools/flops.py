"""The arithmetic behind the speed tools' times: FLOP counted from the layers' shapes, and the
machine's matrix-multiply peak to compare the achieved GFLOP/s with.

tools/benchmark.py and tools/speed_vs_torch.py print the GFLOP of each step (a train step's count is
put together from the forward counts here by tools/speed_cases.py), the GFLOP/s it achieved, and
that as a fraction of the float32 and bfloat16 peaks of a large tf.linalg.matmul on the same threads.

Counted: the multiply-adds (2 FLOP each) of convolutions, transposed and depthwise convolutions and
dense layers, including GPEN's own (equalized dense and conv, modulated conv with its demodulation
product, the blur and upsampling FIR filters). Left out: biases, activations, normalisations,
pooling, padding, concatenation and other elementwise or data-movement work, and any op called
outside a layer (losses, the serving functions' resizes and uint8 conversions). A layer that is
neither counted nor known to have no multiply-adds counts as 0 and is reported as uncounted.
"""

import dataclasses
import math
import os
import platform
import time

from common import runtime  # first: importing this package sets TensorFlow's CPU options

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gpen_tf import stylegan2 as sg  # noqa: E402

# Layers of the five models with no multiply-adds worth counting: left out by design, not uncounted.
NO_MULTIPLY_ADDS = frozenset("""
    Activation ReLU LeakyReLU Dropout BatchNormalization GroupNormalization UnitNormalization
    Normalization Identity Add Concatenate Reshape Flatten Permute ZeroPadding2D UpSampling2D
    MaxPooling2D GlobalAveragePooling2D
    SymmetricPadding2D SELU GlobalConcat ImageMean Broadcast2D
    FusedLeakyReLU PixelNorm NoiseConcat ConstantInput MinibatchStdDev
""".split())
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # those that decide the kernels' speed
DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class Count:
    """FLOP, and the names of the layer classes met that could not be counted (counted as 0)."""
    flop: int = 0
    uncounted: frozenset = frozenset()

    def __add__(self, other):
        return Count(self.flop + other.flop, self.uncounted | other.uncounted)

    def __rmul__(self, times):
        return Count(times * self.flop, self.uncounted)


def _size(tensor):
    return math.prod(tensor.shape)


def layer_flop(layer, x, y):
    """FLOP of one call of `layer` with first input x and output y; None for a layer not counted."""
    if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel [kh, kw, out, in]: each input
        return 2 * _size(x) * math.prod(layer.kernel.shape[:-1])  # pixel scatters kh * kw * out
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # kernel [kh, kw, in, multiplier]
        return 2 * _size(y) * math.prod(layer.kernel.shape[:2])
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense, sg.EqualConv2D, sg.EqualDense)):
        return 2 * _size(y) * math.prod(layer.kernel.shape[:-1])  # kernel [..., in / groups, out]
    if isinstance(layer, sg.ModulatedConv2D):  # its modulation and blur are counted as their layers
        k, _, cin, cout = layer.kernel.shape
        conv = 2 * _size(x) * k * k * cout if layer.upsample else 2 * _size(y) * k * k * cin
        return conv + (2 * x.shape[0] * cin * cout if layer.demodulate else 0)  # s^2 @ kernel norms
    if isinstance(layer, (sg.Blur, sg.Upsample)):  # a FIR filter per channel (over the zero-stuffed
        return 2 * _size(y) * layer.kernel.size     # map when upsampling: what the op computes)
    return None


def _has_sublayers(layer):
    return next(iter(layer._flatten_layers(include_self=False, recursive=False)), None) is not None


def forward(fn, *inputs):
    """The Count of one call fn(*inputs).

    `fn` is a Keras model or layer (called in inference mode, on the list of inputs if there are
    several) or any function of tensors, e.g. a serving function. Each input is an array, or a shape
    (then zeros, float32). The call runs once, eagerly, under a hook on every layer call, so that what
    is counted is what runs: the branch a tf.cond takes, every tile of a tf.map_fn. Layers made of
    layers (models, GPEN's StyledConv) are counted through theirs.
    """
    if isinstance(fn, keras.layers.Layer):
        network = fn
        fn = lambda *xs: network(list(xs) if len(xs) > 1 else xs[0], training=False)  # noqa: E731
    inputs = [np.zeros(x, np.float32) if isinstance(x, tuple) else x for x in inputs]
    total = Count()
    call = keras.layers.Layer.__call__

    def counting_call(layer, *args, **kwargs):
        nonlocal total
        y = call(layer, *args, **kwargs)
        flop = layer_flop(layer, tf.nest.flatten(args[0])[0], tf.nest.flatten(y)[0])
        if flop is not None:
            total += Count(flop)
        elif type(layer).__name__ not in NO_MULTIPLY_ADDS and not _has_sublayers(layer):
            total += Count(0, frozenset([type(layer).__name__]))
        return y

    keras.layers.Layer.__call__ = counting_call
    try:
        fn(*inputs)
    finally:
        keras.layers.Layer.__call__ = call
    return total


def matmul_peak(n=4096, repeats=3):
    """{dtype: GFLOP/s} of the fastest of `repeats` n x n tf.linalg.matmul, float32 and bfloat16.

    On the default device and TensorFlow's default threads, those the tools' steps run on: the most
    the matrix units give, the ceiling of the convolutions that oneDNN runs as matrix products.
    """
    product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))  # a scalar to wait for
    peaks = {}
    for dtype in DTYPES:
        a, b = (tf.cast(tf.random.normal((n, n)), dtype) for _ in range(2))
        product(a, b).numpy()  # tracing, oneDNN's kernel creation
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            product(a, b).numpy()
            seconds.append(time.perf_counter() - start)
        peaks[dtype] = 2 * n ** 3 / min(seconds) / 1e9
    return peaks


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.partition(":")[2].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def describe_machine(peaks):
    """One line: the CPU, its flags of interest, the threads and the matmul peaks."""
    flags = " ".join(sorted(runtime.cpu_flags() & set(CPU_FLAGS))) or "no flags known"
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return (f"{cpu_model()} ({flags}), {os.cpu_count()} threads; matmul peak on the {device}: "
            + ", ".join(f"{dtype} {peaks[dtype]:.0f}" for dtype in DTYPES) + " GFLOP/s")


def rate(flop, seconds, peaks):
    """(GFLOP/s, "f32%/bf16%"): the rate of `flop` done in `seconds`, in percent of each peak."""
    gflops = flop / seconds / 1e9
    return gflops, "/".join(f"{100 * gflops / peaks[dtype]:.0f}%" for dtype in DTYPES)


def gflop(count):
    """"12.34 GFLOP", with the uncounted layer classes if there were any."""
    uncounted = f" (uncounted layers: {', '.join(sorted(count.uncounted))})" if count.uncounted else ""
    return f"{count.flop / 1e9:.2f} GFLOP{uncounted}"
