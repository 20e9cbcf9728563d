"""The released GPEN checkpoints (PyTorch, yangxy/GPEN) as this package's GPEN: the weights ported key
by key into the architecture read from the tensors' shapes (gpen_tf/checkpoints.py).

    model = official.convert("GPEN-BFR-512.pth", "GPEN-BFR-512-D.pth")   # a GPEN
    official.write(model, "pretrained/bfr512")

The command line is `python -m gpen_tf.convert` (gpen_tf/convert.py).

Official names -> ours: FullGenerator.ecd0 .. ecd<L-2> -> encoder ecd_<S> .. ecd_4 (ConvLayer: an
optional Blur buffer, EqualConv2d, FusedLeakyReLU); final_linear.0 -> final_linear; generator.style.1..n
-> decoder mapping_0..; generator.input.input -> input; generator.conv1 / to_rgb1 -> conv_4 / to_rgb_4;
generator.convs.2k / 2k+1 / to_rgbs.k -> conv_<r>_up / conv_<r> / to_rgb_<r> with r = 8 * 2^k.
Discriminator: convs.0 -> from_rgb, convs.k -> block_<S / 2^(k-1)>, final_conv, final_linear.0/1 ->
final_linear / score. The blur kernels stored as buffers are checked against ours, not copied.
"""

import os

from common import export
from common.porting import CONV, LINEAR, Porting
from gpen_tf import checkpoints, networks, serving
from gpen_tf.model import GPEN

MODULATED = (0,)  # the leading 1 of a ModulatedConv2d weight [1, out, in, k, k]


def _conv_layer(port, layer, prefix):
    """An official ConvLayer (a Sequential: [Blur], EqualConv2d, [FusedLeakyReLU])."""
    index = 0
    if layer.downsample:
        port.constant(f"{prefix}.0.kernel", layer.blur.kernel)
        index = 1
    port.take(layer.conv.kernel, f"{prefix}.{index}.weight", CONV)
    if layer.activate:
        port.take(layer.act.bias, f"{prefix}.{index + 1}.bias")


def _dense(port, layer, prefix):
    port.take(layer.kernel, f"{prefix}.weight", LINEAR)
    port.take(layer.bias, f"{prefix}.bias")


def _modulated(port, conv, prefix):
    port.take(conv.kernel, f"{prefix}.weight", CONV, squeeze=MODULATED)
    _dense(port, conv.modulation, f"{prefix}.modulation")
    if conv.upsample:
        port.constant(f"{prefix}.blur.kernel", conv.blur.kernel)


def _styled(port, layer, prefix):
    _modulated(port, layer.conv, f"{prefix}.conv")
    port.take(layer.noise.weight, f"{prefix}.noise.weight")
    port.take(layer.activate.bias, f"{prefix}.activate.bias")


def _to_rgb(port, layer, prefix):
    _modulated(port, layer.conv, f"{prefix}.conv")
    port.take(layer.bias, f"{prefix}.bias", squeeze=(0, 2, 3))
    if layer.upsample:
        port.constant(f"{prefix}.upsample.kernel", layer.upsample_skip.kernel)


def port_generator(port, generator, size):
    encoder, _, mapping, synthesis = networks.parts(generator)
    resolutions = networks.resolutions(size)
    for i, r in enumerate(reversed(resolutions)):
        _conv_layer(port, encoder.get_layer(f"ecd_{r}"), f"ecd{i}.0")
    _dense(port, encoder.get_layer("final_linear"), "final_linear.0")
    for i in range(len(mapping.layers) - 2):  # the input and the PixelNorm hold no weights
        _dense(port, mapping.get_layer(f"mapping_{i}"), f"generator.style.{i + 1}")
    port.take(synthesis.get_layer("input").constant, "generator.input.input", (0, 2, 3, 1))
    _styled(port, synthesis.get_layer("conv_4"), "generator.conv1")
    _to_rgb(port, synthesis.get_layer("to_rgb_4"), "generator.to_rgb1")
    for k, r in enumerate(resolutions[1:]):
        _styled(port, synthesis.get_layer(f"conv_{r}_up"), f"generator.convs.{2 * k}")
        _styled(port, synthesis.get_layer(f"conv_{r}"), f"generator.convs.{2 * k + 1}")
        _to_rgb(port, synthesis.get_layer(f"to_rgb_{r}"), f"generator.to_rgbs.{k}")


def port_discriminator(port, discriminator, size):
    _conv_layer(port, discriminator.get_layer("from_rgb"), "convs.0")
    for k, r in enumerate(reversed(networks.resolutions(size)[1:]), 1):
        block = discriminator.get_layer(f"block_{r}")
        for name in ("conv1", "conv2", "skip"):
            _conv_layer(port, getattr(block, name), f"convs.{k}.{name}")
    _conv_layer(port, discriminator.get_layer("final_conv"), "final_conv")
    _dense(port, discriminator.get_layer("final_linear"), "final_linear.0")
    _dense(port, discriminator.get_layer("score"), "final_linear.1")


def build(config, state, d_state=None, *, sources=("the generator", "the discriminator")):
    """A GPEN (stage restore) of `config` holding the state dicts of `checkpoints.read`; a
    PortingError names the keys that do not fit."""
    model = GPEN(**config, stage="restore")
    port = Porting(state, sources[0])
    port_generator(port, model.generator, config["size"])
    port.finish()
    model.reset_average()  # a released generator is an EMA generator (or its training twin)
    if d_state is not None:
        port = Porting(d_state, sources[1])
        port_discriminator(port, model.discriminator, config["size"])
        port.finish()
    return model


def convert(checkpoint, discriminator=None, *, key=None, discriminator_key=checkpoints.DISCRIMINATOR_KEY):
    """A GPEN (stage restore) holding the weights of the official generator (and discriminator) .pth.

    Raises pth.CheckpointError for a file that cannot be read or is not a GPEN network, and
    common.porting.PortingError (naming the keys) for one that does not fit the architecture read
    from its shapes.
    """
    config, state, d_state = checkpoints.read(checkpoint, discriminator, key=key,
                                              discriminator_key=discriminator_key)
    return build(config, state, d_state, sources=(checkpoint, discriminator))


def write(model, output, value_range=serving.VALUE_RANGE):
    """DIR/saved_model (restoring faces as gpen_tf.restore runs them), DIR/gpen.weights.h5 and
    DIR/config.json of a converted model. `value_range` is what the network was trained on: the
    official [-1, 1], or [0, 1] for a model run with is_norm=False (GPEN-Seg2face)."""
    os.makedirs(output, exist_ok=True)
    metadata = export.describe("GPEN", model.get_config(), epoch=None)
    serving.export_restorer(model.generator_ema, os.path.join(output, "saved_model"), model.options["size"],
                            metadata=metadata, value_range=value_range)
    export.replace_file(os.path.join(output, "gpen.weights.h5"), model.save_weights)
    export.replace_file(os.path.join(output, "config.json"),
                        lambda path: export.write_json(path, dict(model.options)))

