"""The released GPEN checkpoints (PyTorch, yangxy/GPEN) read and recognised, without TensorFlow: a
wrong or damaged file is named before TensorFlow loads.

    config, state, d_state = checkpoints.read("GPEN-BFR-512.pth", "GPEN-BFR-512-D.pth")

`config` holds the GPEN arguments read from the tensors' shapes; gpen_tf/official.py ports the state
dicts into a GPEN. A training checkpoint ({"g", "d", "g_ema", "g_optim", "d_optim"}) gives its EMA
generator and, under "d", its discriminator.
"""

from common import pth

DISCRIMINATOR_KEY = "d"  # where the official training checkpoints keep the discriminator


def generator_config(state, source):
    """The GPEN arguments that a FullGenerator state dict was made with (read from shapes)."""
    if "generator.input.input" not in state or "ecd0.0.0.weight" not in state:
        raise pth.CheckpointError(f"{source} is not a GPEN FullGenerator: no 'generator.input.input' "
                                  f"and 'ecd0.0.0.weight' (its first keys: {list(state)[:4]})")
    encoder_levels = sum(1 for k in state if k.startswith("ecd") and k.endswith(".weight"))
    decoder_levels = sum(1 for k in state if k.startswith("generator.to_rgbs.") and k.endswith(".conv.weight"))
    if encoder_levels != decoder_levels + 1:
        raise pth.CheckpointError(
            f"{source} restores {2 ** (encoder_levels + 1)} px faces into {2 ** (decoder_levels + 2)} px "
            "ones (the official FullGenerator_SR), which this package's GPEN does not express")
    size = 2 ** (decoder_levels + 2)
    shapes = {"generator.input.input": 4, "generator.style.1.weight": 2,
              **({"generator.to_rgbs.3.conv.weight": 5} if size >= 64 else {})}
    for k, ndim in shapes.items():
        if k not in state or state[k].ndim != ndim or 0 in state[k].shape:
            raise pth.CheckpointError(f"{source} is not a GPEN FullGenerator: its '{k}' is missing or "
                                      "not of the official shape")
    narrow = state["generator.input.input"].shape[1] / 512
    channel_multiplier = 2  # only widths at 64 px and up show it
    if size >= 64:
        channel_multiplier = state["generator.to_rgbs.3.conv.weight"].shape[2] / 2 / (256 * narrow)
        channel_multiplier = int(channel_multiplier) if channel_multiplier == int(channel_multiplier) \
            else channel_multiplier
    mapping = [k for k in state if k.startswith("generator.style.") and k.endswith(".weight")]
    return dict(size=size, channel_multiplier=channel_multiplier, narrow=narrow,
                style_dim=int(state["generator.style.1.weight"].shape[0]), n_mlp=len(mapping))


def discriminator_size(state, source):
    """The face size of an official Discriminator state dict (one ResBlock per halving down to 4)."""
    if "convs.0.0.weight" not in state or "final_conv.0.weight" not in state:
        raise pth.CheckpointError(f"{source} is not a GPEN discriminator: no 'convs.0.0.weight' and "
                                  "'final_conv.0.weight'")
    blocks = sum(1 for k in state if k.startswith("convs.") and k.endswith(".conv1.0.weight"))
    return 2 ** (blocks + 2)


def rrdbnet_config(state, source):
    """The RRDBNet arguments (scale, num_feat, num_block, num_grow_ch) of a RealESRNet state dict
    (realesrnet_x1/x2/x4.pth's params_ema), read from shapes: conv_first takes 48, 12 or 3 channels
    at x1, x2, x4 (the pixel-unshuffle's 16, 4 or 1 times RGB)."""
    for k in ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_last.weight"):
        if k not in state or state[k].ndim != 4:
            raise pth.CheckpointError(f"{source} is not a RealESRNet RRDBNet: its '{k}' is missing or not "
                                      "a convolution")
    scales = {48: 1, 12: 2, 3: 4}
    channels = state["conv_first.weight"].shape[1]
    if channels not in scales:
        raise pth.CheckpointError(f"{source}: an RRDBNet whose first conv takes {channels} channels, "
                                  "not 48, 12 or 3 (x1, x2, x4 of RGB)")
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
    return dict(scale=scales[channels], num_feat=int(state["conv_first.weight"].shape[0]),
                num_block=blocks, num_grow_ch=int(state["body.0.rdb1.conv1.weight"].shape[0]))


def retinaface_config(state, source):
    """The backbone of a RetinaFace state dict (RetinaFace-R50.pth, or a MobileNet-0.25 one), told by
    its first layer: torchvision's `body.conv1` or MobileNet's `body.stage1.0.0`."""
    for k in ("ClassHead.0.conv1x1.weight", "fpn.output1.0.weight", "ssh1.conv3X3.0.weight"):
        if k not in state:
            raise pth.CheckpointError(f"{source} is not a RetinaFace: no '{k}'")
    if "body.conv1.weight" in state:
        return dict(backbone="resnet50")
    if "body.stage1.0.0.weight" in state:
        return dict(backbone="mobilenet0.25")
    raise pth.CheckpointError(f"{source}: a RetinaFace with neither a ResNet-50 ('body.conv1.weight') nor a "
                              "MobileNet-0.25 ('body.stage1.0.0.weight') backbone")


def parsenet_config(state, source, in_size=512):
    """The ParseNet arguments of a state dict (ParseNet-latest.pth), read from shapes; the face size is
    FaceParse's 512 (a convolutional network's weights do not show it)."""
    for k in ("encoder.0.conv2d.weight", "out_mask_conv.conv2d.weight", "out_img_conv.conv2d.weight"):
        if k not in state or state[k].ndim != 4:
            raise pth.CheckpointError(f"{source} is not a ParseNet: its '{k}' is missing or not a convolution")

    def count(prefix):
        return len({k.split(".")[1] for k in state if k.startswith(prefix)})

    down, up = count("encoder.") - 1, count("decoder.")
    widths = [int(v.shape[0]) for k, v in state.items() if k.endswith("conv2d.weight")
              and not k.startswith(("out_", "encoder.0."))]
    return dict(in_size=in_size, out_size=in_size * 2 ** up // 2 ** down, min_feat_size=in_size // 2 ** down,
                base_ch=int(state["encoder.0.conv2d.weight"].shape[0]),
                parsing_ch=int(state["out_mask_conv.conv2d.weight"].shape[0]), res_depth=count("body."),
                ch_range=(min(widths), max(widths)))


# The networks of GPEN's whole-photo pipeline besides GPEN itself: a key each has, and how to read it.
PIPELINE_NETWORKS = {"RealESRNet": ("conv_first.weight", rrdbnet_config),
                     "RetinaFace": ("ClassHead.0.conv1x1.weight", retinaface_config),
                     "ParseNet": ("out_mask_conv.conv2d.weight", parsenet_config)}


def read_any(checkpoint, discriminator=None, *, key=None, discriminator_key=DISCRIMINATOR_KEY):
    """(network, its arguments, state dict, discriminator state dict or None) of a released file,
    the network told from its keys: "GPEN" (a FullGenerator, as `read`), or one of
    PIPELINE_NETWORKS ("RealESRNet", "RetinaFace", "ParseNet"), which have no discriminator."""
    state = pth.load_state_dict(checkpoint, key)
    for network, (marker, config) in PIPELINE_NETWORKS.items():
        if marker in state:
            if discriminator:
                raise pth.CheckpointError(f"{checkpoint} is a {network}, which has no discriminator")
            return network, config(state, checkpoint), state, None
    return ("GPEN", *read(checkpoint, discriminator, key=key, discriminator_key=discriminator_key))


def read(checkpoint, discriminator=None, *, key=None, discriminator_key=DISCRIMINATOR_KEY):
    """(GPEN arguments, generator state dict, discriminator state dict or None) of the official .pth
    files: the generator under `key` (default: the first of pth.WRAPPER_KEYS, g_ema for a training
    checkpoint), the discriminator under `discriminator_key` (a bare state dict is read as it is). A
    CheckpointError names a file that cannot be read or is not a GPEN network."""
    state = pth.load_state_dict(checkpoint, key)
    config = generator_config(state, checkpoint)
    d_state = None
    if discriminator:
        d_state = pth.load_state_dict(discriminator, discriminator_key)
        size = discriminator_size(d_state, discriminator)
        if size != config["size"]:
            raise pth.CheckpointError(f"{discriminator} judges {size} px faces, the generator makes "
                                      f"{config['size']} px ones")
    return config, state, d_state
