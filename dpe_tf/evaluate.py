r"""Score enhanced photos against targets: PSNR, SSIM and CIELab deltaE per image and on average.

    python -m dpe_tf.evaluate --model=runs/dpe/saved_model \
        --input=fivek/test/input --target=fivek/test/expert_c
    python -m dpe_tf.evaluate --input=fivek/test/input --target=fivek/test/expert_c   # do-nothing baseline

Inputs and targets are matched by file name stem (`a0001.jpg` with `a0001.tif`). With `--model` (an
exported SavedModel, see dpe_tf/enhance.py) each input is enhanced at its own size first; without it the
inputs themselves are scored, the baseline every enhancer must beat. Metrics are those of the DPE paper
as `common.metrics` computes them, on the uint8 RGB images: PSNR in dB (peak 255, capped at 100 dB for
identical images), SSIM (Gaussian window 11, sigma 1.5, averaged over R, G, B) and the mean CIE76
colour difference in CIELab (D65); the averages are means of the per-image values.

Every input is accounted for: files that cannot be read, inputs without a target (or with two),
sizes that differ from the target's, or images smaller than SSIM's 11x11 window are named on stderr
and left out of the averages. Targets without an input are listed as a note.

Exit codes: 0 every input scored; 1 some inputs failed (named); 2 bad arguments (a missing flag, no
SavedModel in --model, no images in --input or --target).
"""

import collections
import os
import sys

import numpy as np
import tensorflow as tf
from absl import flags

from common import cli, formats, images, metrics

flags.DEFINE_string("model", None, "An exported SavedModel folder (<model_dir>/saved_model). Optional: "
                    "without it the inputs themselves are scored (the do-nothing baseline).")
flags.DEFINE_string("input", None, "A folder of input photos (or one file).")
flags.DEFINE_string("target", None, "A folder of target photos (or one file), matched to the inputs by "
                    "file name stem, e.g. the expert_c retouches of MIT-Adobe FiveK.")
FLAGS = flags.FLAGS

METRICS = ("psnr", "ssim", "delta_e")
_HEADERS = ("PSNR (dB)", "SSIM", "deltaE")
SSIM_WINDOW = 11

Pair = collections.namedtuple("Pair", "name input target")


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


def score(output, target):
    """PSNR, SSIM and deltaE of one uint8 [H, W, 3] image against its target, as a dict of floats."""
    x = tf.constant(output[None], tf.float32) / 255.0
    y = tf.constant(target[None], tf.float32) / 255.0
    return {name: float(getattr(metrics, name)(x, y)[0]) for name in METRICS}


def _size(image):
    return f"{image.shape[1]}x{image.shape[0]}"


def score_pair(pair, enhance=None):
    """Scores of one Pair; raises ValueError (naming the file and the reason) if it cannot be scored."""
    try:
        source = images.read_image(pair.input)
        target = images.read_image(pair.target)
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
    return score(output, target)


def evaluate(pairs, enhance=None, out=sys.stdout, err=sys.stderr):
    """Scores every pair, printing a table row per image as it goes and the mean at the end.

    `enhance` maps a uint8 [H, W, 3] image to its enhanced version (None: score the inputs).
    Returns (results {name: scores}, failures [(name, reason)]).
    """
    width = max([len(p.name) for p in pairs] + [len("mean (99999 images)")])
    line = f"{{:<{width}}}  {{:>10}}  {{:>8}}  {{:>8}}"
    print(line.format("image", *_HEADERS), file=out, flush=True)
    results, failures = {}, []
    for pair in pairs:
        try:
            results[pair.name] = scores = score_pair(pair, enhance)
        except (ValueError, tf.errors.OpError) as error:
            reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
            failures.append((pair.name, reason))
            print(f"failed: {pair.name}: {reason}", file=err, flush=True)
            continue
        print(line.format(pair.name, *_formatted(scores)), file=out, flush=True)
    if results:
        mean = {m: float(np.mean([r[m] for r in results.values()])) for m in METRICS}
        print(line.format(f"mean ({len(results)} images)", *_formatted(mean)), file=out, flush=True)
    return results, failures


def _formatted(scores):
    return f"{scores['psnr']:.4f}", f"{scores['ssim']:.4f}", f"{scores['delta_e']:.4f}"


def main(argv):
    cli.check_arguments(argv, FLAGS, "input", "target")
    try:
        pairs, failures, unused = match_files(FLAGS.input, FLAGS.target)
        enhance = formats.load(FLAGS.model, "DPE").serving() if FLAGS.model else None
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    for name, reason in failures:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    if unused:
        print(f"note: {len(unused)} targets have no input: {', '.join(unused)}", file=sys.stderr)

    print(f"scoring {'the outputs of ' + FLAGS.model if FLAGS.model else 'the inputs (no --model)'} "
          f"against {FLAGS.target}", file=sys.stderr)
    total = len(pairs) + len(failures)
    _, failed = evaluate(pairs, enhance) if pairs else ({}, [])
    failures += failed
    if failures:
        print(f"{len(failures)} of {total} inputs failed: " + ", ".join(name for name, _ in failures),
              file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    cli.run(main)
