"""The released pix2pix checkpoints (PyTorch, junyanz/pytorch-CycleGAN-and-pix2pix) as this package's
Pix2Pix: the architecture read from the tensors' shapes, the weights ported key by key.

    model = official.convert("latest_net_G.pth", "latest_net_D.pth")   # a Pix2Pix
    official.write(model, "pretrained/facades", mode="eval")

The command line is `python -m pix2pix_tf.convert` (pix2pix_tf/convert.py).
"""

import os

from common import export, pth
from common.porting import Porting
from pix2pix_tf import inference, networks
from pix2pix_tf.model import VALUE_RANGE, Pix2Pix

_OUTER = "model.model"  # UnetGenerator.model (the outermost block) . its Sequential


def _level_prefixes(state):
    """The key prefix of each U-Net level's Sequential, outermost first. Outermost: [conv, inner
    level, ReLU, convT, tanh]; middle: [LeakyReLU, conv, norm, inner level, ReLU, convT, norm,
    (dropout)]; innermost: [LeakyReLU, conv, ReLU, convT, norm]."""
    prefixes = [_OUTER, f"{_OUTER}.1.model"]
    while f"{prefixes[-1]}.3.model.1.weight" in state:
        prefixes.append(f"{prefixes[-1]}.3.model")
    return prefixes


def generator_config(state, source):
    """The Pix2Pix arguments that the generator state dict was made with (read from shapes)."""
    first, last = f"{_OUTER}.0.weight", f"{_OUTER}.3.weight"
    if first not in state or last not in state:
        raise pth.CheckpointError(f"{source} is not a pix2pix U-Net generator: no '{first}' and "
                                  f"'{last}' (its first keys: {list(state)[:4]})")
    downs = len(_level_prefixes(state))
    batch = f"{_OUTER}.1.model.2.running_mean" in state
    return dict(generator=f"unet_{2 ** downs}", ngf=int(state[first].shape[0]),
                input_channels=int(state[first].shape[1]), output_channels=int(state[last].shape[1]),
                norm="batch" if batch else "instance")


def discriminator_config(state, source):
    """(ndf, n_layers, input channels) of a PatchGAN state dict: its convs are model.0, model.2 and
    then every third entry (conv, norm, LeakyReLU)."""
    if "model.0.weight" not in state:
        raise pth.CheckpointError(f"{source} is not a pix2pix PatchGAN discriminator: no 'model.0.weight'")
    convs = [k for k, v in state.items() if k.startswith("model.") and k.endswith(".weight")
             and v.ndim == 4]
    return int(state["model.0.weight"].shape[0]), len(convs) - 2, int(state["model.0.weight"].shape[1])


def port_generator(port, generator, downs):
    prefixes = _level_prefixes(port.state)
    port.conv(generator.get_layer("down1_conv"), f"{_OUTER}.0")
    port.conv(generator.get_layer("up1_convT"), f"{_OUTER}.3", transpose=True)
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


def convert(checkpoint, discriminator=None, *, key=None, dropout=True):
    """A Pix2Pix holding the weights of the official generator (and discriminator) .pth files.

    Raises pth.CheckpointError for a file that cannot be read or is not a pix2pix network, and
    common.porting.PortingError (naming the keys) for one that does not fit the architecture read
    from its shapes.
    """
    state = pth.load_state_dict(checkpoint, key)
    config = dict(generator_config(state, checkpoint), dropout=dropout)
    d_state = None
    if discriminator:
        d_state = pth.load_state_dict(discriminator, key)
        ndf, n_layers, channels = discriminator_config(d_state, discriminator)
        if channels != config["input_channels"] + config["output_channels"]:
            raise pth.CheckpointError(
                f"{discriminator} takes {channels} channels, but the generator pairs "
                f"{config['input_channels']} + {config['output_channels']}: not the same model")
        config.update(ndf=ndf, n_layers=n_layers)
    model = Pix2Pix(**config)
    port = Porting(state, checkpoint)
    port_generator(port, model.generator, networks.num_downs(config["generator"]))
    port.finish()
    if d_state is not None:
        port = Porting(d_state, discriminator)
        port_discriminator(port, model.discriminator, config["n_layers"])
        port.finish()
    return model


def write(model, output, mode="eval"):
    """DIR/saved_model (running the generator in inference `mode`), DIR/pix2pix.weights.h5 and
    DIR/config.json of a converted model."""
    os.makedirs(output, exist_ok=True)
    config = dict(model.options)
    metadata = dict(export.describe("Pix2Pix", model.get_config(), epoch=None), inference=mode)
    export.export_translator(inference.generator_for(model.generator, mode),
                             os.path.join(output, "saved_model"), value_range=VALUE_RANGE,
                             multiple=model.multiple, metadata=metadata)
    export.replace_file(os.path.join(output, "pix2pix.weights.h5"), model.save_weights)
    export.replace_file(os.path.join(output, "config.json"), lambda path: export.write_json(path, config))
