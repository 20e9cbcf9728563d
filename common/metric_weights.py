"""The weight files of the learned metrics, in one folder that the evaluate tools take as
--metric_weights=DIR, laid out as the files are named where they are published:

    DIR/pt_inception-2015-12-05-6726825d.pth   FID, KID: pytorch-fid's Inception (its GitHub releases)
    DIR/lpips/alex.pth, DIR/lpips/vgg.pth      LPIPS v0.1's linear heads: the lpips package's
                                               lpips/weights/v0.1/ (they ship in its wheel)
    DIR/alexnet-owt-7be5be79.pth               LPIPS's backbones: torchvision's ImageNet weights (where
    DIR/vgg16-397923af.pth                     torchvision keeps its downloads: ~/.cache/torch/hub/checkpoints/)
    DIR/model_ir_se50.pth                      identity distance: GPEN's IR-SE50 ArcFace (its weights/)

A metric whose files are not there is left out of the table with one line that says which files
(`lpips_or_note`, `fid_or_note`, `arcface_or_note`); it is never reported as zero.
"""

import os

from absl import app, flags

LPIPS_BACKBONES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
FID_INCEPTION = "pt_inception-2015-12-05-6726825d.pth"
ARCFACE = "model_ir_se50.pth"


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_string("metric_weights", None, "A folder of the learned metrics' weight files "
                        "(README, Metrics: pt_inception-...pth, lpips/alex.pth, alexnet-owt-...pth); "
                        "without it LPIPS and FID are left out.", flag_values=flag_values)
    flags.DEFINE_enum("lpips_net", "alex", sorted(LPIPS_BACKBONES), "LPIPS's backbone (alex: the "
                      "lpips package's default).", flag_values=flag_values)


def check_flags(flag_values=flags.FLAGS):
    """A usage error unless --metric_weights, if given, is a folder (before TensorFlow loads)."""
    folder = flag_values.metric_weights
    if folder and not os.path.isdir(folder):
        raise app.UsageError(f"--metric_weights={folder}: no such folder")


def lpips_files(folder, net):
    return os.path.join(folder, "lpips", f"{net}.pth"), os.path.join(folder, LPIPS_BACKBONES[net])


def lpips_or_note(folder, net="alex"):
    """(the LPIPS metric, None), or (None, one line saying what is missing)."""
    heads, backbone = lpips_files(folder or "DIR", net)
    if not folder:
        return None, (f"LPIPS left out: give --metric_weights=DIR with {os.path.relpath(heads, 'DIR')} "
                      f"and {LPIPS_BACKBONES[net]} in it")
    missing = [path for path in (heads, backbone) if not os.path.isfile(path)]
    if missing:
        return None, f"LPIPS left out: {' and '.join(missing)} not found"
    from common import lpips  # TensorFlow
    return lpips.load(net, heads, backbone), None


def _network_or_note(folder, name, metric, load):
    """(load(the file `name` in `folder`), None), or (None, one line saying what is missing)."""
    path = os.path.join(folder or "DIR", name)
    if not folder:
        return None, f"{metric} left out: give --metric_weights=DIR with {name} in it"
    if not os.path.isfile(path):
        return None, f"{metric} left out: {path} not found"
    return load(path), None


def fid_or_note(folder):
    """The FID Inception's 2048-feature network, or the note (see `_network_or_note`)."""
    def load(path):
        from common import inception  # TensorFlow
        return inception.feature_network(inception.load(path), 2048)
    return _network_or_note(folder, FID_INCEPTION, "FID", load)


def arcface_or_note(folder):
    """IR-SE50 for the identity distance, or the note (see `_network_or_note`)."""
    def load(path):
        from common import arcface  # TensorFlow
        return arcface.load(path)
    return _network_or_note(folder, ARCFACE, "IDS", load)
