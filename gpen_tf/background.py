"""Background super-resolution as GPEN's whole-photo pipeline runs it (`sr_model/real_esrnet.py`).

`upscale(network, photo, scale)` is the official `RealESRNet.process` on an RGB photo: values / 255;
for x2 and x1 the bottom and right edges reflected out to a multiple of the network's unshuffle (2 and
4); the network on the whole photo, or with `tile` > 0 on tiles of that size, each read with `pad`
pixels of its neighbours (10 in the official code) and written back without them; then the padding cut
off, values clipped to [0, 1], times 255, rounded. As in the official code the cut removes as many
rows and columns as were added to the input, not `scale` times as many, so at x2 a photo with an odd
side comes back one pixel longer than twice it (37 x 45 -> 75 x 91); face_enhancement.py then resizes
the photo to that size, so the whole pipeline keeps it.

`python -m gpen_tf.convert --checkpoint=realesrnet_x2.pth --output=DIR` writes DIR/saved_model
(`write`): its `raw` signature (also serving_default) is the network as the official code calls it,
float32 RGB [1, H, W, 3] in [0, 1] -> `image`; `load(DIR)` gives the network and its scale back for
`upscale`.
"""

import numpy as np
import tensorflow as tf

from common import export, porting
from gpen_tf import rrdbnet

MODEL = "RealESRNet"  # the metadata's model name of a converted RRDBNet


def _tiles(length, tile, pad):
    """(start, end, padded start, padded end) of each tile along one side, as the official loop."""
    found = []
    for start in range(0, length, tile):
        end = min(start + tile, length)
        found.append((start, end, max(start - pad, 0), min(end + pad, length)))
    return found


def upscale(network, photo, scale, tile=0, pad=10):
    """uint8 RGB photo [H, W, 3] -> uint8 [about scale * H, scale * W, 3] (see the module docstring).
    `network` maps float32 [1, h, w, 3] in [0, 1] to [1, scale * h, scale * w, 3]."""
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"a photo is uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
    factor = rrdbnet.unshuffle_factor(scale)
    x = photo.astype(np.float32) / 255.0
    h_pad = w_pad = 0
    if factor > 1:
        h_pad, w_pad = -photo.shape[0] % factor, -photo.shape[1] % factor
        x = np.pad(x, ((0, h_pad), (0, w_pad), (0, 0)), mode="reflect")
    if tile > 0:
        height, width = x.shape[:2]
        out = np.zeros((height * scale, width * scale, 3), np.float32)
        for top, bottom, top_pad, bottom_pad in _tiles(height, tile, pad):
            for left, right, left_pad, right_pad in _tiles(width, tile, pad):
                piece = np.asarray(network(x[None, top_pad:bottom_pad, left_pad:right_pad]))[0]
                y0, x0 = (top - top_pad) * scale, (left - left_pad) * scale
                out[top * scale:bottom * scale, left * scale:right * scale] = (
                    piece[y0:y0 + (bottom - top) * scale, x0:x0 + (right - left) * scale])
    else:
        out = np.asarray(network(x[None]))[0]
    out = out[:out.shape[0] - h_pad, :out.shape[1] - w_pad]
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def convert(config, state, source="the checkpoint"):
    """An RRDBNet (Keras) holding an official state dict; `config` from checkpoints.rrdbnet_config."""
    return porting.ported(rrdbnet.build_rrdbnet(**config), rrdbnet.port, state, source)


def write(model, config, output):
    """DIR/saved_model of a converted RRDBNet: `raw` and serving_default (see the module docstring)
    and the metadata endpoint."""
    return export.write_raw(model, lambda image: {"image": model(image)}, output, [1, None, None, 3],
                            MODEL, config)


def load(path):
    """(network: float32 [1, h, w, 3] -> [1, s h, s w, 3], scale) of a converted RRDBNet export."""
    loaded, metadata = export.load(path, MODEL)
    raw = loaded.signatures["raw"]
    return (lambda image: raw(image=tf.constant(image))["image"]), int(metadata["config"]["scale"])
