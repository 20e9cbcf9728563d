"""IR-SE50, the ArcFace face-recognition network GPEN releases for its identity loss
(`model_ir_se50.pth`, `training/loss/model_irse.py`: TreB1eN's InsightFace_Pytorch backbone), in
Keras, and the identity distance face-restoration papers report with it.

    network = arcface.load("model_ir_se50.pth")
    distance = arcface.identity_distance(network, restored, clean)   # uint8 faces -> [N], 1 - cosine

The network, as `Backbone(112, 50, mode="ir_se")`: a 3x3 conv, batch norm and PReLU; 24 bottlenecks
(3, 4, 14 and 3 of 64, 128, 256 and 512 channels, each stage starting with stride 2): batch norm, 3x3
conv, PReLU, 3x3 conv (with the stride), batch norm, squeeze-and-excitation (reduction 16), added to
the shortcut (a 1 x 1 conv and batch norm where the width changes, else every stride-th pixel); then
batch norm, flatten in PyTorch's channel-first order, a 512-wide linear layer, batch norm, and the
embedding scaled to unit length. Layers are named by the state dict's keys.

`embeddings` prepares faces as GPEN's IDLoss.extract_feats does: values in [-1, 1], the crop
[35:-33, 32:-36] of a 256 px face (scaled with the face's size), averaged down to 112 x 112 as
AdaptiveAvgPool2d.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

BN_EPSILON = 1e-5
STAGES = ((64, 3), (128, 4), (256, 14), (512, 3))
SIZE = 112
CROP = (35, 33, 32, 36)  # top, bottom, left, right of a 256 px face (IDLoss.extract_feats)


class ChannelPReLU(layers.Layer):
    """PyTorch's PReLU(C): one slope per channel, a weight of shape [C] as the state dict has it."""

    def build(self, shape):
        self.alpha = self.add_weight(shape=(shape[-1],), initializer=keras.initializers.Constant(0.25),
                                     name="alpha")

    def call(self, x):
        return ops.maximum(x, 0) + self.alpha * ops.minimum(x, 0)


def _bn(x, name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)


def _conv(x, filters, kernel, stride, name):
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}.pad")(x)
    return layers.Conv2D(filters, kernel, stride, use_bias=False, name=name)(x)


def _unit(x, depth, stride, name):
    if x.shape[-1] == depth:
        shortcut = layers.MaxPooling2D(1, stride, name=f"{name}.shortcut_layer")(x)
    else:
        shortcut = _bn(_conv(x, depth, 1, stride, f"{name}.shortcut_layer.0"), f"{name}.shortcut_layer.1")
    r = _bn(x, f"{name}.res_layer.0")
    r = ChannelPReLU(name=f"{name}.res_layer.2")(_conv(r, depth, 3, 1, f"{name}.res_layer.1"))
    r = _bn(_conv(r, depth, 3, stride, f"{name}.res_layer.3"), f"{name}.res_layer.4")
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}.res_layer.5.avg_pool")(r)
    gate = layers.ReLU(name=f"{name}.res_layer.5.relu")(_conv(gate, depth // 16, 1, 1, f"{name}.res_layer.5.fc1"))
    gate = layers.Activation("sigmoid", name=f"{name}.res_layer.5.sigmoid")(_conv(gate, depth, 1, 1, f"{name}.res_layer.5.fc2"))
    return layers.Add(name=f"{name}.add")([layers.Multiply(name=f"{name}.res_layer.5")([r, gate]), shortcut])


def build(name="ir_se50"):
    """IR-SE50 for faces in [-1, 1], [N, 112, 112, 3] RGB -> unit-length embeddings [N, 512]."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = ChannelPReLU(name="input_layer.2")(_bn(_conv(image, 64, 3, 1, "input_layer.0"), "input_layer.1"))
    k = 0
    for depth, units in STAGES:
        for u in range(units):
            x = _unit(x, depth, 2 if u == 0 else 1, f"body.{k}")
            k += 1
    x = _bn(x, "output_layer.0")
    x = layers.Flatten(name="output_layer.2")(layers.Permute((3, 1, 2), name="channels_first")(x))
    x = _bn(layers.Dense(512, name="output_layer.3")(x), "output_layer.4")
    return keras.Model(image, layers.UnitNormalization(name="l2_norm")(x), name=name)


def port(model, port_):
    """Put GPEN's `model_ir_se50.pth` state dict (`port_`, a common.porting.Porting) into `model`."""
    from common import porting
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            port_.take(layer.kernel, f"{layer.name}.weight", porting.LINEAR)
            port_.take(layer.bias, f"{layer.name}.bias")
        elif isinstance(layer, layers.Conv2D):
            port_.conv(layer, layer.name)
        elif isinstance(layer, layers.BatchNormalization):
            port_.batch_norm(layer, layer.name)
        elif isinstance(layer, ChannelPReLU):
            port_.take(layer.alpha, f"{layer.name}.weight")


def load(path):
    """IR-SE50 holding GPEN's `model_ir_se50.pth` (converted once, then cached:
    common/weights_cache.py); another network's file raises a ValueError naming it."""
    from common import porting, pth, weights_cache
    model = build()
    weights_cache.converted("arcface_ir_se50", [path], model.weights,
                            lambda: porting.ported(model, port, pth.load_state_dict(path), path))
    return model


def _adaptive_mean(image, size):
    """AdaptiveAvgPool2d((size, size)) of float [H, W, C]: window i spans floor(i H / s) to ceil((i + 1) H / s)."""
    for axis in (0, 1):
        n = image.shape[axis]
        starts = (np.arange(size) * n) // size
        ends = -((-(np.arange(size) + 1) * n) // size)
        sums = np.concatenate([np.zeros_like(np.take(image, [0], axis)), np.cumsum(image, axis=axis)], axis=axis)
        image = (np.take(sums, ends, axis) - np.take(sums, starts, axis)) / np.expand_dims(
            ends - starts, tuple(a for a in range(image.ndim) if a != axis))
    return image


def preprocess(face):
    """IDLoss.extract_feats' input of a uint8 RGB face [S, S, 3]: [-1, 1], cropped, pooled to 112."""
    size = face.shape[0]
    top, bottom, left, right = (round(v * size / 256) for v in CROP)
    x = face.astype(np.float64)[top:size - bottom, left:size - right] / 127.5 - 1.0
    return _adaptive_mean(x, SIZE).astype(np.float32)


def embeddings(network, faces):
    """Unit-length embeddings [N, 512] of uint8 RGB faces (each square, any size)."""
    return network(tf.stack([preprocess(np.asarray(f)) for f in faces]), training=False).numpy()


def identity_distance(network, faces_a, faces_b):
    """1 - cosine similarity of the embeddings of each pair of faces: [N]."""
    a, b = embeddings(network, faces_a), embeddings(network, faces_b)
    return 1.0 - (a * b).sum(axis=1)
