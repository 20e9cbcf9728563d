"""The values the shared flags choose among, and the image files the tools read and write, in a
module without TensorFlow: the tools define their flags, answer --help and check their arguments
before TensorFlow loads (3-4 s). The modules that act on these values (runtime, data, losses,
images) import them from here."""

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "off", "float16", "bfloat16")
XLA_MODES = ("auto", "on", "off")
ON_BAD_IMAGE = ("skip", "fatal")
GAN_MODES = ("vanilla", "lsgan", "wgangp")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
