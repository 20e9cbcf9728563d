"""Scoring images against their targets, pair by pair: PSNR, SSIM and CIELab deltaE per image
(common.metrics on uint8 RGB), as the DPE paper scores photos, and LPIPS when its weights are given
(common/lpips.py); a table row per image as it goes and the mean. dpe_tf.evaluate and gpen_tf.evaluate
print it."""

import collections
import os
import sys

import numpy as np
import tensorflow as tf

from common import feature_metrics, images, inception, metrics

METRICS = ("psnr", "ssim", "delta_e")
_HEADERS = ("PSNR (dB)", "SSIM", "deltaE", "LPIPS")
SSIM_WINDOW = 11

# `target` None: `input` holds both images side by side (an ab: folder), split on reading; `swap`
# (BtoA) takes the right half as the input.
Pair = collections.namedtuple("Pair", "name input target swap", defaults=(False,))


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def match_files(inputs, targets):
    """Pairs of input and target files by name stem.

    Returns (pairs, failures, unused): pairs as Pair(name, input, target) in input order; failures as
    (file name, reason) for inputs without a unique target or with an ambiguous stem; unused target
    file names. Two single files are paired whatever their names. Raises FileNotFoundError/ValueError
    (from `images.list_images`) for a missing path or a folder without images.
    """
    input_files = images.list_images(inputs)
    target_files = images.list_images(targets)
    if not os.path.isdir(inputs) and not os.path.isdir(targets):
        return [Pair(os.path.basename(inputs), inputs, targets)], [], []

    by_stem = collections.defaultdict(list)
    for path in target_files:
        by_stem[_stem(path)].append(path)
    input_stems = collections.Counter(_stem(path) for path in input_files)
    pairs, failures = [], []
    for path in input_files:
        name, stem = os.path.basename(path), _stem(path)
        found = by_stem.get(stem, [])
        if input_stems[stem] > 1:
            failures.append((name, f"several inputs are named {stem}.*; cannot tell which matches a target"))
        elif not found:
            failures.append((name, f"no target named {stem}.* in {targets}"))
        elif len(found) > 1:
            failures.append((name, "several targets match: " + ", ".join(os.path.basename(f) for f in found)))
        else:
            pairs.append(Pair(name, path, found[0]))
    unused = [os.path.basename(f) for f in target_files if _stem(f) not in input_stems]
    return pairs, failures, unused


def ab_pairs(folder, swap=False):
    """Pairs of an ab: folder (pix2pix's datasets: each file the input and the target side by side),
    in file name order; `swap` for BtoA. Raises as `images.list_images`."""
    return [Pair(os.path.basename(path), path, None, swap) for path in images.list_images(folder)]


def _read(pair):
    """(source, target) uint8 images of a Pair."""
    if pair.target is not None:
        return images.read_image(pair.input), images.read_image(pair.target)
    both = images.read_image(pair.input)
    half = both.shape[1] // 2
    a, b = both[:, :half], both[:, half:2 * half]
    return (b, a) if pair.swap else (a, b)


def score(output, target, lpips=None):
    """PSNR, SSIM and deltaE (and LPIPS, given the metric) of one uint8 [H, W, 3] image against its
    target, as a dict of floats."""
    x = tf.constant(output[None], tf.float32) / 255.0
    y = tf.constant(target[None], tf.float32) / 255.0
    scores = {name: float(getattr(metrics, name)(x, y)[0]) for name in METRICS}
    if lpips is not None:
        scores["lpips"] = float(lpips(x, y)[0])
    return scores


def _size(image):
    return f"{image.shape[1]}x{image.shape[0]}"


def score_pair(pair, enhance=None, lpips=None):
    """(scores, output, target) of one Pair; raises ValueError (naming the file and the reason) if it
    cannot be scored."""
    try:
        source, target = _read(pair)
    except images.ImageReadError as err:
        raise ValueError(str(err)) from None
    if source.shape != target.shape:
        raise ValueError(f"{pair.input} is {_size(source)} but its target {pair.target} is {_size(target)}")
    if min(source.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"{pair.input} is {_size(source)}, smaller than SSIM's "
                         f"{SSIM_WINDOW}x{SSIM_WINDOW} window")
    output = source if enhance is None else enhance(source)
    if output.shape != target.shape:  # a SavedModel that does not keep the size (not a DPE export)
        raise ValueError(f"the model turned {pair.input} ({_size(source)}) into {_size(output)}")
    return score(output, target, lpips), output, target


def evaluate(pairs, enhance=None, out=sys.stdout, err=sys.stderr, lpips=None, observe=None):
    """Scores every pair, printing a table row per image as it goes and the mean at the end.

    `enhance` maps a uint8 [H, W, 3] image to its enhanced version (None: score the inputs); `lpips`
    (common.lpips.LPIPS) adds its column; `observe(output, target)` sees every scored pair (e.g. to
    gather FID's statistics). Returns (results {name: scores}, failures [(name, reason)]).
    """
    width = max([len(p.name) for p in pairs] + [len("mean (99999 images)")])
    names = METRICS + (("lpips",) if lpips is not None else ())
    line = f"{{:<{width}}}  {{:>10}}" + "  {:>8}" * (len(names) - 1)
    print(line.format("image", *_HEADERS[:len(names)]), file=out, flush=True)
    results, failures = {}, []
    for pair in pairs:
        try:
            scores, output, target = score_pair(pair, enhance, lpips)
        except (ValueError, tf.errors.OpError) as error:
            reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
            failures.append((pair.name, reason))
            print(f"failed: {pair.name}: {reason}", file=err, flush=True)
            continue
        results[pair.name] = scores
        if observe is not None:
            observe(output, target)
        print(line.format(pair.name, *(f"{scores[m]:.4f}" for m in names)), file=out, flush=True)
    if results:
        mean = {m: float(np.mean([r[m] for r in results.values()])) for m in names}
        print(line.format(f"mean ({len(results)} images)", *(f"{mean[m]:.4f}" for m in names)), file=out,
              flush=True)
    return results, failures


class SetFID:
    """FID of the outputs as a set against the targets, gathered pair by pair: give it to `evaluate`
    as `observe`; `value()` is None below 2 pairs. `network` from metric_weights.fid_or_note."""

    def __init__(self, network):
        self.network = network
        self.outputs, self.targets = feature_metrics.Statistics(), feature_metrics.Statistics()

    def __call__(self, output, target):
        both = inception.features(self.network, [output / np.float32(255), target / np.float32(255)])
        self.outputs.add(both[:1])
        self.targets.add(both[1:])

    def value(self):
        if self.outputs.count < 2:
            return None
        a, b = self.outputs, self.targets
        return feature_metrics.frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def report_unscored(failures, unused, notes=(), err=sys.stderr):
    """Before the table: each input that cannot be scored, the targets without an input, and the
    tool's `notes` (metrics left out), one line each."""
    for name, reason in failures:
        print(f"failed: {name}: {reason}", file=err)
    if unused:
        print(f"note: {len(unused)} targets have no input: {', '.join(unused)}", file=err)
    for note in notes:
        if note:
            print(f"note: {note}", file=err)


def exit_after(failures, total, err=sys.stderr):
    """After the table: the failed inputs named in one line, and exit 1 if there are any, else 0."""
    if failures:
        print(f"{len(failures)} of {total} inputs failed: " + ", ".join(name for name, _ in failures), file=err)
    sys.exit(1 if failures else 0)
