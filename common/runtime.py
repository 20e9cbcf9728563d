"""Distribution strategy, precision policy, XLA and seeds, chosen once before any model is built."""

import dataclasses

import keras
import tensorflow as tf
from absl import logging

import common
from common import distribute, quiet
from common.options import PRECISIONS, STRATEGIES, XLA_MODES


# On a CPU, `auto` follows tools/benchmark.py on 2-core AVX-512-BF16 machines (BUILD_NOTES.md):
# bfloat16 made the pix2pix step 1.5x faster and inference 2x, so it is picked where the CPU computes
# bfloat16 natively; XLA made both slower, so it stays off.
CPU_AUTO_XLA = False


def cpu_flags():
    """The CPU's feature flags (avx2, avx512_bf16, ...) from /proc/cpuinfo; empty where it is missing."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return set()
    return set(line.partition(":")[2].split())


def cpu_has_native_bfloat16():
    """True on x86 CPUs with AVX512-BF16 or AMX-BF16."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels (decided when it loaded; None if unknown)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def gpu_has_bfloat16():
    """Whether every GPU computes bfloat16 (NVIDIA compute capability 8.0, Ampere, or newer)."""
    gpus = tf.config.list_physical_devices("GPU")
    return bool(gpus) and all(
        tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) >= (8, 0)
        for gpu in gpus)


def auto_precision(device, gpu_float16=True):
    """What --mixed_precision=auto means on `device` ("cpu", "gpu" or "tpu") for a model.

    bfloat16 wherever it is computed natively: it has float32's range, so nothing overflows and no
    loss scale is needed. On a GPU without it, float16 with loss scaling for the models where that
    was measured to train as float32 does (`gpu_float16`, a model's `GPU_FLOAT16`), float32 for the
    others (BUILD_NOTES.md, "Precision").
    """
    if device == "tpu":
        return "bfloat16"
    if device == "cpu":
        return "bfloat16" if cpu_has_native_bfloat16() else "off"
    if gpu_has_bfloat16():
        return "bfloat16"
    return "float16" if gpu_float16 else "off"


_POLICIES = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


@dataclasses.dataclass(frozen=True)
class Runtime:
    strategy: tf.distribute.Strategy
    device: str  # "cpu", "gpu" or "tpu"
    policy: str  # the Keras dtype policy name
    jit_compile: bool


def make_strategy(name, tpu=None):
    """A tf.distribute strategy; `auto` mirrors over the GPUs when there are several.

    `mirrored` takes every GPU, or, on a machine without one, every logical CPU device (see
    `configure(cpu_devices=...)`).
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    if name == "multi_worker":  # the cluster comes from the TF_CONFIG environment variable
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def configure(strategy="auto", mixed_precision="off", xla="auto", seed=None, deterministic=False,
              tpu=None, cpu_devices=1, gpu_float16=True):
    """Set up the process for training and return what was chosen.

    The precision policy is global in Keras, so call this before building a model. `cpu_devices` > 1
    splits the CPU into that many logical devices first, for `mirrored` without GPUs.
    `gpu_float16` (the model's `GPU_FLOAT16`) says whether `auto` may pick float16 (auto_precision).
    """
    if cpu_devices > 1:
        distribute.split_cpu(cpu_devices)
    if mixed_precision not in PRECISIONS:
        raise ValueError(f"mixed_precision must be one of {PRECISIONS}, got {mixed_precision!r}")
    if xla not in XLA_MODES:
        raise ValueError(f"xla must be one of {XLA_MODES}, got {xla!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    strat = make_strategy(strategy, tpu)
    quiet.spend_onednn_line()
    if isinstance(strat, tf.distribute.TPUStrategy):
        device = "tpu"
    elif tf.config.list_physical_devices("GPU"):
        device = "gpu"
    else:
        device = "cpu"
    if device == "cpu" and common.X86 and onednn_enabled() is False:
        logging.warning("TensorFlow's oneDNN kernels are off, so training runs up to 2x slower on "
                        "this CPU: import this package before TensorFlow, or set "
                        "TF_ENABLE_ONEDNN_OPTS=1 before starting Python")
    if mixed_precision == "auto":
        mixed_precision = auto_precision(device, gpu_float16)
    policy = _POLICIES[mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    jit = {"on": True, "off": False, "auto": device != "cpu" or CPU_AUTO_XLA}[xla]
    return Runtime(strategy=strat, device=device, policy=policy, jit_compile=jit)
