"""What DCGAN's tools check on the command line, without TensorFlow, so that a bad flag is refused
before TensorFlow loads: the image sizes the networks are built for."""


def num_blocks(image_size):
    """Stride-2 blocks between 4x4 and image_size: 4 at 64x64."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"DCGAN image_size must be a power of two >= 8, got {image_size}")
    return image_size.bit_length() - 3
