"""What pix2pix's tools offer on the command line, without TensorFlow, so that they define their flags
and answer --help before TensorFlow loads: the U-Net depths and the inference modes of an export."""

GENERATORS = tuple(f"unet_{2 ** k}" for k in range(5, 11))  # unet_N for N x N crops
INFERENCE_MODES = ("eval", "paper")


def num_downs(generator):
    """unet_256 -> 8 downsamplings: inputs must divide by 2 ** num_downs."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
    return int(generator.split("_")[1]).bit_length() - 1
