"""LPIPS (Zhang et al., CVPR 2018), the learned perceptual distance, as the `lpips` package computes its
v0.1 with the AlexNet or VGG-16 backbone, in Keras.

    metric = lpips.load("alex", heads="alex.pth", backbone="alexnet-owt-7be5be79.pth")
    distances = metric(x0, x1)          # float [N, H, W, 3] in [0, 1] -> float32 [N]

The steps, as `lpips.LPIPS.forward(in0, in1, normalize=True)`: both images to [-1, 1], shifted by
(-0.030, -0.088, -0.188) and divided by (0.458, 0.448, 0.450) per channel; torchvision's AlexNet
(relu1 to relu5) or VGG-16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) features; each feature
vector divided by its length (+1e-10); the squared differences weighted per channel by the layer's
linear head (a 1 x 1 convolution without bias), averaged over space, and summed over the layers.

Two files give the weights, as the package itself uses two: the heads are the lpips package's
`lpips/weights/v0.1/alex.pth` or `vgg.pth` (in its wheel), the backbone torchvision's ImageNet file
(`alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`, where torchvision caches its downloads:
~/.cache/torch/hub/checkpoints/); both are read by common/pth.py, without PyTorch, once: the result
is cached (common/weights_cache.py). The backbone's layers are named by torchvision's keys
(`features.0`, ...); its classifier is left out.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
SCALE = np.array([0.458, 0.448, 0.450], np.float32)
EPSILON = 1e-10
# torchvision's feature layers: (index, channels, kernel, stride, padding) of each conv, "M" a max pool;
# `TAPS` the indices of the ReLUs whose outputs LPIPS compares.
ALEXNET = [(0, 64, 11, 4, 2), "M", (3, 192, 5, 1, 2), "M", (6, 384, 3, 1, 1), (8, 256, 3, 1, 1),
           (10, 256, 3, 1, 1)]
VGG16 = [(0, 64), (2, 64), "M", (5, 128), (7, 128), "M", (10, 256), (12, 256), (14, 256), "M",
         (17, 512), (19, 512), (21, 512), "M", (24, 512), (26, 512), (28, 512)]
NETWORKS = {"alex": (ALEXNET, (0, 3, 6, 8, 10)), "vgg": (VGG16, (2, 7, 14, 21, 28))}


def build_backbone(net):
    """torchvision's AlexNet or VGG-16 features up to the last LPIPS layer: scaled images [N, H, W, 3]
    -> the five ReLU outputs LPIPS compares."""
    if net not in NETWORKS:
        raise ValueError(f"LPIPS's backbone is one of {sorted(NETWORKS)}, got {net!r}")
    plan, taps = NETWORKS[net]
    image = keras.Input((None, None, 3), name="image")
    x, outputs = image, []
    for k, step in enumerate(plan):
        if step == "M":
            x = layers.MaxPooling2D(3 if net == "alex" else 2, 2, name=f"pool{k}")(x)
            continue
        index, channels, kernel, stride, padding = step if len(step) == 5 else (*step, 3, 1, 1)
        x = layers.ZeroPadding2D(padding, name=f"features.{index}.pad")(x)
        x = layers.ReLU(name=f"features.{index + 1}")(
            layers.Conv2D(channels, kernel, stride, name=f"features.{index}")(x))
        if index in taps:
            outputs.append(x)
    return keras.Model(image, outputs, name=f"lpips_{net}")


class LPIPS:
    """The LPIPS distance of one backbone: `metric(x0, x1)` of float images in [0, 1] -> float32 [N]."""

    def __init__(self, net="alex"):
        self.net, self.backbone = net, build_backbone(net)
        self.heads = [layers.Conv2D(1, 1, use_bias=False, name=f"lin{k}.model.1") for k in range(5)]
        for head, tap in zip(self.heads, self.backbone.outputs):
            head.build((None, None, None, tap.shape[-1]))

    def per_layer(self, x0, x1):
        """Each layer's share of the distance: float32 [N, 5]."""
        scaled = [(2.0 * tf.convert_to_tensor(x, tf.float32) - 1.0 - SHIFT) / SCALE for x in (x0, x1)]
        features = self.backbone(tf.concat(scaled, axis=0), training=False)
        shares = []
        for head, f in zip(self.heads, features):
            f = f / (tf.sqrt(tf.reduce_sum(f * f, axis=-1, keepdims=True)) + EPSILON)
            a, b = tf.split(f, 2, axis=0)
            shares.append(tf.reduce_mean(head((a - b) ** 2), axis=(1, 2, 3)))
        return tf.stack(shares, axis=1).numpy()

    def __call__(self, x0, x1):
        return self.per_layer(x0, x1).sum(axis=1)

    @property
    def weights(self):
        """Every variable, in a fixed order (for common/weights_cache.py)."""
        return self.backbone.weights + [head.kernel for head in self.heads]

    def port(self, port_):
        """Put the heads' and the backbone's state dicts (merged; a common.porting.Porting) in."""
        for layer in self.backbone.layers:
            if isinstance(layer, layers.Conv2D):
                port_.conv(layer, layer.name)
        for head in self.heads:
            port_.conv(head, head.name)
        for key in list(port_.state):
            if key.startswith("classifier."):
                port_.skip(key)


def load(net, heads, backbone):
    """The LPIPS of `net` ("alex" or "vgg") holding the lpips package's `heads` .pth and torchvision's
    `backbone` .pth; a file of another network raises a ValueError naming it and its keys."""
    from common import porting, pth, weights_cache
    metric = LPIPS(net)

    def convert():
        state = {**pth.load_state_dict(backbone), **pth.load_state_dict(heads)}
        porting.ported(metric, lambda model, port_: model.port(port_), state, f"{heads} and {backbone}")
    weights_cache.converted(f"lpips_{net}", [heads, backbone], metric.weights, convert)
    return metric
