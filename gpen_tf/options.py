"""What GPEN's tools offer on the command line, without TensorFlow, so that they define their flags,
answer --help and check them before TensorFlow loads: the training stages, the EMA's decay, the
smallest face restored, and the degradation's settings (`Degradation`, used by gpen_tf.degradation)
with their flags for gpen_tf.degrade and gpen_tf.train."""

import dataclasses
import math

from absl import flags

STAGES = ("prior", "restore")
# The official `accum` of train_simple.py (StyleGAN2's 10k-image half-life counted at batch 32): the
# EMA generator moves 0.22% of the way to the trained one per step, a half-life of 312 steps.
EMA_DECAY = 0.5 ** (32 / 10_000)
# Faces whose box is narrower than this are left as they are: MTCNN's smallest anchor is 12 px and its
# landmarks on faces under ~24 px are off by a good part of the eye distance, so the crop would not be
# aligned; and a 512 px restoration of a 20 px face invents everything in it.
MIN_FACE = 24


def _check_range(name, value, low_bound, high_bound=math.inf, open_low=False):
    """A (low, high) pair within bounds, or None (the step is off)."""
    if value is None:
        return
    try:
        low, high = value
        ok = (low > low_bound if open_low else low >= low_bound) and low <= high <= high_bound
    except (TypeError, ValueError):
        ok = False
    if not ok:
        bounds = f"{low_bound} {'<' if open_low else '<='} low <= high"
        bounds += f" <= {high_bound}" if high_bound != math.inf else ""
        raise ValueError(f"{name} must be (low, high) with {bounds}, or None to turn it off; "
                         f"got {value!r}")


@dataclasses.dataclass(frozen=True)
class Degradation:
    """The degradation's settings; the defaults are the released training's. None turns a step off."""

    gray_prob: float = 0.2
    blur_sigma: tuple | None = (0.1, 10.0)
    aniso_prob: float = 0.5
    blur_kernel_size: int = 41
    downscale: tuple | None = (0.8, 8.0)
    noise_sigma: tuple | None = (0.0, 20.0)  # on the 0-255 scale
    jpeg_quality: tuple | None = (60, 100)

    def __post_init__(self):
        for name in ("gray_prob", "aniso_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        size = self.blur_kernel_size
        if int(size) != size or size < 1 or size % 2 == 0:
            raise ValueError(f"blur_kernel_size must be a positive odd number, got {size!r}")
        _check_range("blur_sigma", self.blur_sigma, 0, open_low=True)
        _check_range("downscale", self.downscale, 0, open_low=True)
        _check_range("noise_sigma", self.noise_sigma, 0)
        _check_range("jpeg_quality", self.jpeg_quality, 0, 100)


def define_degradation_flags(flag_values=flags.FLAGS):
    """Define --gray_prob, --blur_sigma, ... (the fields of Degradation), defaults the released ones."""
    d = Degradation()
    flags.DEFINE_float("gray_prob", d.gray_prob, "Probability of a grayscale face (clean and degraded).",
                       lower_bound=0, upper_bound=1, flag_values=flag_values)
    flags.DEFINE_float("aniso_prob", d.aniso_prob, "Probability of an anisotropic blur kernel.",
                       lower_bound=0, upper_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("blur_kernel_size", d.blur_kernel_size, "Blur kernel size (odd).",
                         lower_bound=1, flag_values=flag_values)
    ranges = {"blur_sigma": "Blur sigma range in pixels",
              "downscale": "Downscaling factor range",
              "noise_sigma": "Gaussian noise sigma range on the 0-255 scale",
              "jpeg_quality": "JPEG quality range"}
    for name, help_text in ranges.items():
        flags.DEFINE_list(name, [f"{v:g}" for v in getattr(d, name)],
                          f"{help_text}: LOW,HIGH, one value for a fixed one, or 'off'.",
                          flag_values=flag_values)


def _parse_range(name, values):
    if values in ([], ["off"]):
        return None
    try:
        numbers = tuple(float(v) for v in values)
    except ValueError:
        numbers = ()
    if len(numbers) not in (1, 2):
        raise ValueError(f"--{name}={','.join(values)}: give LOW,HIGH, one number or 'off'")
    return numbers * 2 if len(numbers) == 1 else numbers


def degradation_from_flags(flag_values=flags.FLAGS):
    """The Degradation the flags of `define_degradation_flags` ask for; a ValueError names a bad flag."""
    ranges = {name: _parse_range(name, flag_values[name].value)
              for name in ("blur_sigma", "downscale", "noise_sigma", "jpeg_quality")}
    try:
        return Degradation(gray_prob=flag_values.gray_prob, aniso_prob=flag_values.aniso_prob,
                           blur_kernel_size=flag_values.blur_kernel_size, **ranges)
    except ValueError as err:
        raise ValueError(f"--{err}") from err
