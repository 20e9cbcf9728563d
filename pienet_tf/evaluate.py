r"""Score an exported PieNet on held-out users: mPSNR and mSSIM against N, the paper's protocol.

    python -m pienet_tf.evaluate --model=runs/pienet_demo/saved_model --data=demo:styles:test
    python -m pienet_tf.evaluate --model=runs/pienet/saved_model --data=fivek@test.txt \
        --preferred_data=fivek@train.txt --users=expert_c --num_preferred=1,5,10,20

For every user in --users and every N in --num_preferred, N of the user's retouched photos in
--preferred_data are drawn at random as the photos the user likes; the preference vector made from them
(the SavedModel's `preference` endpoint) enhances every input of --data, which is scored against the
user's own retouch of it (PSNR in dB and SSIM on uint8 RGB, common.metrics). Each figure is the mean over
the test photos and over --trials draws. Two rows frame them: `input`, the unedited photos scored against
the user's retouches (what doing nothing gets), and `stored`, the user's learned vector when the user was
a training user stored in the model. The demo's held-out styles (moody, vintage, teal_orange) are the
default users of demo:styles.

Exit codes: 0 all scored; 1 some photos could not be read (named, left out); 2 bad arguments.
"""

import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

from common import cli, metrics
from pienet_tf import data, styles
from pienet_tf.serving import load

flags.DEFINE_string("model", None, "An exported PieNet SavedModel folder (<model_dir>/saved_model).")
flags.DEFINE_string("data", None, "The test photos: a FiveK-style folder DIR[@LIST] or demo:styles:test.")
flags.DEFINE_string("preferred_data", None, "Where the users' liked photos are drawn from (same forms); "
                    "default: demo:styles:train for the demo, else --data.")
flags.DEFINE_list("users", None, "The users to score; default: the demo's held-out styles.")
flags.DEFINE_list("num_preferred", ["1", "5", "10", "20"], "The numbers N of liked photos to try.")
flags.DEFINE_integer("trials", 5, "Random draws of the liked photos per N.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the draws.")
FLAGS = flags.FLAGS


def scores(outputs, targets):
    """Mean PSNR and SSIM of uint8 images (lists of [H, W, 3]) against their targets."""
    psnr, ssim = [], []
    for output, target in zip(outputs, targets):
        x, y = (tf.constant(im[None], tf.float32) / 255.0 for im in (output, target))
        psnr.append(float(metrics.psnr(x, y)[0]))
        ssim.append(float(metrics.ssim(x, y)[0]))
    return float(np.mean(psnr)), float(np.mean(ssim))


def evaluate_user(model, user, test_pairs, liked, counts, trials, rng, stored_names):
    """Rows (label, PSNR, SSIM) of one user: input, stored (if any), then each N."""
    inputs = [x for x, _ in test_pairs]
    targets = [y for _, y in test_pairs]
    serve = model.signatures["serving_default"]

    def enhanced(vector):
        return [serve(images=tf.constant(x[None]), preference=vector)["images"][0].numpy()
                for x in inputs]

    rows = [("input", *scores(inputs, targets))]
    if user in stored_names:
        stored = model.signatures["styles"]()["vectors"][stored_names.index(user)][None]
        rows.append(("stored", *scores(enhanced(stored), targets)))
    for n in counts:
        if n > len(liked):
            print(f"note: {user} has {len(liked)} liked photos, fewer than N={n}; skipped",
                  file=sys.stderr)
            continue
        results = []
        for _ in range(trials):
            picked = rng.choice(len(liked), size=n, replace=False)
            vector = model.signatures["preference"](images=tf.gather(liked, picked))["preference"]
            results.append(scores(enhanced(vector), targets))
        rows.append((f"N={n}", *np.mean(results, axis=0)))
    return rows


def _pairs(source, user):
    """A user's readable (input, retouched) uint8 pairs of `source` as NumPy arrays."""
    return [(x.numpy(), y.numpy()) for x, y in data.user_pairs(source, user)]


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "data")
    try:
        counts = sorted({int(n) for n in FLAGS.num_preferred})
    except ValueError:
        raise app.UsageError(f"--num_preferred={','.join(FLAGS.num_preferred)}: give whole numbers")
    if not counts or counts[0] < 1:
        raise app.UsageError("--num_preferred needs numbers of 1 or more")
    try:
        is_demo = data.parse_source(FLAGS.data).is_demo
        preferred_source = FLAGS.preferred_data or ("demo:styles:train" if is_demo else FLAGS.data)
        users = FLAGS.users or (styles.HELD_OUT if is_demo else None)
        if not users:
            raise ValueError("--users is required for a folder of users")
        model = load(FLAGS.model)
        size = int(model.signatures["styles"]()["embed_size"])
        stored_names = [n.decode() for n in model.signatures["styles"]()["names"].numpy()]
        rng = np.random.default_rng(FLAGS.seed)
        print(f"{'user':<14}{'':<8}{'PSNR (dB)':>10}{'SSIM':>8}")
        by_label, unread = {}, 0
        for user in users:
            test_pairs = _pairs(FLAGS.data, user)
            unread += data.count(FLAGS.data, [user]) - len(test_pairs)
            liked = data.preferred(preferred_source, user, image_size=size)
            for label, psnr, ssim in evaluate_user(model, user, test_pairs, liked, counts,
                                                   FLAGS.trials, rng, stored_names):
                print(f"{user:<14}{label:<8}{psnr:>10.2f}{ssim:>8.4f}", flush=True)
                by_label.setdefault(label, []).append((psnr, ssim))
        for label, values in by_label.items():
            psnr, ssim = np.mean(values, axis=0)
            print(f"{f'mean of {len(values)}':<14}{label:<8}{psnr:>10.2f}{ssim:>8.4f}")
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if unread:
        print(f"{unread} test photos could not be read and were left out (named above)", file=sys.stderr)
    sys.exit(1 if unread else 0)


if __name__ == "__main__":
    cli.run(main)
