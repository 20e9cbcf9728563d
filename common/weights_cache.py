"""Converted weights kept on disk, so that a released .pth (the metrics' networks: 95 MB for FID's
Inception, 528 MB for VGG-16, 175 MB for IR-SE50) is read and converted once, not at every run.

The cache lives under $GAN_ZOO_CACHE (default ~/.cache/gan_zoo_tf), one folder per network, one
.npz per set of source files, named by each file's name, size and modification time: a file
replaced in place (a fine-tuned IR-SE50 has the released one's size) converts again. The .npz holds
the model's variables in their order; a cache whose arrays do not fit the model (another version of
this package, a damaged file) is converted again and overwritten, never half-loaded.
"""

import os
import zipfile

import numpy as np


def root():
    return os.environ.get("GAN_ZOO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "gan_zoo_tf"))


def path(kind, sources):
    """The cache file of the network `kind` converted from the files `sources`."""
    names = []
    for source in sources:
        status = os.stat(source)
        stem = os.path.splitext(os.path.basename(source))[0]
        names.append(f"{stem}-{status.st_size}-{status.st_mtime_ns}")
    return os.path.join(root(), kind, "+".join(names) + ".npz")


def converted(kind, sources, variables, convert):
    """Fill `variables` (a model's, in a fixed order) from the cache of `sources`, or by `convert()`,
    which puts the converted weights into them and whose result is then kept for the next run."""
    from common import export
    cached = path(kind, sources)
    if not _restored(cached, variables):
        convert()
        export.replace_file(cached, lambda tmp: _save(tmp, variables))


def _save(tmp, variables):
    with open(tmp, "wb") as f:
        np.savez(f, *[np.asarray(v) for v in variables])


def _restored(cached, variables):
    """Whether `cached` held one array of each variable's shape and dtype, now assigned."""
    try:
        with np.load(cached, allow_pickle=False) as stored:
            arrays = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False
    fits = len(arrays) == len(variables) and all(
        a.shape == tuple(v.shape) and a.dtype == np.dtype(v.dtype) for a, v in zip(arrays, variables))
    if fits:
        for variable, array in zip(variables, arrays):
            variable.assign(array)
    return fits
