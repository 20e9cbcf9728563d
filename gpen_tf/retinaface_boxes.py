"""RetinaFace's boxes: prior boxes, decoding and NMS, as GPEN's `face_detect/` runs them (NumPy).

`detections(loc, conf, landms, height, width)` turns the network's raw outputs for an image of
height x width (after the 1500 px rule) into GPEN's `RetinaFaceDetection.detect` result:
- prior boxes of the R50 configuration (`cfg_re50`): min sizes (16, 32), (64, 128), (256, 512) on
  feature maps of strides 8, 16, 32 (ceil of the image's sides over the stride), row by row, two per
  cell, as (cx, cy, w, h) relative to the image, not clipped;
- boxes and five landmarks decoded with variances 0.1 and 0.2, in pixels;
- scores (the face class of `conf`) above 0.9 kept, the 5,000 best before NMS at IoU 0.4 (areas and
  overlaps counted with the +1 of the official py_cpu_nms), the 750 best after;
- `dets` [N, 5] (x1, y1, x2, y2, score) and `landmarks` [N, 10] (x1..x5, y1..y5), both divided by the
  detection scale `ss`, the score column included, as the official code divides its whole `dets`
  array: on a photo over 1500 px the scores then exceed 1.

`detection_scale(height, width)` is the 1500 px rule: photos longer than that are detected at 1000 px
on their long side (`ss` = 1000 / long side), others as they are (1.0).
"""

import itertools
import math

import numpy as np

MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
VARIANCES = (0.1, 0.2)
LONGEST = 1500     # photos longer than this are detected smaller,
DETECTED_AT = 1000  # at this long side
MEAN_BGR = (104.0, 117.0, 123.0)  # subtracted from the BGR photo before the network


def detection_scale(height, width):
    """`ss` of the 1500 px rule: 1000 / the long side above 1500 px, else 1."""
    longest = max(height, width)
    return DETECTED_AT / longest if longest > LONGEST else 1.0


def priors(height, width):
    """Prior boxes [P, 4] (cx, cy, w, h), relative to the image, in the official order."""
    found = []
    for sizes, step in zip(MIN_SIZES, STEPS):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        for i, j in itertools.product(range(rows), range(cols)):
            for size in sizes:
                found.append(((j + 0.5) * step / width, (i + 0.5) * step / height,
                              size / width, size / height))
    return np.asarray(found, np.float32).reshape(-1, 4)


def decode_boxes(loc, prior):
    """Corner boxes [P, 4] (x1, y1, x2, y2), relative, from offsets `loc` [P, 4]."""
    centre = prior[:, :2] + loc[:, :2] * VARIANCES[0] * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_landmarks(pre, prior):
    """Five points [P, 10] (x1, y1, ..., x5, y5), relative, from offsets `pre` [P, 10]."""
    points = prior[:, None, :2] + pre.reshape(-1, 5, 2) * VARIANCES[0] * prior[:, None, 2:]
    return points.reshape(-1, 10)


def nms(dets, threshold):
    """Indices of `dets` [N, 5] kept by greedy NMS, best score first (py_cpu_nms, +1 areas)."""
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = w * h / (areas[best] + areas[rest] - w * h)
        order = rest[overlap <= threshold]
    return keep


def detections(loc, conf, landms, height, width, *, ss=1.0, threshold=0.9, nms_threshold=0.4,
               top_k=5000, keep_top_k=750):
    """(dets [N, 5], landmarks [N, 10]) of raw outputs `loc` [P, 4], `conf` [P, 2], `landms` [P, 10]
    for an image of height x width detected at scale `ss` (see the module docstring)."""
    prior = priors(height, width)
    for name, value, columns in (("loc", loc, 4), ("conf", conf, 2), ("landms", landms, 10)):
        if np.shape(value) != (len(prior), columns):
            raise ValueError(f"RetinaFace's {name} for {height} x {width} is [{len(prior)}, {columns}], "
                             f"got {list(np.shape(value))}")
    boxes = decode_boxes(np.asarray(loc, np.float32), prior) * np.float32([width, height] * 2)
    points = decode_landmarks(np.asarray(landms, np.float32), prior) * np.float32([width, height] * 5)
    scores = np.asarray(conf, np.float32)[:, 1]
    kept = np.where(scores > threshold)[0]
    kept = kept[scores[kept].argsort()[::-1][:top_k]]
    dets = np.hstack([boxes[kept], scores[kept, None]]).astype(np.float32)
    chosen = nms(dets, nms_threshold)[:keep_top_k]
    dets, points = dets[chosen], points[kept][chosen]
    points = points.reshape(-1, 5, 2).transpose(0, 2, 1).reshape(-1, 10)
    return dets / ss, points / ss
