"""The models as the speed tools time them: tools/benchmark.py and the TensorFlow side of
tools/speed_vs_torch.py build their cases here.

`build(name, ...)` returns (model, batch, serve, served): an uncompiled model of the paper's networks
under the current Keras dtype policy, one training batch of random data, the model's serving function
(uint8 images in and out; DCGAN: latents to uint8 samples) and a zero input for it. `train_flop`
counts what one train step of such a model computes (an inference call is `flops.forward(serve,
served)`).
"""

import numpy as np

from common import data, export

import flops  # noqa: E402  (after common, which sets TensorFlow's CPU options)


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


# The cost of one pass of a network in a train step, in forwards of it: not backpropagated, one;
# backpropagated to its input only (a frozen network, or D in G's step, whose weight gradients
# TensorFlow prunes from the graph), two: forward and input gradient; backpropagated to its weights,
# three: forward, input and weight gradients (the first layer's input gradient, which no step needs,
# is counted all the same).
FORWARD, TO_INPUT, TO_WEIGHTS = 1, 2, 3


def _step(*terms, note=""):
    """(flops.Count, formula) of a step of (times, name, forward Count) terms."""
    total = sum((times * count for times, _, count in terms), flops.Count())
    formula = " + ".join(f"{times} x {name} {count.flop / 1e9:.2f}" for times, name, count in terms)
    return total, f"{formula} GFLOP forwards{note}"


def _gan_step(g, d):
    """G forward and backward; D on a real and a fake batch, both backpropagated (D's step), then on
    the fake again back to G (G's step): pix2pix and DCGAN."""
    return _step((TO_WEIGHTS, "G", g), (2 * TO_WEIGHTS + TO_INPUT, "D", d))


def _pix2pix_flop(model, batch):
    a, b = batch
    d_input = a.shape[:-1] + (a.shape[-1] + b.shape[-1],)  # A and B stacked on channels
    return _gan_step(flops.forward(model.generator, a.shape), flops.forward(model.discriminator, d_input))


def _dcgan_flop(model, batch):
    images, = batch
    return _gan_step(flops.forward(model.generator, (len(images), model.latent_dim)),
                     flops.forward(model.discriminator, images.shape))


def _dpe_flop(model, batch):
    x, y = batch
    g = flops.forward(model.generator, x.shape)
    if model.mode == "supervised":
        return _step((TO_WEIGHTS, "G", g))
    # The critic step (the generator step runs on every 50th batch only): the generators' outputs in
    # inference mode; each critic on real and fake images, and on their mix for the penalty, back to
    # the mix (the penalty's double backward to the critic's weights is left out). The inverse
    # networks of 2way have the shapes of these.
    critics = 2 if model.mode == "2way" else 1
    return _step((critics * FORWARD, "G", g),
                 (critics * (2 * TO_WEIGHTS + TO_INPUT), "D", flops.forward(model.discriminator, y.shape)),
                 note=" (critic step)")


def _pienet_flop(model, batch):
    (images, _), _ = batch
    if model.stage == "embed":  # the embedding on the targets and the inputs in one batch
        return _step((TO_WEIGHTS, "E", flops.forward(model.embedding, (2 * len(images),) + images.shape[1:])))
    enhancer = flops.forward(model.enhancer, images.shape, (len(images), model.embedding.output_shape[-1]))
    # The enhancer; the frozen embedding on the targets, and on the outputs back to the enhancer.
    return _step((TO_WEIGHTS, "G", enhancer),
                 (FORWARD + TO_INPUT, "E", flops.forward(model.embedding, images.shape)))


def _gpen_flop(model, batch):
    degraded, clean = batch
    if model.stage == "prior":
        batch_size = len(clean)
        g = flops.forward(model.decoder(), (batch_size, model.options["style_dim"]),
                          *((batch_size, *shape) for shape in model.noise_shapes))
    else:
        g = flops.forward(model.generator, degraded.shape)
    # D's step: G forward, D on real and fake faces; G's step: D's features of the real faces
    # (restore only, outside the tape), G, and D on the fake back to G. The R1 (every 16th) and
    # path-length (every 4th) steps are not counted: the median step has neither.
    d = 2 * TO_WEIGHTS + TO_INPUT + (FORWARD if model.stage == "restore" else 0)
    return _step((FORWARD + TO_WEIGHTS, "G", g), (d, "D", flops.forward(model.discriminator, clean.shape)),
                 note=" (without R1 and path-length steps)")


TRAIN_FLOP = {"pix2pix": _pix2pix_flop, "dcgan": _dcgan_flop, "dpe": _dpe_flop, "pienet": _pienet_flop,
              "gpen": _gpen_flop}


def train_flop(name, model, batch):
    """(flops.Count, formula) of one train step of case `name` on `batch`: its networks' forward
    counts times the passes the step makes (FORWARD, TO_INPUT, TO_WEIGHTS), e.g. "3 x G 18.2 + 8 x D
    3.4 GFLOP forwards". Left out besides what flops.forward leaves out: losses, optimizer updates,
    moving averages. A model that interleaves steps of other kinds is counted for the one `fit` runs
    most, which the median step times."""
    return TRAIN_FLOP[name](model, batch)
