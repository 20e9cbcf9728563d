"""Scoring a PieNet on held-out users, the paper's protocol: PSNR and SSIM (and LPIPS, given its
weights) against the number N of liked photos its preference vector is made from, the tables and the
pictures of it;
pienet_tf.evaluate is its command line."""

import itertools
import math
import sys

import numpy as np
import tensorflow as tf

from common import images, metrics
from pienet_tf import data
from pienet_tf.serving import stored_style


def scores(outputs, targets, lpips=None):
    """Mean PSNR and SSIM (and LPIPS, given common.lpips.LPIPS) of uint8 images (lists of [H, W, 3])
    against their targets, as a tuple in that order."""
    values = []
    for output, target in zip(outputs, targets):
        x, y = (tf.constant(im[None], tf.float32) / 255.0 for im in (output, target))
        values.append([float(metrics.psnr(x, y)[0]), float(metrics.ssim(x, y)[0])]
                      + ([float(lpips(x, y)[0])] if lpips is not None else []))
    return tuple(float(v) for v in np.mean(values, axis=0))


def evaluate_user(model, user, test_pairs, liked, counts, trials, rng, stored_names, lpips=None):
    """({label: (PSNR, SSIM[, LPIPS])}, {label: the first draw's outputs}) of one user: input, stored
    (if the model stores the user), then each N."""
    inputs = [x for x, _ in test_pairs]
    targets = [y for _, y in test_pairs]
    liked = np.asarray(liked)
    serve = model.signatures["serving_default"]

    def enhanced(vector):
        return [serve(images=x[None], preference=vector)["images"][0] for x in inputs]

    results, outputs = {"input": scores(inputs, targets, lpips)}, {}
    if user in stored_names:
        stored = model.signatures["styles"]()["vectors"][stored_names.index(user)][None]
        results["stored"] = scores(enhanced(stored), targets, lpips)
    for n in counts:
        if n > len(liked):
            print(f"note: {user} has {len(liked)} liked photos, fewer than N={n}; skipped",
                  file=sys.stderr)
            continue
        draws = []
        for picked in liked_sets(len(liked), n, trials, rng):
            vector = model.signatures["preference"](images=liked[list(picked)])["preference"]
            made = enhanced(vector)
            outputs.setdefault(f"N={n}", made)
            draws.append(scores(made, targets, lpips))
        results[f"N={n}"] = tuple(np.mean(draws, axis=0))
    return results, outputs


def stored_style_outputs(model, source, names):
    """{name: [(photo, retouch, output), ...], uint8 [H, W, 3] each}: each stored style's vector
    applied to its user's photos of `source`, beside the user's own retouch of each."""
    serve = model.signatures["serving_default"]
    found = {}
    for name in names:
        vector = stored_style(model, name)
        found[name] = [(x, y, np.asarray(serve(images=x[None], preference=vector)["images"][0]))
                       for x, y in user_pairs(source, name)]
    return found


def style_distances(outputs):
    """{name: [(photo ΔE, output ΔE), ...]} of `stored_style_outputs`: the photo and the output each
    scored by mean CIE76 ΔE against the user's own retouch. A style does what its name says on a
    photo when the output is the closer."""
    def delta_e(a, b):
        return float(metrics.delta_e(*(tf.constant(im[None], tf.float32) / 255.0 for im in (a, b)))[0])
    return {name: [(delta_e(x, y), delta_e(out, y)) for x, y, out in triples]
            for name, triples in outputs.items()}


def style_picture(outputs, size):
    """Two rows per photo, as centred squares of `size`: the photo, then each style's output; the
    photo again, then each style's own retouch."""
    names = list(outputs)
    rows = []
    for k in range(len(outputs[names[0]])):
        photo = outputs[names[0]][k][0]
        for column in (2, 1):  # outputs, then retouches
            row = [photo, *(outputs[name][k][column] for name in names)]
            rows.append([data.square(tf.constant(im), size).numpy() for im in row])
    return images.tile_grid(rows)


def style_table(found):
    """Lines of a table of `style_distances`: a row per style, each photo's ΔE photo -> output
    (to the style's own retouch), and on how many photos the output is the closer."""
    lines = ["ΔE (CIE76) of each stored style to its own retouch, photo -> output, on each photo"]
    closer_styles = 0
    for name, pairs in found.items():
        closer = sum(output < photo for photo, output in pairs)
        closer_styles += closer > len(pairs) / 2
        cells = "  ".join(f"{photo:5.1f} -> {output:5.1f}" for photo, output in pairs)
        lines.append(f"{name:<14} {cells}   closer on {closer} of {len(pairs)}")
    lines.append(f"{closer_styles} of {len(found)} styles closer on most photos")
    return lines


def liked_sets(count, n, trials, rng):
    """Index sets of n of `count` liked photos: all of them if there are at most `trials`, else `trials`
    random ones. Taking every set removes the luck of the draw, which with one liked photo out of seven
    moved a user's PSNR by a dB."""
    if math.comb(count, n) <= trials:
        return list(itertools.combinations(range(count), n))
    return [rng.choice(count, size=n, replace=False) for _ in range(trials)]


def table(title, columns, cells, metric):
    """Lines of a table: a row per label (input, stored, N=...), a column per user and their mean;
    `cells[column][label]` holds (PSNR, SSIM[, LPIPS]), of which `metric` 0, 1 (or 2) is shown."""
    labels = list(dict.fromkeys(label for column in cells.values() for label in column))
    width = max(9, *(len(c) + 2 for c in columns))
    lines = [f"{title:<10}" + "".join(f"{c:>{width}}" for c in (*columns, "mean"))]
    digits = 2 if metric == 0 else 4
    for label in labels:
        values = [cells[c][label][metric] if label in cells[c] else None for c in columns]
        known = [v for v in values if v is not None]
        line = "".join(f"{'-':>{width}}" if v is None else f"{v:>{width}.{digits}f}"
                       for v in (*values, np.mean(known)))
        lines.append(f"{label:<10}" + line)
    return lines


def picture(test_pairs, outputs, size):
    """A row per test photo: input | each N's output | the target, as centred squares of `size`."""
    rows = []
    for i, (x, y) in enumerate(test_pairs):
        row = [x, *(made[i] for made in outputs.values()), y]
        rows.append([data.square(tf.constant(im), size).numpy() for im in row])
    return images.tile_grid(rows)


def user_pairs(source, user):
    """A user's readable (input, retouched) uint8 pairs of `source` as NumPy arrays."""
    return [(x.numpy(), y.numpy()) for x, y in data.user_pairs(source, user)]


def user_mean(cells):
    """{label: (PSNR, SSIM)} averaged over the users that have the label."""
    labels = dict.fromkeys(label for column in cells.values() for label in column)
    return {label: tuple(np.mean([c[label] for c in cells.values() if label in c], axis=0))
            for label in labels}
