"""DCGAN (Radford, Metz, Chintala 2015) in Keras: unconditional image generation from a latent vector."""

import importlib

import common  # first: importing it sets TensorFlow's CPU options, which TensorFlow reads when it loads

# The model classes load TensorFlow, so they are imported when first used: a command-line tool of
# this package can then check its arguments and files (and print --help) before TensorFlow starts.
_LAZY = {
    "DCGAN": "dcgan_tf.model",
}
__all__ = sorted(_LAZY)
del common


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
