"""The models as the speed tools time them: tools/benchmark.py and the TensorFlow side of
tools/speed_vs_torch.py build their cases here.

`build(name, ...)` returns (model, batch, serve, served): an uncompiled model of the paper's networks
under the current Keras dtype policy, one training batch of random data, the model's serving function
(uint8 images in and out; DCGAN: latents to uint8 samples) and a zero input for it.
"""

import numpy as np

from common import data, export


def _pairs(rng, batch_size, image_size, low):
    shape = (batch_size, image_size, image_size, 3)
    return tuple(rng.uniform(low, 1, shape).astype("float32") for _ in range(2))


def _photos(serve_batch, serve_size):
    return np.zeros((serve_batch, *serve_size, 3), np.uint8)


def pix2pix(mode, image_size, batch_size, serve_batch, serve_size):
    """The paper's pix2pix (unet_256 at 256) on random pairs; serving uint8 images."""
    from pix2pix_tf import Pix2Pix
    model = Pix2Pix(generator=f"unet_{image_size}")

    def serve(images):
        return export.translate_uint8(model.generator, images, value_range=(-1, 1),
                                      multiple=model.multiple)

    batch = _pairs(np.random.default_rng(0), batch_size, image_size, -1)
    return model, batch, serve, _photos(serve_batch, serve_size)


def dcgan(mode, image_size, batch_size, serve_batch, serve_size):
    """The paper's DCGAN at image_size on random images; serving = sampling latents."""
    from dcgan_tf import DCGAN
    from dcgan_tf.model import VALUE_RANGE, latents
    model = DCGAN(image_size=image_size)

    def serve(z):
        return data.from_range(model.generator(z, training=False), VALUE_RANGE)

    images = np.random.default_rng(0).uniform(-1, 1, (batch_size, image_size, image_size, 3))
    return model, (images.astype("float32"),), serve, latents(serve_batch)


def dpe(mode, image_size, batch_size, serve_batch, serve_size):
    """DPE in `mode` (default 2way) on random pairs; serving = enhancing photos of serve_size."""
    from dpe_tf import serving
    from dpe_tf.model import DPE
    model = DPE(mode=mode or "2way", image_size=image_size)

    def serve(images):
        return serving.enhance_uint8(model.generator, images, image_size=image_size)

    batch = _pairs(np.random.default_rng(0), batch_size, image_size, 0)
    return model, batch, serve, _photos(serve_batch, serve_size)


def pienet(mode, image_size, batch_size, serve_batch, serve_size):
    """PieNet's `mode` stage (default enhance) on random pairs of 5 users; serving = enhancing photos
    of serve_size with one preference vector."""
    from pienet_tf import serving
    from pienet_tf.model import PieNet
    model = PieNet(users=[f"user{i}" for i in range(5)], stage=mode or "enhance",
                   image_size=image_size)
    x, y = _pairs(np.random.default_rng(0), batch_size, image_size, 0)
    users = (np.arange(batch_size) % 5).astype("int32")
    preference = model.style_vectors()[1][:1]

    def serve(images):
        return serving.enhance_uint8(model.enhancer, images, preference)

    return model, ((x, users), y), serve, _photos(serve_batch, serve_size)


def gpen(mode, image_size, batch_size, serve_batch, serve_size):
    """GPEN's `mode` stage (default restore) on random faces: GPEN-BFR-256's widths at 256, else
    BFR-512's; serving = restoring faces of serve_size (resized to the model's size and back)."""
    from gpen_tf import serving
    from gpen_tf.model import GPEN
    widths = dict(channel_multiplier=1, narrow=0.5) if image_size == 256 else {}
    model = GPEN(size=image_size, stage=mode or "restore", **widths)

    def serve(images):
        return serving.restore_uint8(model.generator, images, image_size)

    batch = _pairs(np.random.default_rng(0), batch_size, image_size, -1)
    return model, batch, serve, _photos(serve_batch, serve_size)


CASES = {"pix2pix": pix2pix, "dcgan": dcgan, "dpe": dpe, "pienet": pienet, "gpen": gpen}


def build(name, *, mode=None, image_size=256, batch_size=1, serve_batch=1, serve_size=None):
    """The case of model `name`; serve_size (H, W) defaults to image_size square."""
    serve_size = tuple(int(v) for v in serve_size or (image_size, image_size))
    return CASES[name](mode, image_size, batch_size, serve_batch, serve_size)
