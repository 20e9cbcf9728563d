"""Deep Photo Enhancer as its official TF1 code computes it, in plain TensorFlow ops on a checkpoint's
variables by their official names; and a writer of such checkpoints (random values), for the tests.

The official code (CONVNET.py / MODEL.py of the surviving copies) describes each network as a list of
layers and names each variable after its layer's position in that list. This file restates those
lists and walks them, independently of dpe_tf's Keras networks and of dpe_tf/checkpoints.py's index
tables, so that a test comparing the two catches any variable ported into the wrong layer.

    write_checkpoint("/tmp/ck/90.000-new.ckpt", layout="demo", size=512, seed=0)
    values = {name: array, ...}                                    # e.g. from tf.train.load_checkpoint
    y = generator(values, "netG-999_var_scope/netG-999_var_scopeA/netG-999", bgr)   # bgr [N, S, S, 3]

Images are BGR in [0, 1], as the official code reads them with OpenCV.
"""

import numpy as np
import tensorflow as tf

SELU_ALPHA, SELU_SCALE = 1.0198755295894968, 1.0026538655307724
EPSILON = 1e-5


def _conv(k, stride, filters):
    return ("conv", k, stride, filters)


def generator_layers(size):
    """The three sub-networks' layer lists, netG_1 (encoder), netG_2 (global path), netG_3 (decoder).
    ("skip", t) concatenates tensor t of netG_1's list (tensor 0 is the input, tensor l + 1 the output
    of layer l)."""
    act = [("selu",), ("bn",)]
    encoder = [_conv(3, 1, 16), *act] + sum(([_conv(5, 2, f), *act] for f in (32, 64, 128, 128)), [])
    global_path = [_conv(5, 2, 128), *act, _conv(5, 2, 128), *act, ("valid", size // 64, 128), ("selu",),
                   _conv(1, 1, 128)]
    decoder = [_conv(3, 1, 128), ("global",), _conv(1, 1, 128), *act]
    for filters, skip in ((128, 10), (128, 7), (64, 4), (32, 1)):
        decoder += [_conv(3, 1, filters), ("up",), ("skip", skip), *act]
    decoder += [_conv(3, 1, 16), *act, _conv(3, 1, 3), ("residual",)]
    return {1: encoder, 2: global_path, 3: decoder}


def critic_layers(size):
    layers = [_conv(3, 1, 16), ("lrelu",), ("in",)]
    for filters in (32, 64, 128, 128, 128):
        layers += [_conv(5, 2, filters), ("lrelu",), ("in",)]
    return {1: layers + [("valid", size // 32, 1), ("mean",)]}


def _variables(layers, in_channels, bn_sets, encoder_channels=()):
    """([(leaf name, shape)] of one sub-network, the channels of each of its tensors), walking its
    layers; `encoder_channels` are netG_1's, which the decoder's skips concatenate."""
    out, channels = [], [in_channels]
    for index, layer in enumerate(layers):
        kind, c = layer[0], channels[-1]
        if kind in ("conv", "valid"):
            k, filters = layer[1], layer[-1]
            out += [(f"conv_{index}_w", [k, k, c, filters]), (f"conv_{index}_b", [filters])]
            c = filters
        elif kind == "bn":
            out += [(f"bn_{index}_{s}_{f}", [c]) for s in range(bn_sets)
                    for f in ("offset", "scale", "mv_mean", "mv_var")]
        elif kind == "in":
            out += [(f"in_{index}_0_{f}", [c]) for f in ("offset", "scale")]
        elif kind == "global":
            c += 128
        elif kind == "skip":
            c += encoder_channels[layer[1]]
        channels.append(c)
    return out, channels


def names_and_shapes(layout="demo", size=512, spelling="netG-999"):
    """{name: shape} of a checkpoint: "demo" (generator A, one BN set: the authors' demo models) or
    "2way" (generators A and B with two BN sets each, critics A and B: the 2-way training code's)."""
    g, d = spelling, spelling.replace("netG", "netD")
    scopes = [("A", 1)] if layout == "demo" else [("A", 2), ("B", 2)]
    layers = generator_layers(size)
    result = {}
    for scope, bn_sets in scopes:
        encoder, encoder_channels = _variables(layers[1], 3, bn_sets)
        subs = {1: encoder, 2: _variables(layers[2], 128, bn_sets)[0],
                3: _variables(layers[3], 128, bn_sets, encoder_channels)[0]}
        for sub, leaves in subs.items():
            result.update({f"{g}_var_scope/{g}_var_scope{scope}/{g}_{sub}/{leaf}": shape
                           for leaf, shape in leaves})
        if layout == "2way":
            leaves = _variables(critic_layers(size)[1], 3, 1)[0]
            result.update({f"{d}_var_scope/{d}_var_scope{scope}/{d}_1/{leaf}": shape
                           for leaf, shape in leaves})
    return result


def random_values(shapes, seed):
    """Random values that keep every layer's output of the order of one (LeCun-scaled kernels, batch
    norm statistics near 0 and 1), with the generators' last convolution small, so that their
    residual leaves the image in [0, 1] mostly."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in sorted(shapes.items()):
        leaf = name.rsplit("/", 1)[1]
        if leaf.endswith("_w"):
            value = rng.normal(size=shape) / np.sqrt(np.prod(shape[:3]))
            if name.endswith("_3/conv_28_w"):
                value *= 0.05
        elif leaf.endswith("_mv_var"):
            value = rng.uniform(0.5, 2.0, size=shape)
        elif leaf.endswith("_scale"):
            value = 1.0 + 0.2 * rng.normal(size=shape)
        else:  # biases, offsets, moving means
            value = 0.1 * rng.normal(size=shape)
        values[name] = value.astype(np.float32)
    return values


def write_checkpoint(prefix, layout="demo", size=512, seed=0, spelling="netG-999"):
    """Write a TF (V2) checkpoint at `prefix` with the names of `names_and_shapes` and
    `random_values`; returns the values."""
    values = random_values(names_and_shapes(layout, size, spelling), seed)
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(values[n]) for n in names])
    return values


def _run(layers, values, prefix, x, *, bn_set=0, image=None, encoder_tensors=None, global_feature=None):
    """One sub-network's list over x; returns its tensor list."""
    tensors = [x]
    for index, layer in enumerate(layers):
        kind = layer[0]
        var = lambda leaf: tf.constant(values[f"{prefix}/{leaf}"])  # noqa: E731
        if kind in ("conv", "valid"):
            stride = layer[2] if kind == "conv" else 1
            pad = (layer[1] - 1) // 2 if kind == "conv" else 0
            if pad:
                x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
            x = tf.nn.conv2d(x, var(f"conv_{index}_w"), stride, "VALID") + var(f"conv_{index}_b")
        elif kind == "selu":
            x = SELU_SCALE * tf.where(x >= 0, x, SELU_ALPHA * (tf.exp(tf.minimum(x, 0.0)) - 1))
        elif kind == "bn":
            leaf = f"bn_{index}_{bn_set}"
            x = tf.nn.batch_normalization(x, var(f"{leaf}_mv_mean"), var(f"{leaf}_mv_var"),
                                          var(f"{leaf}_offset"), var(f"{leaf}_scale"), EPSILON)
        elif kind == "lrelu":
            x = 0.6 * x + 0.4 * tf.abs(x)
        elif kind == "in":
            mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
            x = tf.nn.batch_normalization(x, mean, variance, var(f"in_{index}_0_offset"),
                                          var(f"in_{index}_0_scale"), EPSILON)
        elif kind == "global":
            x = tf.concat([x, tf.tile(global_feature, [1, tf.shape(x)[1], tf.shape(x)[2], 1])], axis=3)
        elif kind == "up":
            x = tf.image.resize(x, [2 * tf.shape(x)[1], 2 * tf.shape(x)[2]], method="nearest")
        elif kind == "skip":
            x = tf.concat([x, encoder_tensors[layer[1]]], axis=3)
        elif kind == "residual":
            x = x + image
        elif kind == "mean":
            x = tf.reduce_mean(x, axis=[1, 2, 3])
        tensors.append(x)
    return tensors


def generator(values, prefix, bgr, bn_set=0):
    """The official generator (prefix: its names up to the sub-network's `_k`, e.g.
    'netG_var_scope/netG_var_scopeA/netG') on BGR images [N, S, S, 3] in [0, 1], unclipped."""
    bgr = tf.constant(bgr, tf.float32)
    layers = generator_layers(int(bgr.shape[1]))
    encoder = _run(layers[1], values, f"{prefix}_1", bgr, bn_set=bn_set)
    global_feature = _run(layers[2], values, f"{prefix}_2", encoder[-1], bn_set=bn_set)[-1]
    return _run(layers[3], values, f"{prefix}_3", encoder[-1], bn_set=bn_set, image=bgr,
                encoder_tensors=encoder, global_feature=global_feature)[-1].numpy()


def critic(values, prefix, bgr):
    """The official critic's score per image (prefix e.g. 'netD_var_scope/netD_var_scopeA/netD')."""
    bgr = tf.constant(bgr, tf.float32)
    return _run(critic_layers(int(bgr.shape[1]))[1], values, f"{prefix}_1", bgr)[-1].numpy()


def safe_casting(y):
    """The official float -> uint8: clip(y * 255 + 0.5) truncated."""
    return np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8)
