"""DPE's TensorFlow 1 checkpoints: the files checked and the variable names understood, without TensorFlow.

The official code (nothinglo's release and its copies) names every variable after its layer's index in
the list of layers of its sub-network: `conv_{l}_w`/`_b`, `bn_{l}_{set}_offset/_scale/_mv_mean/_mv_var`
(set: the iBN set, 0 for real inputs, 1 for the cycle pass) and, in the critic, `in_{l}_{set}_offset/
_scale`, inside `<name>_var_scope/<name>_var_scope{A|B}/<name>_{k}/`: k is the generator's encoder (1),
global path (2) or decoder (3), A|B the generator (or critic) of the 2-way GAN, and <name> `netG`/`netD`
in the training code, `netG-<experiment>` in the authors' demo checkpoints (`netG-999`, whose .meta
graph says `netG`). Everything before `<name>_{k}/` other than the A|B is ignored.

    check_files("LPGAN/model/90.000-new.ckpt")     # a CheckpointError unless PREFIX.index and data exist
    parsed = parse({name: shape, ...})              # {Key: name}, unknown names

The tables below put each official index on the Keras layer of dpe_tf/networks.py (dpe_tf/NOTES.md
has the same table by hand); dpe_tf/official.py reads the values with TensorFlow and ports them.
"""

import collections
import glob
import os
import re

from common.pth import CheckpointError

# Official layer index -> the Keras layer name's stem, per generator sub-network (1 encoder, 2 global
# path, 3 decoder) and for the critic.
GENERATOR_CONVS = {
    1: {0: "enc1", 3: "enc2", 6: "enc3", 9: "enc4", 12: "enc5"},
    2: {0: "glob1", 3: "glob2", 6: "glob3", 8: "glob4"},
    3: {0: "dec1", 2: "dec2", 5: "dec3", 10: "dec4", 15: "dec5", 20: "dec6", 25: "dec7", 28: "dec8"},
}
GENERATOR_NORMS = {
    1: {2: "enc1", 5: "enc2", 8: "enc3", 11: "enc4", 14: "enc5"},
    2: {2: "glob1", 5: "glob2"},
    3: {4: "dec2", 9: "dec3", 14: "dec4", 19: "dec5", 24: "dec6", 27: "dec7"},
}
CRITIC_CONVS = {**{3 * k: f"layer{k + 1}" for k in range(6)}, 18: "score"}
CRITIC_NORMS = {3 * k + 2: f"layer{k + 1}" for k in range(6)}
BN_FIELDS = ("offset", "scale", "mv_mean", "mv_var")
IN_FIELDS = ("offset", "scale")

# One variable: net "G" or "D", scope "A" or "B", sub-network k, kind ("conv", "bn", "in"), layer
# index, BN/IN set (None for convs) and field ("w", "b", or one of the norm fields).
Key = collections.namedtuple("Key", "net scope sub kind layer set field")

_SUB = re.compile(r"net([GD])(?:-\d+)?_(\d+)")
_LEAVES = [("conv", re.compile(r"conv_(\d+)_(w|b)")),
           ("bn", re.compile(r"bn_(\d+)_(\d+)_(offset|scale|mv_mean|mv_var)")),
           ("in", re.compile(r"in_(\d+)_(\d+)_(offset|scale)"))]
INDEX_MAGIC = bytes.fromhex("57fb808b247547db")  # the last 8 bytes of a TensorFlow table (.index)


def check_files(prefix):
    """A CheckpointError in one line unless `prefix` names a TensorFlow (V2) checkpoint: PREFIX.index,
    a table, and its PREFIX.data-* files."""
    index = f"{prefix}.index"
    for suffix in (".index", ".meta"):
        if prefix.endswith(suffix) and os.path.isfile(prefix):
            raise CheckpointError(f"{prefix}: give the checkpoint's prefix, without {suffix} "
                                  f"(--checkpoint={prefix[:-len(suffix)]})")
    if not os.path.isfile(index):
        raise CheckpointError(f"{prefix} is not a TensorFlow checkpoint: there is no {index}")
    with open(index, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - len(INDEX_MAGIC)))
        if f.read() != INDEX_MAGIC:
            raise CheckpointError(f"{index} is not a TensorFlow checkpoint index (no table in it)")
    if not glob.glob(f"{glob.escape(prefix)}.data-*-of-*"):
        raise CheckpointError(f"{prefix}: its data file {os.path.basename(prefix)}.data-00000-of-00001 "
                              "is missing beside its .index")


def parse_name(name):
    """The Key of an official variable name, or None for a name the official networks do not have."""
    parts = name.split("/")
    sub = _SUB.fullmatch(parts[-2]) if len(parts) >= 2 else None
    if sub is None:
        return None
    scope = re.search(r"([AB])$", parts[-3]) if len(parts) >= 3 else None
    for kind, pattern in _LEAVES:
        leaf = pattern.fullmatch(parts[-1])
        if leaf:
            layer, *rest = leaf.groups()
            index, field = (None, rest[0]) if kind == "conv" else (int(rest[0]), rest[1])
            return Key(sub.group(1), scope.group(1) if scope else "A", int(sub.group(2)), kind,
                       int(layer), index, field)
    return None


def parse(names):
    """({Key: name}, [names the official networks do not have]) of a checkpoint's variable names."""
    keys, unknown = {}, []
    for name in sorted(names):
        key = parse_name(name)
        if key is None or key in keys:
            unknown.append(name)
        else:
            keys[key] = name
    return keys, unknown


def generator_keys(scope, bn_set):
    """Every Key of one generator with one BN set (convs included): what a port of it needs."""
    keys = []
    for sub in (1, 2, 3):
        keys += [Key("G", scope, sub, "conv", layer, None, f) for layer in GENERATOR_CONVS[sub]
                 for f in "wb"]
        keys += [Key("G", scope, sub, "bn", layer, bn_set, f) for layer in GENERATOR_NORMS[sub]
                 for f in BN_FIELDS]
    return keys


def critic_keys(scope):
    return ([Key("D", scope, 1, "conv", layer, None, f) for layer in CRITIC_CONVS for f in "wb"]
            + [Key("D", scope, 1, "in", layer, 0, f) for layer in CRITIC_NORMS for f in IN_FIELDS])


def name_of(key, keys):
    """The variable name `key` has in a checkpoint whose parsed names are `keys`: its own, or for a
    missing one the name it would have beside the others of its network (for the error message)."""
    if key in keys:
        return keys[key]
    leaf = (f"conv_{key.layer}_{key.field}" if key.kind == "conv"
            else f"{key.kind}_{key.layer}_{key.set}_{key.field}")
    for known, name in keys.items():
        if (known.net, known.scope) == (key.net, key.scope):
            head, sub = name.split("/")[:-2], name.split("/")[-2]
            return "/".join(head + [re.sub(r"_\d+$", f"_{key.sub}", sub), leaf])
    return f"net{key.net}_var_scope/net{key.net}_var_scope{key.scope}/net{key.net}_{key.sub}/{leaf}"


def layout(keys, generator="A"):
    """What the checkpoint holds: "2way" (both generators with both iBN sets, and both critics: the
    2-way training code's checkpoint) or "generator" (one generator, one BN set: the authors' demo
    checkpoints), judged by what is present beyond `generator`'s set 0; a CheckpointError when the
    chosen generator is absent."""
    scopes = {k.scope for k in keys if k.net == "G"}
    if generator not in scopes:
        found = ", ".join(sorted(scopes)) or "none"
        raise CheckpointError(f"the checkpoint has no generator {generator} (it has: {found})")
    beyond = any(k.net == "D" or k.scope != generator or k.set not in (None, 0) for k in keys)
    return "2way" if beyond else "generator"


def image_size(keys, shapes):
    """The training size the generator was built for: its global path's VALID conv covers the 1/64
    map (8 x 8 at 512)."""
    for key, name in keys.items():
        if (key.net, key.sub, key.kind, key.layer, key.field) == ("G", 2, "conv", 6, "w"):
            return 64 * int(shapes[name][0])
    raise CheckpointError("the checkpoint has no global-path convolution (netG_2/conv_6_w): not the "
                          "DPE generator")
