"""Random state dicts made from a seed by NumPy alone, so that a parity fixture needs to ship only the
network's outputs: tools/make_retinaface_fixtures.py fills the official network with these, and the
test builds the same arrays from the stored key names and shapes."""

import numpy as np


def random_state(keys, shapes, seed, scales=None, suffix_scales=None):
    """{key: float32 array}: convolution and linear weights He-scaled normals, batch-norm weights and
    variances in [0.5, 1.5], biases and means small normals; one generator, in key order. `scales`
    ({key prefix: factor}) multiplies the entries under a prefix, e.g. to keep a softmax unsaturated;
    `suffix_scales` ({key suffix: factor}) those ending so, e.g. every residual branch's last batch
    norm, so that a deep random network stays well conditioned."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in zip(keys, shapes):
        shape = tuple(int(n) for n in shape)
        if key.endswith("running_var") or (key.endswith(".weight") and len(shape) == 1):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith(".weight"):
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        else:  # biases, running means
            value = rng.normal(0.0, 0.1, shape)
        factor = next((f for prefix, f in (scales or {}).items() if key.startswith(prefix)), 1.0)
        factor *= next((f for suffix, f in (suffix_scales or {}).items() if key.endswith(suffix)), 1.0)
        state[key] = (value * factor).astype(np.float32)
    return state


def fixture_state(fixture, prefix, seed, scales=None, suffix_scales=None):
    """`random_state` of the keys and shapes a fixture stored under `prefix`_keys and `prefix`_shapes
    (shapes as "64,3,7,7" strings, as the fixture scripts write them)."""
    keys = [str(k) for k in fixture[f"{prefix}_keys"]]
    shapes = [tuple(int(n) for n in str(s).split(",")) for s in fixture[f"{prefix}_shapes"]]
    return random_state(keys, shapes, seed, scales, suffix_scales)
