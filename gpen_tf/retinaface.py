"""RetinaFace, the face detector of GPEN's whole-photo pipeline (`face_detect/facemodels/`), in Keras.

Two backbones, as the official class takes them: torchvision's ResNet-50 (`RetinaFace-R50.pth`, the
one GPEN uses; its layer2, layer3 and layer4 feed the FPN) and MobileNet-0.25 (its stage1, stage2 and
stage3). Then, in the official order: an FPN (a 1x1 conv + batch norm + activation per level; the
coarser level upsampled by nearest neighbour to the finer one's size, added, and a 3x3 conv + batch
norm + activation), an SSH context module per level (3x3 branch of half the channels; 5x5 and 7x7
branches of a quarter, made of stacked 3x3 convs; concatenated, ReLU), and per level 1x1 heads for
two anchors: box offsets (4), face/background (2) and five landmarks (10), each laid out as rows,
columns, anchors and concatenated over the levels. The activation is ReLU with 256 output channels
(R50) and leaky ReLU 0.1 with 64 (MobileNet), as the official `leaky = 0.1 if out_channel <= 64`.
In test mode (the only one here) the class scores go through a softmax.

Every layer is named after its key in the official state dict (`body.layer1.0.conv1`, `fpn.output1.0`,
`ssh1.conv3X3.1`, `ClassHead.0.conv1x1`, ...), so `port` maps a state dict onto it by name. Convolutions
with stride 2 pad explicitly, as PyTorch does (Keras' "same" pads an even input asymmetrically).

Input: float32 BGR [1, H, W, 3] minus (104, 117, 123), as `RetinaFaceDetection.detect` feeds the
network; outputs `loc` [1, P, 4], `conf` [1, P, 2] and `landms` [1, P, 10] (P priors:
retinaface_boxes.priors).

`python -m gpen_tf.convert --checkpoint=RetinaFace-R50.pth --output=DIR` writes DIR/saved_model, whose
`raw` signature (also serving_default) is that forward: `image` in, `loc`, `conf`, `landms` out.
"""

import keras
from keras import layers, ops

from common import export, porting

MODEL = "RetinaFace"  # the metadata's model name of a converted RetinaFace
BN_EPSILON = 1e-5  # PyTorch's
# The official cfg_re50 and cfg_mnet, as far as the network goes.
CONFIGS = {"resnet50": dict(in_channel=256, out_channel=256),
           "mobilenet0.25": dict(in_channel=32, out_channel=64)}
ANCHORS = 2
RESNET_BLOCKS = (3, 4, 6, 3)


def _act(x, slope):
    return ops.relu(x) if slope is None or slope == 0 else ops.leaky_relu(x, negative_slope=slope)


def _conv(x, filters, kernel, stride, name, *, bias=False):
    """A PyTorch-padded convolution (padding kernel // 2 on every side)."""
    if stride > 1 and kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    return layers.Conv2D(filters, kernel, stride, padding=padding, use_bias=bias, name=name)(x)


def _bn(x, name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)


def _conv_bn(x, filters, name, *, kernel=3, stride=1, slope=None, act=True):
    """The official conv_bn / conv_bn_no_relu / conv_bn1X1: `name`.0 conv, `name`.1 batch norm."""
    x = _bn(_conv(x, filters, kernel, stride, f"{name}.0"), f"{name}.1")
    return _act(x, slope) if act else x


def _conv_dw(x, filters, stride, name, slope=0.1):
    """MobileNet's depthwise-separable block: .0 depthwise 3x3, .1 bn, .3 pointwise 1x1, .4 bn."""
    if stride > 1:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    x = layers.DepthwiseConv2D(3, stride, padding="valid" if stride > 1 else "same", use_bias=False,
                               name=f"{name}.0")(x)
    x = _act(_bn(x, f"{name}.1"), slope)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}.3")(x)
    return _act(_bn(x, f"{name}.4"), slope)


def _mobilenet(x):
    """MobileNet-0.25's three stages; returns their outputs (64, 128, 256 channels)."""
    plan = {"stage1": [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1)],
            "stage2": [(128, 2)] + [(128, 1)] * 5,
            "stage3": [(256, 2), (256, 1)]}
    x = _conv_bn(x, 8, "body.stage1.0", stride=2, slope=0.1)
    outputs = []
    for stage, blocks in plan.items():
        first = 1 if stage == "stage1" else 0
        for k, (filters, stride) in enumerate(blocks, start=first):
            x = _conv_dw(x, filters, stride, f"body.{stage}.{k}")
        outputs.append(x)
    return outputs


def _bottleneck(x, planes, stride, name):
    """torchvision's Bottleneck (the stride on the 3x3 conv), with a downsample on the first block."""
    identity = x
    out = ops.relu(_bn(_conv(x, planes, 1, 1, f"{name}.conv1"), f"{name}.bn1"))
    out = ops.relu(_bn(_conv(out, planes, 3, stride, f"{name}.conv2"), f"{name}.bn2"))
    out = _bn(_conv(out, planes * 4, 1, 1, f"{name}.conv3"), f"{name}.bn3")
    if stride != 1 or x.shape[-1] != planes * 4:
        identity = _bn(_conv(x, planes * 4, 1, stride, f"{name}.downsample.0"), f"{name}.downsample.1")
    return ops.relu(out + identity)


def _resnet50(x):
    """torchvision's ResNet-50 up to layer4; returns layer2's, layer3's and layer4's outputs."""
    x = ops.relu(_bn(_conv(x, 64, 7, 2, "body.conv1"), "body.bn1"))
    # Max pooling pads with -inf in PyTorch; after a ReLU zeros change nothing.
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1, name="body.maxpool_pad")(x))
    outputs = []
    for k, (blocks, planes) in enumerate(zip(RESNET_BLOCKS, (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            x = _bottleneck(x, planes, 2 if b == 0 and k > 1 else 1, f"body.layer{k}.{b}")
        if k > 1:
            outputs.append(x)
    return outputs


def nearest_resize(x, like):
    """PyTorch's F.interpolate(x, size=like's size, mode="nearest"): source index floor(i * in / out)
    in float32."""
    def indices(size_in, size_out):
        scale = ops.cast(size_in, "float32") / ops.cast(size_out, "float32")
        index = ops.cast(ops.floor(ops.cast(ops.arange(size_out), "float32") * scale), "int32")
        return ops.minimum(index, size_in - 1)
    in_shape, out_shape = ops.shape(x), ops.shape(like)
    x = ops.take(x, indices(in_shape[1], out_shape[1]), axis=1)
    return ops.take(x, indices(in_shape[2], out_shape[2]), axis=2)


class NearestResize(layers.Layer):
    """`nearest_resize` as a layer (the sizes are known only when it runs)."""

    def call(self, x, like):
        return nearest_resize(x, like)

    def compute_output_shape(self, x_shape, like_shape):
        return (x_shape[0], like_shape[1], like_shape[2], x_shape[3])


def _ssh(x, channels, slope, name):
    three = _conv_bn(x, channels // 2, f"{name}.conv3X3", act=False)
    five_1 = _conv_bn(x, channels // 4, f"{name}.conv5X5_1", slope=slope)
    five = _conv_bn(five_1, channels // 4, f"{name}.conv5X5_2", act=False)
    seven_2 = _conv_bn(five_1, channels // 4, f"{name}.conv7X7_2", slope=slope)
    seven = _conv_bn(seven_2, channels // 4, f"{name}.conv7x7_3", act=False)
    return ops.relu(ops.concatenate([three, five, seven], axis=-1))


def _head(features, per_anchor, name):
    """Each level's 1x1 conv, laid out as [1, rows * columns * anchors, per_anchor], concatenated."""
    outs = []
    for k, feature in enumerate(features):
        out = layers.Conv2D(ANCHORS * per_anchor, 1, name=f"{name}.{k}.conv1x1")(feature)
        outs.append(layers.Reshape((-1, per_anchor), name=f"{name}.{k}.reshape")(out))
    return ops.concatenate(outs, axis=1)


def build_retinaface(backbone="resnet50", name="retinaface"):
    """RetinaFace with `backbone` ("resnet50" or "mobilenet0.25"), for BGR inputs of any size."""
    if backbone not in CONFIGS:
        raise ValueError(f"RetinaFace's backbone is one of {sorted(CONFIGS)}, got {backbone!r}")
    channels = CONFIGS[backbone]["out_channel"]
    slope = 0.1 if channels <= 64 else None
    image = keras.Input((None, None, 3), batch_size=1, name="image")
    levels = (_resnet50 if backbone == "resnet50" else _mobilenet)(image)
    fpn = [_conv_bn(level, channels, f"fpn.output{k}", kernel=1, slope=slope)
           for k, level in enumerate(levels, start=1)]
    fpn[1] = _conv_bn(fpn[1] + NearestResize(name="fpn.up3")(fpn[2], fpn[1]), channels, "fpn.merge2",
                      slope=slope)
    fpn[0] = _conv_bn(fpn[0] + NearestResize(name="fpn.up2")(fpn[1], fpn[0]), channels, "fpn.merge1",
                      slope=slope)
    features = [_ssh(level, channels, slope, f"ssh{k}") for k, level in enumerate(fpn, start=1)]
    outputs = {"loc": _head(features, 4, "BboxHead"),
               "conf": ops.softmax(_head(features, 2, "ClassHead"), axis=-1),
               "landms": _head(features, 10, "LandmarkHead")}
    return keras.Model(image, outputs, name=name)


def port(model, port_):
    """Put an official RetinaFace state dict (`port_`, a common.porting.Porting) into `model`."""
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            port_.take(layer.kernel, f"{layer.name}.weight", (2, 3, 0, 1))  # [c, 1, k, k] -> [k, k, c, 1]
        elif isinstance(layer, layers.Conv2D):
            port_.conv(layer, layer.name)
        elif isinstance(layer, layers.BatchNormalization):
            port_.batch_norm(layer, layer.name)


def convert(config, state, source="the checkpoint"):
    """A RetinaFace (Keras) holding an official state dict; `config` from checkpoints.retinaface_config."""
    return porting.ported(build_retinaface(config["backbone"]), port, state, source)


def write(model, config, output):
    """DIR/saved_model of a converted RetinaFace: `raw` and serving_default, and the metadata."""
    return export.write_raw(model, lambda image: model(image), output, [1, None, None, 3], MODEL, config)
