"""Putting a PyTorch state dict into Keras layers, key by key, with errors that name the key.

    port = Porting(state, source="latest_net_G.pth")
    port.conv(model.get_layer("down1_conv"), "model.model.0")
    port.batch_norm(model.get_layer("down2_norm"), "model.model.1.model.2")
    port.finish()      # every key used, every shape right; only then are the variables assigned

Layouts: a torch Conv2d weight is [out, in, kh, kw] and a Keras Conv2D kernel [kh, kw, in, out]; a
ConvTranspose2d weight is [in, out, kh, kw] and a Conv2DTranspose kernel [kh, kw, out, in]; a Linear
weight is [out, in] and a Dense kernel [in, out].
"""

import numpy as np

CONV = (2, 3, 1, 0)            # [out, in, kh, kw] -> [kh, kw, in, out]
CONV_TRANSPOSE = (2, 3, 1, 0)  # [in, out, kh, kw] -> [kh, kw, out, in]
LINEAR = (1, 0)                # [out, in] -> [in, out]
# State-dict entries that hold no weights.
IGNORED_SUFFIXES = (".num_batches_tracked",)


class PortingError(ValueError):
    """A state dict that does not fit the model: the message names the keys."""


class Porting:
    """Collects (variable, array) pairs from a state dict; `finish` checks all and assigns them."""

    def __init__(self, state, source="the checkpoint"):
        self.state, self.source = state, source
        self.used, self.pairs, self.problems = set(), [], []

    def has(self, key):
        return key in self.state

    def take(self, variable, key, axes=None, scale=1.0, squeeze=()):
        """Assign state[key] (without its length-1 axes `squeeze`, transposed by `axes`, times
        `scale`) to `variable`."""
        if key not in self.state:
            self.problems.append(f"missing key '{key}'")
            return
        self.used.add(key)
        array = np.asarray(self.state[key], np.float32)
        if squeeze:
            if any(axis >= array.ndim or array.shape[axis] != 1 for axis in squeeze):
                self.problems.append(f"'{key}' has shape {array.shape}, expected length 1 on axes "
                                     f"{squeeze}")
                return
            array = array.squeeze(squeeze)
        if axes is not None:
            if array.ndim != len(axes):
                self.problems.append(f"'{key}' has shape {array.shape}, expected {len(axes)} dimensions")
                return
            array = array.transpose(axes)
        array = array * scale if scale != 1.0 else array
        if tuple(array.shape) != tuple(variable.shape):
            needed = tuple(variable.shape)
            if axes is not None:
                needed = tuple(needed[i] for i in np.argsort(axes))
            self.problems.append(f"'{key}' has shape {tuple(self.state[key].shape)}, the model needs "
                                 f"{needed}")
            return
        self.pairs.append((variable, array))

    def conv(self, layer, prefix, transpose=False):
        """A Conv2D (or Conv2DTranspose) from `prefix`.weight and, if the layer has one, `prefix`.bias."""
        self.take(layer.kernel, f"{prefix}.weight", CONV_TRANSPOSE if transpose else CONV)
        if layer.use_bias:
            self.take(layer.bias, f"{prefix}.bias")

    def constant(self, key, value):
        """A buffer the model holds as a constant (e.g. a blur kernel): checked if present, not assigned."""
        if key in self.state:
            self.used.add(key)
            if not np.allclose(np.asarray(self.state[key], np.float32), value, rtol=1e-6, atol=1e-7):
                self.problems.append(f"'{key}' differs from the fixed values of the model")

    def skip(self, key, shape=None):
        """A key the model leaves out on purpose (a feature network's classifier): used, and its shape
        checked when `shape` is given, but not assigned."""
        self.used.add(key)
        if shape is not None and tuple(np.shape(self.state[key])) != tuple(shape):
            self.problems.append(f"'{key}' has shape {tuple(np.shape(self.state[key]))}, expected {tuple(shape)}")

    def batch_norm(self, layer, prefix):
        for variable, name in [(layer.gamma, "weight"), (layer.beta, "bias"),
                               (layer.moving_mean, "running_mean"),
                               (layer.moving_variance, "running_var")]:
            self.take(variable, f"{prefix}.{name}")

    def finish(self):
        """Raise a PortingError naming what does not fit (missing, mis-shaped or unused keys), or
        assign every collected array."""
        unused = sorted(k for k in self.state
                        if k not in self.used and not k.endswith(IGNORED_SUFFIXES))
        problems = self.problems + [f"unused key '{k}'" for k in unused]
        if problems:
            shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
            raise PortingError(f"{self.source} does not fit the model: {shown}")
        for variable, array in self.pairs:
            variable.assign(array)


def ported(model, port_into, state, source="the checkpoint"):
    """`model` with the state dict `state` put in by `port_into(model, porting)`: every key checked,
    then assigned (a PortingError names what does not fit)."""
    porting = Porting(state, source)
    port_into(model, porting)
    porting.finish()
    return model
