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
    `network` maps float32 [1, h, w, 3] in [0, 1] to [1, scale * h, scale * w, 3]. Tiles are turned
    into uint8 as they come (clipping and rounding are per pixel), so a large photo costs its uint8
    input and output and one tile's activations."""
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"a photo is uint8 [H, W, 3], got {photo.dtype} {photo.shape}")
    factor = rrdbnet.unshuffle_factor(scale)
    h_pad, w_pad = (-photo.shape[0] % factor, -photo.shape[1] % factor) if factor > 1 else (0, 0)
    padded = np.pad(photo, ((0, h_pad), (0, w_pad), (0, 0)), mode="reflect")
    height, width = padded.shape[:2]

    def run(piece):
        out = np.asarray(network(piece.astype(np.float32)[None] / np.float32(255.0)))[0]
        return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)

    if tile > 0:
        out = np.zeros((height * scale, width * scale, 3), np.uint8)
        for top, bottom, top_pad, bottom_pad in _tiles(height, tile, pad):
            for left, right, left_pad, right_pad in _tiles(width, tile, pad):
                piece = run(padded[top_pad:bottom_pad, left_pad:right_pad])
                y0, x0 = (top - top_pad) * scale, (left - left_pad) * scale
                out[top * scale:bottom * scale, left * scale:right * scale] = (
                    piece[y0:y0 + (bottom - top) * scale, x0:x0 + (right - left) * scale])
    else:
        out = run(padded)
    return out[:out.shape[0] - h_pad, :out.shape[1] - w_pad]


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
    raw, metadata = export.load_raw(path, MODEL)
    return (lambda image: raw(image)["image"]), int(metadata["config"]["scale"])


def upscaler(path, tile=0):
    """(upscale: uint8 photo -> uint8 photo, scale) of a converted RRDBNet export, `tile` as upscale's."""
    network, scale = load(path)
    return (lambda photo: upscale(network, photo, scale, tile)), scale
