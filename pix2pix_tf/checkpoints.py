"""The released pix2pix checkpoints (PyTorch, junyanz/pytorch-CycleGAN-and-pix2pix) read and recognised,
without TensorFlow: a wrong or damaged file is named before TensorFlow loads.

    config, state, d_state = checkpoints.read("latest_net_G.pth", "latest_net_D.pth")

`config` holds the Pix2Pix arguments read from the tensors' shapes; pix2pix_tf/official.py ports the
state dicts into a Pix2Pix.
"""

from common import pth

OUTER = "model.model"  # UnetGenerator.model (the outermost block) . its Sequential


def level_prefixes(state):
    """The key prefix of each U-Net level's Sequential, outermost first. Outermost: [conv, inner
    level, ReLU, convT, tanh]; middle: [LeakyReLU, conv, norm, inner level, ReLU, convT, norm,
    (dropout)]; innermost: [LeakyReLU, conv, ReLU, convT, norm]."""
    prefixes = [OUTER, f"{OUTER}.1.model"]
    while f"{prefixes[-1]}.3.model.1.weight" in state:
        prefixes.append(f"{prefixes[-1]}.3.model")
    return prefixes


def generator_config(state, source):
    """The Pix2Pix arguments that the generator state dict was made with (read from shapes)."""
    first, last = f"{OUTER}.0.weight", f"{OUTER}.3.weight"
    if first not in state or last not in state or state[first].ndim != 4 or state[last].ndim != 4:
        raise pth.CheckpointError(f"{source} is not a pix2pix U-Net generator: no '{first}' and "
                                  f"'{last}' (its first keys: {list(state)[:4]})")
    downs = len(level_prefixes(state))
    batch = f"{OUTER}.1.model.2.running_mean" in state
    return dict(generator=f"unet_{2 ** downs}", ngf=int(state[first].shape[0]),
                input_channels=int(state[first].shape[1]), output_channels=int(state[last].shape[1]),
                norm="batch" if batch else "instance")


def discriminator_config(state, source):
    """(ndf, n_layers, input channels) of a PatchGAN state dict: its convs are model.0, model.2 and
    then every third entry (conv, norm, LeakyReLU)."""
    if "model.0.weight" not in state or state["model.0.weight"].ndim != 4:
        raise pth.CheckpointError(f"{source} is not a pix2pix PatchGAN discriminator: no 'model.0.weight'")
    convs = [k for k, v in state.items() if k.startswith("model.") and k.endswith(".weight")
             and v.ndim == 4]
    return int(state["model.0.weight"].shape[0]), len(convs) - 2, int(state["model.0.weight"].shape[1])


def read(checkpoint, discriminator=None, *, key=None, dropout=True):
    """(Pix2Pix arguments, generator state dict, discriminator state dict or None) of the official
    .pth files. A CheckpointError names a file that cannot be read or is not a pix2pix network."""
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
    return config, state, d_state
