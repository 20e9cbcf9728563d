"""The demo 'users': retouching presets applied to the demo photos, as TensorFlow image ops.

PieNet learns from many users who retouched the same photos (FiveK's experts A-E, plus preset- and
algorithm-made styles in the paper). The demo has no retoucher, so each user here is a preset, a
plausible photo edit of its own, that varies a little from photo to photo (below). Fourteen named
presets train (warm, cool, bright, faded, punchy, noir, dark, muted, contrast, golden, matte_cool,
green_tint, magenta_tint, cross_process), and so do forty generated looks (look_00 ... look_39:
saturation, exposure, contrast, white balance, levels and split toning, each setting drawn at a random
strength from a fixed seed). Three named presets are held out (moody, vintage, teal_orange): the model
never sees them in training and must follow them from a handful of preferred photos, as the paper's
new users. A new user can only be followed if the training users span tastes like theirs: with six
training users the held-out ones were not, and with the fourteen named ones a mild edit such as
teal_orange had no neighbour milder than doing nothing.

A user's retouch of a photo (`apply`) is its preset (`preset`) followed by a small edit of that photo's
own: exposure, white balance and saturation moved by random amounts (VARIATION) drawn from the user and
the photo's pixels. Real retouchers do not apply one fixed preset either, and it is what makes more
liked photos tell more: with a fixed preset one photo shows the whole taste, so five could not beat one.
Both map uint8 photos [..., H, W, 3] to uint8 photos of the same shape and give the same output for
the same photo every time (one by one or in a batch, where a rounding may differ by one level), so
that they work inside tf.data.
"""

import numpy as np
import tensorflow as tf

# ITU-R BT.601 luma weights, as tf.image.rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def _luma(x):
    return tf.reduce_sum(x * tf.constant(_LUMA), axis=-1, keepdims=True)


def _saturate(x, amount):
    """Scale the colour away from (amount > 1) or towards (amount < 1) the pixel's gray."""
    gray = _luma(x)
    return gray + amount * (x - gray)


def _s_curve(x, amount):
    """Contrast: blend towards the smoothstep S-curve, which darkens shadows and brightens highlights."""
    return x + amount * (x * x * (3.0 - 2.0 * x) - x)


def _levels(x, black, white):
    """Map 0 -> black and 1 -> white: lifted blacks and dimmed whites make a flat, faded look."""
    return black + (white - black) * x


def _gains(x, red, green, blue):
    """Per-channel gains: a white-balance shift."""
    return x * tf.constant([red, green, blue])


def warm(x):
    """Warmer white balance: more red, less blue."""
    return _gains(x, 1.12, 1.02, 0.82)


def cool(x):
    """Cooler white balance: less red, more blue."""
    return _gains(x, 0.85, 1.0, 1.14)


def bright(x):
    """Brighter exposure: midtones lifted by gamma 0.65 and a slight gain."""
    return 1.05 * x ** 0.65


def faded(x):
    """Matte film look: blacks lifted to 0.16, whites dimmed to 0.86, colours muted."""
    return _levels(_saturate(x, 0.75), 0.16, 0.86)


def punchy(x):
    """Vivid: saturation x1.45 and an S-curve."""
    return _s_curve(_saturate(x, 1.45), 0.6)


def noir(x):
    """High-contrast black and white: the luma through a full S-curve."""
    return tf.repeat(_s_curve(_luma(x), 1.0), 3, axis=-1)


def moody(x):
    """Dark and muted with a cold-green cast: gamma 1.5, saturation x0.7."""
    return _gains(_saturate(x, 0.7) ** 1.5, 0.94, 1.0, 1.04)


def vintage(x):
    """Faded sepia print: the luma toned brown, a quarter of the original colour kept, flat levels."""
    sepia = _luma(x) * tf.constant([1.15, 0.95, 0.66])
    return _levels(0.75 * sepia + 0.25 * x, 0.06, 0.90)


def teal_orange(x):
    """Split toning: shadows pushed to teal, highlights to orange, with a little contrast."""
    tone = (2.0 * _luma(x) - 1.0) * tf.constant([0.12, 0.02, -0.12])
    return _s_curve(x, 0.3) + tone


def dark(x):
    """Underexposed on purpose: midtones pressed down by gamma 1.8."""
    return x ** 1.8


def muted(x):
    """Quiet colour: saturation x0.4."""
    return _saturate(x, 0.4)


def contrast(x):
    """A full S-curve: deeper shadows, brighter highlights, colour kept."""
    return _s_curve(x, 1.0)


def golden(x):
    """Golden hour: lifted midtones (gamma 0.8) with a strong warm balance."""
    return _gains(x ** 0.8, 1.12, 1.0, 0.72)


def matte_cool(x):
    """Faded and cold: levels 0.2-0.85 and a strong blue balance."""
    return _gains(_levels(x, 0.2, 0.85), 0.8, 1.0, 1.2)


def green_tint(x):
    """A green cast, as under fluorescent light."""
    return _gains(x, 0.88, 1.08, 0.9)


def magenta_tint(x):
    """A magenta cast."""
    return _gains(x, 1.08, 0.86, 1.08)


def cross_process(x):
    """Split toning another way: shadows red-magenta, highlights green."""
    tone = (2.0 * _luma(x) - 1.0) * tf.constant([-0.12, 0.1, -0.04])
    return _s_curve(x, 0.3) + tone


def _look(x, gamma, gains, saturation, black, white, curve, tone):
    """The generated users' edit: saturation, exposure (gamma), contrast curve, white balance, levels
    and split toning, in that order."""
    x = tf.clip_by_value(_saturate(x, saturation), 0.0, 1.0) ** gamma
    x = _gains(_s_curve(x, curve), *gains)
    return _levels(x, black, white) + (2.0 * _luma(x) - 1.0) * tf.constant(tone)


def _generated(index):
    """Generated user `index`: a `_look` whose settings are drawn from a fixed seed, each moved away
    from "no edit" by a random strength, so that mild edits are as common as strong ones."""
    rng = np.random.default_rng([_GENERATED_SEED, index])
    strength = rng.uniform(0.2, 1.0)
    settings = dict(
        gamma=float(np.exp(strength * rng.uniform(-0.6, 0.6))),
        gains=tuple(float(g) for g in np.exp(strength * rng.normal(0.0, 0.1, 3))),
        saturation=float(np.exp(strength * rng.uniform(-1.0, 0.4))),
        black=float(strength * rng.uniform(0.0, 0.18)),
        white=float(1.0 - strength * rng.uniform(0.0, 0.15)),
        curve=float(strength * rng.uniform(-0.6, 1.0)),
        tone=tuple(float(t) for t in strength * rng.normal(0.0, 0.06, 3)))

    def look(x):
        return _look(x, **settings)

    look.__name__ = f"look_{index:02d}"
    return look


_GENERATED_SEED = 16
GENERATED = 40
_PRESETS = (warm, cool, bright, faded, punchy, noir, dark, muted, contrast, golden, matte_cool,
            green_tint, magenta_tint, cross_process, moody, vintage, teal_orange,
            *(_generated(i) for i in range(GENERATED)))
NAMES = tuple(fn.__name__ for fn in _PRESETS)
HELD_OUT = ("moody", "vintage", "teal_orange")
TRAIN = tuple(name for name in NAMES if name not in HELD_OUT)


# Standard deviations of the per-photo edit's log factors: exposure (a gamma), white balance (each
# channel's gain) and saturation.
VARIATION = dict(exposure=0.12, balance=0.04, saturation=0.12)


def _index(name):
    if name not in NAMES:
        raise ValueError(f"unknown style {name!r}; the demo styles are {', '.join(NAMES)}")
    return NAMES.index(name)


def _edited(name, photos):
    return tf.clip_by_value(_PRESETS[_index(name)](tf.cast(photos, tf.float32) / 255.0), 0.0, 1.0)


def _to_uint8(x):
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0), tf.uint8)


def preset(name, photos):
    """The preset `name` alone (the user's taste) on uint8 photos [..., H, W, 3]: uint8 of the same
    shape, the same edit on every photo."""
    return _to_uint8(_edited(name, photos))


def _photo_normals(name, photos):
    """Five standard normal numbers [..., 5] for each photo of uint8 `photos` [..., H, W, 3], fixed by
    the user and the sum of the photo's pixels."""
    shape = tf.shape(photos)
    flat = tf.reshape(photos, tf.concat([[-1], shape[-3:]], axis=0))
    sums = tf.reduce_sum(tf.cast(flat, tf.int64), axis=[1, 2, 3]) % (2 ** 31 - 1)
    user = tf.constant(_index(name), tf.int64)
    normals = tf.map_fn(lambda s: tf.random.stateless_normal([5], tf.stack([user, s])), sums,
                        fn_output_signature=tf.float32)
    return tf.reshape(normals, tf.concat([shape[:-3], [5]], axis=0))


def apply(name, photos):
    """User `name`'s retouch of uint8 photos [..., H, W, 3]: its preset, then the photo's own edit of
    exposure, white balance and saturation (see VARIATION); uint8 of the same shape."""
    y = _edited(name, photos)
    draws = _photo_normals(name, photos)[..., None, None, :]  # [..., 1, 1, 5]
    y = tf.clip_by_value(_saturate(y, tf.exp(VARIATION["saturation"] * draws[..., 4:])), 0.0, 1.0)
    y = y ** tf.exp(VARIATION["exposure"] * draws[..., :1])
    return _to_uint8(y * tf.exp(VARIATION["balance"] * draws[..., 1:4]))
