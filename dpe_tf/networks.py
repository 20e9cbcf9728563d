"""The networks of Deep Photo Enhancer (Chen et al., CVPR 2018), layer for layer as the official TF code.

The official code (nothinglo's experimental release for TF 0.12, copies in forks such as
MrRobot2211/deep-photo-enhance-t2 `DATA.py`/`CONVNET.py`/`TF.py`) describes each network as a list of
layers over a `tensor_list`; `dpe_tf/NOTES.md` maps every official layer index to the Keras layer
name used here, with the parameter counts worked out by hand.

Generator: the "global U-Net", a `keras.Model` made of three sub-models reachable with `get_layer`:

    encoder      image (any H, W divisible by 16) -> [e1, e2, e3, e4, features]
                 e1..e4 are the outputs of encoder convs 1-4 *before* their SELU/BN (the official skips),
                 features the 1/16 map after the 5th block.
    global_path  features of a training-size image (S/16 x S/16 x 128) -> 1 x 1 x 128 global feature.
    decoder      [image, e1, e2, e3, e4, features, global] -> image + residual (float32).

`generator(x)` for x of the training size runs encoder -> global_path -> decoder, exactly the official
network. For photos of other sizes, the paper's (and the official demo's) answer is to compute the global
feature from a downsized copy and everything else at full resolution: `enhance_with_global` does that with
the same sub-models and weights.

Two-way GAN with individual batch normalization (iBN): `generator_pair` returns two generators that share
every convolution but have their own BatchNormalization layers: the first is used on real inputs, the second
on the other generator's (clipped) output in the cycle pass, as the official `act_o` index 0 / 1.

Discriminator: `discriminator`, the WGAN critic, one score per image.

Only Keras layers and `keras.ops` are used inside layers, so the networks run under every Keras backend.
"""

import collections

import keras
from keras import ops

from common.layers import BatchNormalization, leaky_relu

# Official SELU constants (CONVNET.py `exe_selu_layer`); the standard SELU constants
# (1.6732632..., 1.0507009...) are commented out there.
SELU_ALPHA = 1.0198755295894968
SELU_SCALE = 1.0026538655307724
BN_MOMENTUM = 0.9  # official `bn_layer(decay=0.9)`
EPSILON = 1e-5     # official epsilon of both `bn_layer` and `in_layer`
# Official initialiser: tf.contrib.layers.variance_scaling_initializer(factor=1e-3) with its defaults
# mode='FAN_IN', uniform=False, i.e. truncated_normal(0, sqrt(1.3 * 1e-3 / fan_in)) cut at 2 stddev.
INIT_FACTOR = 1e-3
# Keras' VarianceScaling divides the stddev by this constant (std of a unit normal cut at +-2) where
# contrib multiplied the variance by 1.3; this scale makes both give exactly stddev sqrt(1.3e-3 / fan_in).
_TRUNCATED_STD = 0.87962566103423978
GLOBAL_FEATURES = 128


def official_initializer():
    """Truncated normal, stddev sqrt(1.3e-3 / fan_in), fan_in = kh * kw * c_in (biases are zeros)."""
    return keras.initializers.VarianceScaling(
        scale=1.3 * INIT_FACTOR * _TRUNCATED_STD ** 2, mode="fan_in", distribution="truncated_normal")


@keras.saving.register_keras_serializable(package="dpe_tf")
class SymmetricPadding2D(keras.layers.Layer):
    """Pads H and W by `padding` on each side like `tf.pad(mode='SYMMETRIC')` / `np.pad(mode='symmetric')`
    (the edge pixel is repeated). Built from one-pixel slices and concatenations, so that every backend
    runs it and tf2onnx converts it at unknown sizes (it cannot convert a flip there).
    As in TF, the padding may not exceed the size of the padded dimension. (Belongs with
    `common/layers.py` if another model needs it.)"""

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def build(self, input_shape):
        for dim in input_shape[1:3]:
            if dim is not None and dim < self.padding:
                raise ValueError(
                    f"{self.name}: symmetric padding {self.padding} is larger than a feature map of "
                    f"size {dim}; the input image is too small for this network")

    def call(self, x):
        p = self.padding
        if p == 0:
            return x
        # Rows p-1 .. 0, the map, rows -1 .. -p; then the same for columns.
        x = ops.concatenate([x[:, i:i + 1] for i in reversed(range(p))] + [x]
                            + [x[:, -1 - i:-i or None] for i in range(p)], axis=1)
        return ops.concatenate([x[:, :, i:i + 1] for i in reversed(range(p))] + [x]
                               + [x[:, :, -1 - i:-i or None] for i in range(p)], axis=2)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        h, w = (None if d is None else d + 2 * self.padding for d in (h, w))
        return (b, h, w, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="dpe_tf")
class SELU(keras.layers.Layer):
    """scale * (x if x >= 0 else alpha * (exp(x) - 1)), with the official (non-standard) constants."""

    def __init__(self, alpha=SELU_ALPHA, scale=SELU_SCALE, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.scale = float(scale)

    def call(self, x):
        return self.scale * ops.elu(x, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "scale": self.scale}


@keras.saving.register_keras_serializable(package="dpe_tf")
class GlobalConcat(keras.layers.Layer):
    """Concatenates [x, the 1x1 global feature tiled over x's H and W] (official `g_concat`)."""

    def build(self, input_shapes):
        g_shape = input_shapes[1]
        if any(d is not None and d != 1 for d in g_shape[1:3]):
            raise ValueError(
                f"{self.name}: the global feature must be 1x1, got {g_shape[1]}x{g_shape[2]}: the "
                f"global path only gives 1x1 on a feature map of an image of the training size")

    def call(self, inputs):
        x, g = inputs
        # (B or 1, 1, 1, C) * (B, H, W, 1) broadcasts to the tiled feature, with no dynamic shapes.
        return ops.concatenate([x, g * ops.ones_like(x[..., :1])], axis=-1)

    def compute_output_shape(self, input_shapes):
        x, g = input_shapes
        return tuple(x[:-1]) + (x[-1] + g[-1],)


@keras.saving.register_keras_serializable(package="dpe_tf")
class ImageMean(keras.layers.Layer):
    """Mean over H, W and C: one score per image (official `reduce_mean_layer([1, 2, 3])`)."""

    def call(self, x):
        return ops.mean(x, axis=(1, 2, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


def _conv(filters, kernel_size, strides=1, name=None):
    """An official `conv_layer`: 'valid' Conv2D with bias; the symmetric padding is a separate layer."""
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="valid", use_bias=True,
        kernel_initializer=official_initializer(), bias_initializer="zeros", name=name)


def _batch_norm(name):
    # Official bn_layer(use_offset=True, use_scale=True): offset 0, scale 1, decay 0.9, eps 1e-5, biased
    # batch variance for both normalisation and the moving average (Keras does the same).
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=EPSILON, name=name)


def _check_image_size(image_size):
    if image_size < 64 or image_size % 64:
        raise ValueError(f"image_size must be a multiple of 64 (the global path halves the image 6 "
                         f"times), at least 64; got {image_size}")


# Generator layout, in official order: (name, kernel, stride, filters).
_ENCODER = [("enc1", 3, 1, 16), ("enc2", 5, 2, 32), ("enc3", 5, 2, 64), ("enc4", 5, 2, 128),
            ("enc5", 5, 2, 128)]
_GLOBAL = [("glob1", 5, 2, 128), ("glob2", 5, 2, 128)]  # then glob3 (VALID S/64) and glob4 (1x1)
# Decoder blocks 3-6: conv 3x3 -> nearest x2 -> concat encoder conv output -> SELU -> BN.
_UP = [("dec3", 128, 3), ("dec4", 128, 2), ("dec5", 64, 1), ("dec6", 32, 0)]  # (name, filters, skip)


def _generator_convs(image_size, channels):
    """Every convolution of the generator, created once so that iBN generators can share them."""
    convs = {name: _conv(f, k, s, name=f"{name}_conv") for name, k, s, f in _ENCODER + _GLOBAL}
    # Official: Conv 8x8 VALID at 512, the size of the 1/64 map, so the global feature is 1x1.
    convs["glob3"] = _conv(GLOBAL_FEATURES, image_size // 64, name="glob3_conv")
    convs["glob4"] = _conv(GLOBAL_FEATURES, 1, name="glob4_conv")
    convs["dec1"] = _conv(128, 3, name="dec1_conv")
    convs["dec2"] = _conv(128, 1, name="dec2_conv")
    for name, filters, _ in _UP:
        convs[name] = _conv(filters, 3, name=f"{name}_conv")
    convs["dec7"] = _conv(16, 3, name="dec7_conv")
    convs["dec8"] = _conv(channels, 3, name="dec8_conv")
    return convs


def _padded(x, convs, name):
    """Symmetric padding (kernel - 1) // 2, then the shared conv; as official, none for 1x1 or VALID."""
    conv = convs[name]
    pad = (conv.kernel_size[0] - 1) // 2
    if pad:
        x = SymmetricPadding2D(pad, name=f"{name}_pad")(x)
    return conv(x)


def _act(x, name, suffix):
    """Official `act`: SELU then BatchNorm (one BN set per generator of an iBN pair)."""
    x = SELU(name=f"{name}_selu")(x)
    return _batch_norm(f"{name}_bn{suffix}")(x)


def _encoder(convs, channels, suffix):
    image = keras.Input((None, None, channels), name="image")
    x, outputs = image, []
    for name, *_ in _ENCODER:
        x = _padded(x, convs, name)
        outputs.append(x)  # the official skips are the conv outputs, before SELU/BN
        x = _act(x, name, suffix)
    return keras.Model(image, outputs[:4] + [x], name="encoder")


def _global_path(convs, image_size, suffix):
    features = keras.Input((image_size // 16, image_size // 16, 128), name="features")
    x = features
    for name, *_ in _GLOBAL:
        x = _act(_padded(x, convs, name), name, suffix)
    x = SELU(name="glob3_selu")(convs["glob3"](x))  # no BN after the VALID conv
    x = convs["glob4"](x)  # the global feature: a linear 1x1 conv, no activation
    return keras.Model(features, x, name="global_path")


def _decoder(convs, channels, suffix):
    image = keras.Input((None, None, channels), name="image")
    skips = [keras.Input((None, None, f), name=f"e{k}") for k, (_, _, _, f) in enumerate(_ENCODER[:4], 1)]
    features = keras.Input((None, None, 128), name="features")
    global_feature = keras.Input((1, 1, GLOBAL_FEATURES), name="global_feature")

    x = _padded(features, convs, "dec1")
    x = GlobalConcat(name="dec1_global")([x, global_feature])
    x = _act(_padded(x, convs, "dec2"), "dec2", suffix)
    for name, _, skip in _UP:
        x = _padded(x, convs, name)
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(x)
        x = keras.layers.Concatenate(name=f"{name}_skip")([x, skips[skip]])
        x = _act(x, name, suffix)
    x = _act(_padded(x, convs, "dec7"), "dec7", suffix)
    x = _padded(x, convs, "dec8")
    # The residual sum is taken in float32 so that mixed precision does not round the input image.
    x = keras.layers.Activation("linear", dtype="float32", name="residual_f32")(x)
    outputs = keras.layers.Add(dtype="float32", name="residual_add")([x, image])
    return keras.Model([image, *skips, features, global_feature], outputs, name="decoder")


def _global_unet(convs, image_size, channels, suffix, name):
    encoder = _encoder(convs, channels, suffix)
    global_path = _global_path(convs, image_size, suffix)
    decoder = _decoder(convs, channels, suffix)
    image = keras.Input((image_size, image_size, channels), name="image")
    *skips, features = encoder(image)
    outputs = decoder([image, *skips, features, global_path(features)])
    return keras.Model(image, outputs, name=name)


def generator(image_size=512, channels=3, name="generator"):
    """The official global U-Net for `image_size` x `image_size` inputs in [0, 1] (the paper: 512).

    The global path's VALID conv has kernel image_size // 64 (8 at 512, as the official code), so any
    multiple of 64 builds the same architecture at another scale; only at 512 are the counts official.
    """
    _check_image_size(image_size)
    return _global_unet(_generator_convs(image_size, channels), image_size, channels, "", name)


def generator_pair(image_size=512, channels=3, name="generator"):
    """Two generators with individual batch normalization (iBN), sharing every convolution.

    Returns (generator, cycle_generator): `generator` (BN set 0) is applied to real inputs and is the
    network used at inference; `cycle_generator` (BN set 1, layers named `*_bn_cycle`) is applied to
    the other generator's clipped output in the cycle pass. The official code keeps both BN sets inside
    one generator scope and picks one with `act_o['index']`.
    """
    _check_image_size(image_size)
    convs = _generator_convs(image_size, channels)
    return (_global_unet(convs, image_size, channels, "", name),
            _global_unet(convs, image_size, channels, "_cycle", f"{name}_cycle"))


GeneratorParts = collections.namedtuple("GeneratorParts", "encoder global_path decoder")


def parts(gen):
    """The (encoder, global_path, decoder) sub-models of a generator built here."""
    return GeneratorParts(*(gen.get_layer(n) for n in GeneratorParts._fields))


def global_feature(gen, images, training=False):
    """The 1 x 1 x 128 global feature of images of the training size."""
    encoder, global_path, _ = parts(gen)
    images = ops.convert_to_tensor(images)
    return global_path(encoder(images, training=training)[-1], training=training)


def enhance_with_global(gen, full_images, global_source_images=None, features=None, training=False):
    """Enhances images of any size with the global feature of a training-size copy (paper, Sec. 4).

    `full_images` (B, H, W, C) with H and W divisible by 16 (four stride-2 convs, then four x2
    upsamplings whose outputs are concatenated with the encoder maps) go through the encoder and decoder
    at full resolution; the global feature comes from `global_source_images`, the same photos at the
    training size (the official demo resizes the long side to 512 and pads bottom/right symmetrically),
    or is given directly as `features` (B or 1, 1, 1, 128), e.g. from `global_feature`.
    When `full_images` is `global_source_images` this is exactly `gen(full_images)`.
    """
    if (global_source_images is None) == (features is None):
        raise ValueError("give exactly one of global_source_images and features")
    full_images = ops.convert_to_tensor(full_images)
    for dim in full_images.shape[1:3]:
        if dim is not None and (dim < 16 or dim % 16):
            raise ValueError(f"full-resolution height and width must be multiples of 16, got "
                             f"{tuple(full_images.shape[1:3])}")
    encoder, _, decoder = parts(gen)
    if features is None:
        features = global_feature(gen, global_source_images, training=training)
    features = ops.convert_to_tensor(features)
    *skips, local = encoder(full_images, training=training)
    return decoder([full_images, *skips, local, features], training=training)


def discriminator(image_size=512, channels=3, name="discriminator"):
    """The official critic: Conv 3x3 s1 16, Conv 5x5 s2 32/64/128/128/128, each Conv -> LeakyReLU(0.2)
    -> affine InstanceNorm, then a VALID conv to 1 channel and the mean: one float32 score per image.

    The last conv's kernel is image_size // 32 (16 at 512, as the official code), so that it covers the
    whole 1/32 map; larger inputs give a map of scores that is averaged, as the official reduce_mean.
    """
    if image_size < 32 or image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    image = keras.Input((None, None, channels), name="image")
    x = image
    for k, (kernel, strides, filters) in enumerate(
            [(3, 1, 16), (5, 2, 32), (5, 2, 64), (5, 2, 128), (5, 2, 128), (5, 2, 128)], 1):
        x = SymmetricPadding2D((kernel - 1) // 2, name=f"layer{k}_pad")(x)
        x = _conv(filters, kernel, strides, name=f"layer{k}_conv")(x)
        x = leaky_relu(name=f"layer{k}_lrelu")(x)
        # Official in_layer(True, True): per-image moments over H, W (biased), offset 0 / scale 1, eps 1e-5.
        x = keras.layers.GroupNormalization(groups=-1, epsilon=EPSILON, name=f"layer{k}_in")(x)
    x = _conv(1, image_size // 32, name="score_conv")(x)
    x = keras.layers.Activation("linear", dtype="float32", name="score_f32")(x)
    outputs = ImageMean(dtype="float32", name="score_mean")(x)
    return keras.Model(image, outputs, name=name)
