"""DPE's TensorFlow 1 checkpoints (the authors' demo models, the 2-way training code's) as this
package's DPE, read with `tf.train.load_checkpoint` (no TF1 graph).

    model, exported = official.convert("LPGAN/model/90.000-new.ckpt")     # a DPE, and the generator
    official.write(model, exported, "pretrained/dpe")

The names are understood by dpe_tf/checkpoints.py. The official code runs on BGR images (it reads them
with OpenCV), this package on RGB: the first convolution of each network takes its input channels in
the other order and the generators' last convolution gives its output channels in the other order, so
that the converted networks compute the official function on RGB images. The command line is
`python -m dpe_tf.convert` (dpe_tf/convert.py).
"""

import os

import tensorflow as tf

from common import export
from common.porting import Porting
from common.pth import CheckpointError
from dpe_tf import checkpoints, networks, serving
from dpe_tf.checkpoints import CRITIC_CONVS, CRITIC_NORMS, GENERATOR_CONVS, GENERATOR_NORMS, Key
from dpe_tf.model import DPE

_BN = {"offset": "beta", "scale": "gamma", "mv_mean": "moving_mean", "mv_var": "moving_variance"}


def read(prefix):
    """({name: array}, {Key: name}) of the checkpoint at `prefix`; a CheckpointError names a file
    TensorFlow cannot read and the variables that are not the official networks'."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        values = {name: reader.get_tensor(name) for name in shapes}
    except tf.errors.OpError as err:
        raise CheckpointError(f"{prefix}: not a readable TensorFlow checkpoint "
                              f"({err.message.strip().splitlines()[0][:200]})") from None
    keys, unknown = checkpoints.parse(values)
    if unknown:
        raise CheckpointError(f"{prefix} holds variables of no DPE network: "
                              f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    return values, keys


def _in_rgb(values, keys):
    """The arrays with the BGR ends of each network turned to RGB (a copy of what changes)."""
    values = dict(values)
    for key, name in keys.items():
        first_conv = key.kind == "conv" and key.sub == 1 and key.layer == 0 and key.field == "w"
        last_conv = (key.net, key.sub, key.kind, key.layer) == ("G", 3, "conv", 28)
        if first_conv:
            values[name] = values[name][:, :, ::-1, :]
        elif last_conv:
            values[name] = values[name][..., ::-1]
    return values


def _port_generator(port, generator, keys, scope, bn_set):
    parts = networks.parts(generator)
    suffix = "" if bn_set == 0 else "_cycle"
    for sub, part in zip((1, 2, 3), parts):
        for layer, stem in GENERATOR_CONVS[sub].items():
            conv = part.get_layer(f"{stem}_conv")
            port.take(conv.kernel, checkpoints.name_of(Key("G", scope, sub, "conv", layer, None, "w"), keys))
            port.take(conv.bias, checkpoints.name_of(Key("G", scope, sub, "conv", layer, None, "b"), keys))
        for layer, stem in GENERATOR_NORMS[sub].items():
            norm = part.get_layer(f"{stem}_bn{suffix}")
            for field, attribute in _BN.items():
                port.take(getattr(norm, attribute),
                          checkpoints.name_of(Key("G", scope, sub, "bn", layer, bn_set, field), keys))


def _port_critic(port, critic, keys, scope):
    for layer, stem in CRITIC_CONVS.items():
        conv = critic.get_layer(f"{stem}_conv")
        port.take(conv.kernel, checkpoints.name_of(Key("D", scope, 1, "conv", layer, None, "w"), keys))
        port.take(conv.bias, checkpoints.name_of(Key("D", scope, 1, "conv", layer, None, "b"), keys))
    for layer, stem in CRITIC_NORMS.items():
        norm = critic.get_layer(f"{stem}_in")
        port.take(norm.beta, checkpoints.name_of(Key("D", scope, 1, "in", layer, 0, "offset"), keys))
        port.take(norm.gamma, checkpoints.name_of(Key("D", scope, 1, "in", layer, 0, "scale"), keys))


def build(values, keys, *, generator="A", source="the checkpoint"):
    """(a DPE holding the checkpoint's networks, the generator network to export: `generator`, A or B).

    The authors' demo checkpoints (one generator, one BN set) give a supervised-mode DPE; the 2-way
    training code's give a 2way DPE: generator A with its two iBN sets as `generator` and
    `generator_cycle`, B as `inverse_generator` and `inverse_generator_cycle`, critic A (on retouched
    photos) as `discriminator` and B as `inverse_discriminator` (as the official one, it scores real
    inputs low). A PortingError names the missing, unused and mis-shaped variables.
    """
    shapes = {name: value.shape for name, value in values.items()}
    mode = "2way" if checkpoints.layout(keys, generator) == "2way" else "supervised"
    model = DPE(mode=mode, image_size=checkpoints.image_size(keys, shapes))
    port = Porting(_in_rgb(values, keys), source)
    if mode == "supervised":
        _port_generator(port, model.generator, keys, generator, 0)
        exported = model.generator
    else:
        for scope, pair in (("A", (model.generator, model.generator_cycle)),
                            ("B", (model.inverse_generator, model.inverse_generator_cycle))):
            for bn_set, network in enumerate(pair):
                _port_generator(port, network, keys, scope, bn_set)
        _port_critic(port, model.discriminator, keys, "A")
        _port_critic(port, model.inverse_discriminator, keys, "B")
        exported = model.generator if generator == "A" else model.inverse_generator
    port.finish()
    return model, exported


def convert(prefix, *, generator="A"):
    """`build` of the checkpoint at `prefix` (CheckpointError and PortingError in one line)."""
    checkpoints.check_files(prefix)
    values, keys = read(prefix)
    return build(values, keys, generator=generator, source=prefix)


def write(model, exported, output, *, generator="A"):
    """DIR/saved_model (the `exported` generator, serving any size as a trained DPE export does),
    DIR/dpe.weights.h5 (every network of `model`, for fine-tuning) and DIR/config.json (the DPE
    arguments)."""
    os.makedirs(output, exist_ok=True)
    metadata = dict(export.describe("DPE", model.get_config(), epoch=None), generator=generator)
    serving.export_enhancer(exported, os.path.join(output, "saved_model"), metadata=metadata)
    export.replace_file(os.path.join(output, "dpe.weights.h5"), model.save_weights)
    export.replace_file(os.path.join(output, "config.json"),
                        lambda path: export.write_json(path, dict(model.options)))

