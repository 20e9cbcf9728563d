"""The released pix2pix checkpoints (PyTorch, junyanz/pytorch-CycleGAN-and-pix2pix) as this package's
Pix2Pix: the weights ported key by key into the architecture read from the tensors' shapes
(pix2pix_tf/checkpoints.py).

    model = official.convert("latest_net_G.pth", "latest_net_D.pth")   # a Pix2Pix
    official.write(model, "pretrained/facades", mode="paper")

The command line is `python -m pix2pix_tf.convert` (pix2pix_tf/convert.py).
"""

import os

from common import export
from common.porting import Porting
from pix2pix_tf import checkpoints, inference, options
from pix2pix_tf.checkpoints import OUTER
from pix2pix_tf.model import VALUE_RANGE, Pix2Pix


def port_generator(port, generator, downs):
    prefixes = checkpoints.level_prefixes(port.state)
    port.conv(generator.get_layer("down1_conv"), f"{OUTER}.0")
    port.conv(generator.get_layer("up1_convT"), f"{OUTER}.3", transpose=True)
    for k, prefix in enumerate(prefixes[1:], 2):
        innermost = k == downs
        port.conv(generator.get_layer(f"down{k}_conv"), f"{prefix}.1")
        if not innermost and generator.get_layer(f"down{k}_norm").weights:
            port.batch_norm(generator.get_layer(f"down{k}_norm"), f"{prefix}.2")
        port.conv(generator.get_layer(f"up{k}_convT"), f"{prefix}.{3 if innermost else 5}", transpose=True)
        if generator.get_layer(f"up{k}_norm").weights:
            port.batch_norm(generator.get_layer(f"up{k}_norm"), f"{prefix}.{4 if innermost else 6}")


def port_discriminator(port, discriminator, n_layers):
    port.conv(discriminator.get_layer("layer0_conv"), "model.0")
    for n in range(1, n_layers + 1):
        port.conv(discriminator.get_layer(f"layer{n}_conv"), f"model.{3 * n - 1}")
        if discriminator.get_layer(f"layer{n}_norm").weights:
            port.batch_norm(discriminator.get_layer(f"layer{n}_norm"), f"model.{3 * n}")
    port.conv(discriminator.get_layer("logits_conv"), f"model.{3 * n_layers + 2}")


def build(config, state, d_state=None, *, sources=("the generator", "the discriminator")):
    """A Pix2Pix of `config` holding the state dicts of `checkpoints.read`; a PortingError names the
    keys that do not fit."""
    model = Pix2Pix(**config)
    port = Porting(state, sources[0])
    port_generator(port, model.generator, options.num_downs(config["generator"]))
    port.finish()
    if d_state is not None:
        port = Porting(d_state, sources[1])
        port_discriminator(port, model.discriminator, config["n_layers"])
        port.finish()
    return model


def convert(checkpoint, discriminator=None, *, key=None, dropout=True):
    """A Pix2Pix holding the weights of the official generator (and discriminator) .pth files.

    Raises pth.CheckpointError for a file that cannot be read or is not a pix2pix network, and
    common.porting.PortingError (naming the keys) for one that does not fit the architecture read
    from its shapes.
    """
    config, state, d_state = checkpoints.read(checkpoint, discriminator, key=key, dropout=dropout)
    return build(config, state, d_state, sources=(checkpoint, discriminator))


def write(model, output, mode="paper"):
    """DIR/saved_model (running the generator in inference `mode`: by default the paper's, as the
    official test.py serves the released models), DIR/pix2pix.weights.h5 and DIR/config.json of a
    converted model. Paper mode runs at 2^downsamplings px, the crop size the official code pairs
    with each U-Net (256 for unet_256)."""
    os.makedirs(output, exist_ok=True)
    inference.export_generator(model.generator, os.path.join(output, "saved_model"), mode,
                               size=model.multiple, multiple=model.multiple, value_range=VALUE_RANGE,
                               metadata=export.describe("Pix2Pix", model.get_config(), epoch=None))
    export.replace_file(os.path.join(output, "pix2pix.weights.h5"), model.save_weights)
    export.replace_file(os.path.join(output, "config.json"),
                        lambda path: export.write_json(path, dict(model.options)))
