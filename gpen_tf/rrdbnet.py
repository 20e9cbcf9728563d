"""RealESRNet's RRDBNet (ESRGAN's generator, as GPEN's `sr_model/rrdbnet_arch.py` builds it), in Keras.

GPEN's whole-photo pipeline can super-resolve the background before it restores the faces, with the
released `realesrnet_x1.pth`, `realesrnet_x2.pth` or `realesrnet_x4.pth` (`params_ema`): an RRDBNet of
23 blocks, 32 features and 32 growth channels. The layers, in the official order:

- x1 and x2 first fold the photo into channels (pixel-unshuffle by 4 and by 2), so that the network
  always upsamples by 4 in the end; the channel order is PyTorch's (channel, row, column);
- conv_first; `num_block` RRDBs (three residual dense blocks each: five 3x3 convs, each seeing the
  input and every earlier output, leaky ReLU 0.2 after the first four, the fifth's output times 0.2
  added to the block's input; the RRDB's output times 0.2 added to its input); conv_body, added to
  conv_first's output;
- twice a nearest-neighbour 2x upsampling and a 3x3 conv with leaky ReLU; conv_hr with leaky ReLU;
  conv_last to 3 channels.

All convolutions are 3x3, stride 1, padding 1, with biases. Input: RGB in [0, 1], NHWC, the sides a
multiple of 4 (x1) or 2 (x2); output: the photo `scale` times larger, not clipped. 9,601,315,
9,590,947 and 9,588,355 parameters at x1, x2 and x4, as the official class.
"""

import keras
from keras import layers, ops

SCALES = (1, 2, 4)
# What GPEN's RealESRNet builds (sr_model/real_esrnet.py).
OFFICIAL = dict(num_feat=32, num_block=23, num_grow_ch=32)
SLOPE = 0.2      # the official leaky ReLU slope
RESIDUAL = 0.2   # the official scale of each residual before it is added


def unshuffle_factor(scale):
    """How much RRDBNet folds the photo into channels at `scale` (1 for x4)."""
    if scale not in SCALES:
        raise ValueError(f"RRDBNet's scale is one of {SCALES}, got {scale!r}")
    return 4 // scale


def pixel_unshuffle(x, factor):
    """[B, H, W, C] -> [B, H / f, W / f, C * f * f], channel c * f * f + i * f + j holding pixel
    (f * y + i, f * x + j) of channel c: PyTorch's order (tf.nn.space_to_depth puts c last)."""
    batch, height, width, channels = ops.shape(x)
    x = ops.reshape(x, (batch, height // factor, factor, width // factor, factor, channels))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4))
    return ops.reshape(x, (batch, height // factor, width // factor, channels * factor * factor))


class PixelUnshuffle(layers.Layer):
    """`pixel_unshuffle` as a layer, for inputs of any size (a multiple of `factor`)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return pixel_unshuffle(x, self.factor)

    def compute_output_shape(self, shape):
        f = self.factor
        return (shape[0], *(None if side is None else side // f for side in shape[1:3]), shape[3] * f * f)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _conv(filters, name):
    return layers.Conv2D(filters, 3, padding="same", name=name)


def _lrelu(x):
    return ops.leaky_relu(x, negative_slope=SLOPE)


def _dense_block(x, num_feat, num_grow_ch, name):
    """A residual dense block: five convs, each on the concatenation of the input and all earlier
    outputs; the last one's output scaled by 0.2 and added to the input."""
    seen = [x]
    for k in range(1, 5):
        seen.append(_lrelu(_conv(num_grow_ch, f"{name}_conv{k}")(ops.concatenate(seen, axis=-1))))
    return _conv(num_feat, f"{name}_conv5")(ops.concatenate(seen, axis=-1)) * RESIDUAL + x


def _rrdb(x, num_feat, num_grow_ch, name):
    out = x
    for k in range(1, 4):
        out = _dense_block(out, num_feat, num_grow_ch, f"{name}_rdb{k}")
    return out * RESIDUAL + x


def build_rrdbnet(scale=2, num_feat=32, num_block=23, num_grow_ch=32, name="rrdbnet"):
    """RRDBNet for `scale` (1, 2 or 4) with GPEN's sizes by default, for photos of any size whose
    sides divide by `unshuffle_factor(scale)`."""
    factor = unshuffle_factor(scale)
    photo = keras.Input((None, None, 3), name="image")
    feat = PixelUnshuffle(factor, name="unshuffle")(photo) if factor > 1 else photo
    feat = _conv(num_feat, "conv_first")(feat)
    body = feat
    for k in range(num_block):
        body = _rrdb(body, num_feat, num_grow_ch, f"body_{k}")
    feat = feat + _conv(num_feat, "conv_body")(body)
    for k in (1, 2):
        feat = layers.UpSampling2D(2, interpolation="nearest", name=f"up{k}")(feat)
        feat = _lrelu(_conv(num_feat, f"conv_up{k}")(feat))
    out = _conv(3, "conv_last")(_lrelu(_conv(num_feat, "conv_hr")(feat)))
    return keras.Model(photo, out, name=name)


def port(model, port_, prefix=""):
    """Put an official RRDBNet state dict (`port_`, a common.porting.Porting over `params_ema`) into
    `model`, key by key."""
    for layer in model.layers:
        if not isinstance(layer, layers.Conv2D):
            continue
        key = layer.name
        if key.startswith("body_"):  # body_3_rdb2_conv4 -> body.3.rdb2.conv4
            key = key.replace("_", ".", 1).replace("_rdb", ".rdb").replace("_conv", ".conv")
        port_.conv(layer, prefix + key)
