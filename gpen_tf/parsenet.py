"""ParseNet, the face parser whose mask GPEN's whole-photo pipeline pastes faces with
(`face_parse/parse_model.py`, `blocks.py`), in Keras.

GPEN builds ParseNet(512, 512, min_feat_size=32, base_ch=64, parsing_ch=19, norm "bn", relu
"LeakyReLU", ch_range (32, 256)) and loads `ParseNet-latest.pth`. In the official order:
- an encoder: a 3x3 ConvLayer to base_ch, then one residual block per halving down to min_feat_size,
  doubling the channels (clipped to ch_range);
- a body of `res_depth` (10) residual blocks, added to the encoder's output;
- a decoder: one residual block per doubling up to out_size, halving the channels;
- two 3x3 ConvLayers: `image` (3 channels) and `mask` (19 classes).
A ConvLayer is [nearest 2x upsampling] -> reflection padding of 1 -> conv (stride 2 to go down; no bias
before batch norm) -> [batch norm] -> [leaky ReLU 0.2]. A residual block is conv1 (batch norm, leaky
ReLU; it holds the upsampling of an "up" block) and conv2 (batch norm; it holds the stride of a
"down" block), plus a shortcut: the input, or a plain ConvLayer with the block's scale when the block
changes the size or the channels.

Layers are named by their official keys (`encoder.1.conv1.conv2d`, `...norm.norm`), so `port` maps a
state dict by name. Input: float32 RGB [1, S, S, 3] in [-1, 1], as FaceParse.img2tensor makes it;
outputs `mask` [1, S, S, 19] (class scores) and `image` [1, S, S, 3].

`python -m gpen_tf.convert --checkpoint=ParseNet-latest.pth --output=DIR` writes DIR/saved_model, whose
`raw` signature (also serving_default) is that forward.
"""

import math
import keras
from keras import layers, ops

from common import export, porting

MODEL = "ParseNet"  # the metadata's model name of a converted ParseNet
BN_EPSILON = 1e-5  # PyTorch's
SLOPE = 0.2  # the official LeakyReLU
# What GPEN's FaceParse builds (face_parse/face_parsing.py).
OFFICIAL = dict(in_size=512, out_size=512, min_feat_size=32, base_ch=64, parsing_ch=19, res_depth=10,
                ch_range=(32, 256))


class ReflectionPad(layers.Layer):
    """PyTorch's ReflectionPad2d(1): the border reflected without repeating the edge pixel."""

    def call(self, x):
        return ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")

    def compute_output_shape(self, shape):
        return (shape[0], *(None if s is None else s + 2 for s in shape[1:3]), shape[3])


def _conv_layer(x, filters, name, *, scale="none", norm=False, act=False):
    """The official ConvLayer (kernel 3): see the module docstring."""
    if scale == "up":
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}.up")(x)
    x = ReflectionPad(name=f"{name}.pad")(x)
    x = layers.Conv2D(filters, 3, 2 if scale == "down" else 1, use_bias=not norm, name=f"{name}.conv2d")(x)
    if norm:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}.norm.norm")(x)
    return ops.leaky_relu(x, negative_slope=SLOPE) if act else x


def _residual_block(x, c_in, c_out, name, scale="none"):
    identity = x
    if scale != "none" or c_in != c_out:
        identity = _conv_layer(x, c_out, f"{name}.shortcut_func", scale=scale)
    first, second = {"down": ("none", "down"), "up": ("up", "none"), "none": ("none", "none")}[scale]
    res = _conv_layer(x, c_out, f"{name}.conv1", scale=first, norm=True, act=True)
    res = _conv_layer(res, c_out, f"{name}.conv2", scale=second, norm=True)
    return identity + res


def build_parsenet(in_size=512, out_size=512, min_feat_size=32, base_ch=64, parsing_ch=19, res_depth=10,
                   ch_range=(32, 256), name="parsenet"):
    """ParseNet with GPEN's settings by default (batch norm, leaky ReLU; see the module docstring)."""
    low, high = ch_range

    def clip(channels):
        return max(low, min(channels, high))

    min_feat_size = min(in_size, min_feat_size)
    image = keras.Input((in_size, in_size, 3), batch_size=1, name="image")
    x = _conv_layer(image, base_ch, "encoder.0")
    head = base_ch
    for k in range(int(math.log2(in_size // min_feat_size))):
        x = _residual_block(x, clip(head), clip(head * 2), f"encoder.{k + 1}", "down")
        head *= 2
    feat = x
    for k in range(res_depth):
        x = _residual_block(x, clip(head), clip(head), f"body.{k}")
    x = feat + x
    for k in range(int(math.log2(out_size // min_feat_size))):
        x = _residual_block(x, clip(head), clip(head // 2), f"decoder.{k}", "up")
        head //= 2
    return keras.Model(image, {"mask": _conv_layer(x, parsing_ch, "out_mask_conv"),
                               "image": _conv_layer(x, 3, "out_img_conv")}, name=name)


def port(model, port_):
    """Put an official ParseNet state dict (`port_`, a common.porting.Porting) into `model`."""
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            port_.conv(layer, layer.name)
        elif isinstance(layer, layers.BatchNormalization):
            port_.batch_norm(layer, layer.name)


def convert(config, state, source="the checkpoint"):
    """A ParseNet (Keras) holding an official state dict; `config` from checkpoints.parsenet_config."""
    return porting.ported(build_parsenet(**config), port, state, source)


def write(model, config, output):
    """DIR/saved_model of a converted ParseNet: `raw` and serving_default, and the metadata."""
    size = config["in_size"]
    return export.write_raw(model, lambda image: model(image), output, [1, size, size, 3], MODEL, config)
