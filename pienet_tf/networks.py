"""The PieNet networks (Kim, Koh, Kim, ECCV 2020): the style embedding and the personalized enhancer.

PieNet has no released code (the authors' repository holds only a README, which names TensorFlow 2.2),
so the layers follow the paper's text; where it gives no number the choice made here is marked "choice".

embedding  ResNet18 in torchvision's layout (ImageNet-pretrained in the paper: `load_resnet18_weights`
           reads torchvision's weights from a local .npz), global average pooling, L2 normalisation:
           float32 [N, H, W, 3] in [0, 1], any H and W -> [N, 512] unit vectors.
enhancer   [image, preference] -> image + ΔI (float32, not clipped).
           Encoder: conv, then 8 residual blocks with a 3x3 stride-2 conv after blocks 2, 4, 6 and 8,
           then global average pooling. Decoder: 3 personalized up-sampling blocks (PUB), each fed the
           preference vector, then a conv that gives ΔI.

Only Keras layers and `keras.ops` are used, so the networks run under every Keras backend.
"""

import keras
import numpy as np
from keras import ops

from common.layers import BatchNormalization
from common.porting import Porting

EMBEDDING_DIM = 512
# The enhancer halves H and W four times; with multiples of 16 every halving is exact, as for the
# training crops, so a photo padded to a multiple of 16 is processed like them.
MULTIPLE = 16

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# -- embedding: ResNet18 ----------------------------------------------------------------------------

# torchvision's ResNet18: (stage name, width multiplier, stride of its first block), 2 blocks each.
_RESNET18_STAGES = (("layer1", 1, 1), ("layer2", 2, 2), ("layer3", 4, 2), ("layer4", 8, 2))


def _resnet_conv(filters, kernel_size, strides, name):
    # torchvision: no bias, kaiming_normal_(mode="fan_out", nonlinearity="relu").
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, use_bias=False, name=name,
        kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"))


def _resnet_bn(name):
    # PyTorch BatchNorm2d: eps 1e-5, momentum 0.1 (Keras momentum 0.9).
    return BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _padded_conv(x, filters, kernel_size, strides, name):
    # PyTorch pads (k - 1) / 2 on every side; Keras' "same" pads stride-2 convs asymmetrically.
    pad = (kernel_size - 1) // 2
    if pad:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    return _resnet_conv(filters, kernel_size, strides, name)(x)


def _basic_block(x, filters, strides, name):
    """torchvision's BasicBlock; a 1x1 projection shortcut where the shape changes."""
    shortcut = x
    x = _padded_conv(x, filters, 3, strides, f"{name}_conv1")
    x = keras.layers.ReLU(name=f"{name}_relu1")(_resnet_bn(f"{name}_bn1")(x))
    x = _resnet_bn(f"{name}_bn2")(_padded_conv(x, filters, 3, 1, f"{name}_conv2"))
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = _resnet_conv(filters, 1, strides, f"{name}_downsample_0")(shortcut)
        shortcut = _resnet_bn(f"{name}_downsample_1")(shortcut)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def embedding(width=64, name="embedding"):
    """ResNet18 (no fc) -> global average pool -> L2 normalisation: [N, H, W, 3] in [0, 1] -> [N, 8*width].

    width=64 is ResNet18 (11,176,512 trainable weights, 512-d output). Inputs are normalised with the
    ImageNet mean and std inside. Layers are named after torchvision's state-dict keys with "." -> "_"
    (`layer2_0_downsample_0` is `layer2.0.downsample.0`), which `load_resnet18_weights` relies on.
    """
    image = keras.Input((None, None, 3), name="image")
    x = keras.layers.Normalization(mean=IMAGENET_MEAN, variance=np.square(IMAGENET_STD),
                                   name="imagenet_normalization")(image)
    x = _padded_conv(x, width, 7, 2, "conv1")
    x = keras.layers.ReLU(name="relu")(_resnet_bn("bn1")(x))
    # Zero padding equals PyTorch's -inf padding here: the inputs are ReLU outputs, >= 0.
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="maxpool")(x)
    for stage, multiplier, strides in _RESNET18_STAGES:
        x = _basic_block(x, width * multiplier, strides, f"{stage}_0")
        x = _basic_block(x, width * multiplier, 1, f"{stage}_1")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = keras.layers.UnitNormalization(dtype="float32", name="l2_normalize")(x)
    return keras.Model(image, x, name=name)


def load_resnet18_weights(embedding_model, path):
    """Load torchvision's ResNet18 weights from a local .npz into `embedding_model` (width 64).

    The .npz is keyed by torchvision's state-dict names, as written by:

        import numpy as np, torchvision
        state = torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict()
        np.savez("resnet18_imagenet.npz", **{k: v.numpy() for k, v in state.items()})

    `fc.*` and `*.num_batches_tracked` are ignored. Every key is checked before anything is assigned:
    a missing file, a missing key or a mis-shaped array raises a ValueError naming the file and key.
    """
    path = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"ResNet18 weights file {path}: no such file") from None
    except Exception as err:
        raise ValueError(f"ResNet18 weights file {path} is not an .npz archive: {err}") from err
    if not hasattr(archive, "files"):
        raise ValueError(f"ResNet18 weights file {path} holds a single array, not an .npz archive "
                         "keyed by torchvision state-dict names")
    with archive:
        state = {k: archive[k] for k in archive.files if not k.startswith("fc.")}
    port = Porting(state, f"ResNet18 weights file {path}")
    for layer in embedding_model.layers:
        prefix = layer.name.replace("_", ".")  # named after torchvision's keys
        if isinstance(layer, keras.layers.Conv2D):
            port.conv(layer, prefix)
        elif isinstance(layer, keras.layers.BatchNormalization):
            port.batch_norm(layer, prefix)
    port.finish()


# -- enhancer ---------------------------------------------------------------------------------------

# Choice: the paper gives no widths beyond the 512-d global feature; a ResNet-like doubling from 64
# after every downsampling conv ends at 8 * 64 = 512 there.
ENCODER_WIDTHS = (1, 2, 4, 8)


def _conv(filters, name, kernel_size=3, strides=1, activation="relu", **kwargs):
    # Keras' default initialisation (Glorot uniform, zero bias), as the authors' TensorFlow code had.
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                               activation=activation, name=name, **kwargs)


def _residual_block(x, name):
    """conv-ReLU-conv plus the identity (choice: EDSR's form, no normalization)."""
    y = _conv(x.shape[-1], f"{name}_conv1")(x)
    y = _conv(x.shape[-1], f"{name}_conv2", activation=None)(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


@keras.saving.register_keras_serializable(package="pienet_tf")
class Broadcast2D(keras.layers.Layer):
    """[vectors [N, C], maps [N, H, W, *]] -> the vectors repeated over H x W: [N, H, W, C].

    How a 1 x 1 feature (the global feature, the preference vector) is "up-sampled" to a skip's size.
    """

    def call(self, inputs):
        vectors, like = inputs
        return ops.zeros_like(like[..., :1], dtype=vectors.dtype) + vectors[:, None, None, :]

    def compute_output_shape(self, input_shapes):
        vectors, like = input_shapes
        return (*like[:3], vectors[-1])


def _pub(previous, preference, skip, name):
    """A personalized up-sampling block at the skip's resolution (channels = the skip's).

    The previous feature (the global vector for the first block, else the previous block's map) and the
    preference vector are each convolved and up-sampled to the skip's size, concatenated with the skip,
    fused by a 3x3 conv and refined by a residual block. Choices: a 4x4 stride-2 transposed conv for
    maps, a dense layer (a 1x1 conv) and broadcasting for vectors, ReLU after each.
    """
    filters = skip.shape[-1]
    if len(previous.shape) == 2:
        previous = keras.layers.Dense(filters, activation="relu", name=f"{name}_global")(previous)
        previous = Broadcast2D(name=f"{name}_global_up")([previous, skip])
    else:
        previous = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                                                activation="relu", name=f"{name}_up")(previous)
    preference = keras.layers.Dense(filters, activation="relu", name=f"{name}_preference")(preference)
    preference = Broadcast2D(name=f"{name}_preference_up")([preference, skip])
    x = keras.layers.Concatenate(name=f"{name}_concat")([skip, previous, preference])
    return _residual_block(_conv(filters, f"{name}_fuse")(x), f"{name}_res")


def enhancer(width=64, preference_dim=EMBEDDING_DIM, name="enhancer"):
    """PieNet's enhancer: [images [N, H, W, 3] in [0, 1], preference [N, 512]] -> images + ΔI.

    H and W must be multiples of MULTIPLE (16). width=64 is the default (choice, see ENCODER_WIDTHS);
    tests use narrower ones, with the preference_dim of a narrower embedding. The skips are the outputs
    of residual blocks 2, 4 and 6 (full, 1/2 and 1/4 size), the features each resolution ends with; the
    PUBs work at 1/4, 1/2 and full size (choice: the paper has three PUBs and ΔI at full size). The
    last conv starts at zero, so the untrained enhancer returns its input (choice).
    """
    image = keras.Input((None, None, 3), name="image")
    preference = keras.Input((preference_dim,), name="preference")
    widths = [width * m for m in ENCODER_WIDTHS]
    x = _conv(widths[0], "conv_in")(image)
    skips = []
    # Blocks 2k+1 and 2k+2 at widths[k], then a stride-2 conv to the next width (the last keeps 8w).
    for stage, next_width in enumerate(widths[1:] + widths[-1:]):
        x = _residual_block(_residual_block(x, f"res{2 * stage + 1}"), f"res{2 * stage + 2}")
        skips.append(x)
        x = _conv(next_width, f"down{stage + 1}", strides=2)(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    for k, skip in enumerate(reversed(skips[:3]), 1):
        x = _pub(x, preference, skip, f"pub{k}")
    delta = _conv(3, "delta", activation=None, kernel_initializer="zeros")(x)
    # The sum is taken in float32 so that mixed precision does not round the input image.
    delta = keras.layers.Activation("linear", dtype="float32", name="delta_f32")(delta)
    outputs = keras.layers.Add(dtype="float32", name="residual_add")([image, delta])
    return keras.Model([image, preference], outputs, name=name)
