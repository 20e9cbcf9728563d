"""The Inception network every published FID is computed with, in Keras: the TensorFlow 2015
Inception-v3 (`inception-2015-12-05`) as pytorch-fid holds it (`pt_inception-2015-12-05-6726825d.pth`,
its `fid_inception_v3`), so that our FID is the community's.

It is torchvision's Inception-v3 (conv + batch norm with epsilon 0.001 + ReLU units; blocks Mixed_5b
to Mixed_7c) with pytorch-fid's patches for the TensorFlow graph: the average pools of the A, C and
first E blocks leave the padding out of their averages (Keras' "same" average pooling does the same),
and the last E block pools by max. Four feature blocks, as pytorch-fid's `InceptionV3` returns them:
  0: after the first max pool (64 channels), 1: after the second (192), 2: after Mixed_6e, the
  auxiliary classifier's input (768), 3: after the final average pool (2048).
`features(feature_network(model, dims), images)` is pytorch-fid's `get_activations` on a batch: images in [0, 1]
resized to 299 x 299 bilinearly (without antialiasing, as F.interpolate), scaled to [-1, 1], the
network, and each block's spatial mean. Layers are named after the keys of the official state dict
(`Mixed_5b.branch1x1.conv`, `Mixed_5b.branch1x1.bn`, ...), so `port` maps it by name; the classifier
`fc` (1008 classes) is checked and left out. `load(path)` reads pytorch-fid's .pth (converted once,
then cached: common/weights_cache.py) or a .weights.h5 saved from this model.
"""

import keras
import tensorflow as tf
from keras import layers

BN_EPSILON = 1e-3  # torchvision's BasicConv2d
DIMS = {64: 0, 192: 1, 768: 2, 2048: 3}  # pytorch-fid's --dims -> its block
SIZE = 299
FC = {"fc.weight": (1008, 2048), "fc.bias": (1008,)}


def _unit(x, filters, kernel, name, stride=1, padding=0):
    """torchvision's BasicConv2d: conv (no bias) with PyTorch's zero padding, batch norm, ReLU."""
    if padding:
        x = layers.ZeroPadding2D(padding, name=f"{name}.pad")(x)
    x = layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{name}.conv")(x)
    return layers.ReLU(name=f"{name}.relu")(layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}.bn")(x))


def _pool(x, name, kind="average"):
    pool = layers.AveragePooling2D if kind == "average" else layers.MaxPooling2D
    return pool(3, 1, padding="same", name=f"{name}.pool")(x)


def _block_a(x, pool_features, name):
    b5 = _unit(_unit(x, 48, 1, f"{name}.branch5x5_1"), 64, 5, f"{name}.branch5x5_2", padding=2)
    b3 = _unit(x, 64, 1, f"{name}.branch3x3dbl_1")
    b3 = _unit(_unit(b3, 96, 3, f"{name}.branch3x3dbl_2", padding=1), 96, 3, f"{name}.branch3x3dbl_3", padding=1)
    pool = _unit(_pool(x, name), pool_features, 1, f"{name}.branch_pool")
    return layers.Concatenate(name=name)([_unit(x, 64, 1, f"{name}.branch1x1"), b5, b3, pool])


def _block_b(x, name):
    b3 = _unit(x, 384, 3, f"{name}.branch3x3", stride=2)
    dbl = _unit(_unit(x, 64, 1, f"{name}.branch3x3dbl_1"), 96, 3, f"{name}.branch3x3dbl_2", padding=1)
    dbl = _unit(dbl, 96, 3, f"{name}.branch3x3dbl_3", stride=2)
    pool = layers.MaxPooling2D(3, 2, name=f"{name}.pool")(x)
    return layers.Concatenate(name=name)([b3, dbl, pool])


def _block_c(x, c7, name):
    wide, tall = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    b7 = _unit(x, c7, 1, f"{name}.branch7x7_1")
    b7 = _unit(b7, c7, wide[0], f"{name}.branch7x7_2", padding=wide[1])
    b7 = _unit(b7, 192, tall[0], f"{name}.branch7x7_3", padding=tall[1])
    dbl = _unit(x, c7, 1, f"{name}.branch7x7dbl_1")
    for k, (kernel, padding) in enumerate((tall, wide, tall, wide), start=2):
        dbl = _unit(dbl, c7 if k < 5 else 192, kernel, f"{name}.branch7x7dbl_{k}", padding=padding)
    pool = _unit(_pool(x, name), 192, 1, f"{name}.branch_pool")
    return layers.Concatenate(name=name)([_unit(x, 192, 1, f"{name}.branch1x1"), b7, dbl, pool])


def _block_d(x, name):
    b3 = _unit(_unit(x, 192, 1, f"{name}.branch3x3_1"), 320, 3, f"{name}.branch3x3_2", stride=2)
    b7 = _unit(x, 192, 1, f"{name}.branch7x7x3_1")
    b7 = _unit(b7, 192, (1, 7), f"{name}.branch7x7x3_2", padding=(0, 3))
    b7 = _unit(b7, 192, (7, 1), f"{name}.branch7x7x3_3", padding=(3, 0))
    b7 = _unit(b7, 192, 3, f"{name}.branch7x7x3_4", stride=2)
    pool = layers.MaxPooling2D(3, 2, name=f"{name}.pool")(x)
    return layers.Concatenate(name=name)([b3, b7, pool])


def _block_e(x, name, pool_kind):
    def split(y, prefix):
        return [_unit(y, 384, (1, 3), f"{prefix}a", padding=(0, 1)), _unit(y, 384, (3, 1), f"{prefix}b", padding=(1, 0))]

    b3 = split(_unit(x, 384, 1, f"{name}.branch3x3_1"), f"{name}.branch3x3_2")
    dbl = _unit(_unit(x, 448, 1, f"{name}.branch3x3dbl_1"), 384, 3, f"{name}.branch3x3dbl_2", padding=1)
    dbl = split(dbl, f"{name}.branch3x3dbl_3")
    pool = _unit(_pool(x, name, pool_kind), 192, 1, f"{name}.branch_pool")
    return layers.Concatenate(name=name)([_unit(x, 320, 1, f"{name}.branch1x1"), *b3, *dbl, pool])


def build(last_block=3, name="fid_inception"):
    """The FID Inception up to feature block `last_block` (0-3): inputs in [-1, 1] [N, 299, 299, 3],
    outputs {block index: features}, block 3 already pooled to [N, 2048]."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = _unit(image, 32, 3, "Conv2d_1a_3x3", stride=2)
    x = _unit(x, 32, 3, "Conv2d_2a_3x3")
    x = _unit(x, 64, 3, "Conv2d_2b_3x3", padding=1)
    outputs = {0: layers.MaxPooling2D(3, 2, name="maxpool1")(x)}
    if last_block >= 1:
        x = _unit(_unit(outputs[0], 80, 1, "Conv2d_3b_1x1"), 192, 3, "Conv2d_4a_3x3")
        outputs[1] = layers.MaxPooling2D(3, 2, name="maxpool2")(x)
    if last_block >= 2:
        x = outputs[1]
        for block, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = _block_a(x, pool_features, block)
        x = _block_b(x, "Mixed_6a")
        for block, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = _block_c(x, c7, block)
        outputs[2] = x
    if last_block >= 3:
        x = _block_e(_block_e(_block_d(x, "Mixed_7a"), "Mixed_7b", "average"), "Mixed_7c", "max")
        outputs[3] = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(image, {str(k): v for k, v in outputs.items()}, name=name)


def port(model, port_):
    """Put pytorch-fid's state dict (`port_`, a common.porting.Porting) into `model`: every layer by its
    name; the classifier fc checked for its shape and left out. A model built short of block 3
    leaves the later blocks' keys out too."""
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            port_.conv(layer, layer.name)
        elif isinstance(layer, layers.BatchNormalization):
            port_.batch_norm(layer, layer.name)
    built = {layer.name.split(".")[0] for layer in model.layers}
    for key in list(port_.state):
        if key in FC or key.split(".")[0] not in built:
            port_.skip(key, FC.get(key))


def load(weights):
    """The FID Inception (all four blocks) holding `weights` (a .pth, converted once and then read
    from common/weights_cache.py, or a .weights.h5 saved from this model). A file that is not the FID
    Inception raises a ValueError naming it."""
    from common import porting, pth, weights_cache
    model = build()
    if weights.endswith(".weights.h5"):
        model.load_weights(weights)
        return model
    weights_cache.converted("fid_inception", [weights], model.weights,
                            lambda: porting.ported(model, port, pth.load_state_dict(weights), weights))
    return model


def feature_network(model, dims=2048):
    """The part of a built FID Inception that computes pytorch-fid's `dims` features (64, 192, 768 or
    2048): only the layers up to that block run."""
    return keras.Model(model.inputs, model.output[str(DIMS[dims])], name=f"fid_inception_{dims}")


def features(network, images):
    """pytorch-fid's activations of a batch: float images [H, W, 3] in [0, 1] (a list, each of its own
    size, or an array [N, H, W, 3]) -> float32 [N, dims], with `network` from `feature_network`."""
    x = tf.stack([tf.image.resize(tf.convert_to_tensor(image, tf.float32), (SIZE, SIZE), "bilinear")
                  for image in images])
    out = network(2.0 * x - 1.0, training=False)
    return (out if out.shape.rank == 2 else tf.reduce_mean(out, axis=(1, 2))).numpy()
