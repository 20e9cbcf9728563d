r"""Score exported PieNets on held-out users: PSNR and SSIM against N, the paper's protocol.

    python -m pienet_tf.evaluate --model=runs/pienet_demo/saved_model --data=demo:styles:test \
        --pictures=runs/pienet_demo/new_users
    python -m pienet_tf.evaluate --model=runs/pienet/saved_model --data=fivek@test.txt \
        --preferred_data=fivek@train.txt --users=expert_c --num_preferred=1,5,10,20

For every user in --users and every N in --num_preferred, N of the user's retouched photos in
--preferred_data are taken as the photos the user likes: every set of N in turn when there are at most
--trials of them, else --trials sets drawn at random. The preference vector made from them
(the SavedModel's `preference` endpoint) enhances every input of --data, which is scored against the
user's own retouch of it (PSNR in dB and SSIM on uint8 RGB, common.metrics; LPIPS too when
--metric_weights holds its files, README "Metrics"). Each figure is the mean over
the test photos and over the sets. Two rows frame them: `input`, the unedited photos scored against
the user's retouches (what doing nothing gets), and `stored`, the user's stored vector when the user was
a training user of the model. The demo's held-out styles (moody, vintage, teal_orange) are the default
users of demo:styles.

--model takes several SavedModels (e.g. one recipe trained with several --seed): each gets its table,
then come their mean and each model's mean over the users, which show how the result varies.
--pictures writes, from the first model, one picture per user: a row per test photo of input |
enhanced with each N (its first set) | the user's own retouch.

--stored_styles=all (or names) asks whether the stored styles do what their names say: each stored
user's vector enhances that user's photos of --data, and a row per style gives the mean CIE76 ΔE of the
photo and of the output to the user's own retouch on each photo, and on how many the output is closer;
with --pictures, stored_styles.jpg shows them: per photo a row of outputs, then a row of retouches.

Exit codes: 0 all scored; 1 some photos could not be read (named, left out); 2 bad arguments.
"""

import os
import sys

import numpy as np
from absl import app, flags

from common import cli, metric_weights

flags.DEFINE_list("model", None, "Exported PieNet SavedModel folders (<model_dir>/saved_model); "
                  "several are scored one by one and averaged.")
flags.DEFINE_string("data", None, "The test photos: a FiveK-style folder DIR[@LIST] or demo:styles:test.")
flags.DEFINE_string("preferred_data", None, "Where the users' liked photos are drawn from (same forms); "
                    "default: demo:styles:train for the demo, else --data.")
flags.DEFINE_list("users", None, "The users to score; default: the demo's held-out styles.")
flags.DEFINE_list("num_preferred", ["1", "5", "10", "20"], "The numbers N of liked photos to try.")
flags.DEFINE_integer("trials", 25, "Sets of liked photos per N: every set when there are at most "
                     "this many, else this many drawn at random.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the draws.")
flags.DEFINE_string("pictures", None, "A folder for one picture per user, <user>.jpg (first --model).")
flags.DEFINE_integer("picture_size", 192, "Side of each photo in the pictures (its centred square).",
                     lower_bound=16)
metric_weights.define_flags()
flags.DEFINE_list("stored_styles", None, "Also score these stored styles ('all': every one) on "
                  "--data: ΔE of photo and output to the style's own retouch, photo by photo.")
FLAGS = flags.FLAGS
# What the PieNet paper reports on MIT-Adobe FiveK, to set beside the tables.
PAPER = "PieNet paper (FiveK): PSNR 25.28 dB, SSIM 0.908 for Expert C; 24.28 dB, 0.907 over experts A-E"


def _score_model(model, users, counts, preferred_source, pictures, lpips):
    """{user: {label: (PSNR, SSIM[, LPIPS])}} of one SavedModel, and how many test photos were unreadable."""
    from common import images
    from pienet_tf import data, scoring
    size = int(model.signatures["styles"]()["embed_size"])
    stored_names = list(model.signatures["styles"]()["names"])
    rng = np.random.default_rng(FLAGS.seed)
    cells, unread = {}, 0
    for user in users:
        test_pairs = scoring.user_pairs(FLAGS.data, user)
        unread += data.count(FLAGS.data, [user]) - len(test_pairs)
        liked = data.preferred(preferred_source, user, image_size=size)
        cells[user], outputs = scoring.evaluate_user(model, user, test_pairs, liked, counts, FLAGS.trials,
                                             rng, stored_names, lpips)
        if pictures and test_pairs:
            os.makedirs(pictures, exist_ok=True)
            images.write_image(os.path.join(pictures, f"{user}.jpg"),
                               scoring.picture(test_pairs, outputs, FLAGS.picture_size))
    return cells, unread


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "data")
    cli.output_folder(FLAGS, "pictures")
    metric_weights.check_flags()
    try:
        counts = sorted({int(n) for n in FLAGS.num_preferred})
    except ValueError:
        raise app.UsageError(f"--num_preferred={','.join(FLAGS.num_preferred)}: give whole numbers")
    if not counts or counts[0] < 1:
        raise app.UsageError("--num_preferred needs numbers of 1 or more")
    from pienet_tf import data, scoring, styles  # TensorFlow, once the flags are known to be good
    from common import images
    from pienet_tf.serving import load
    with cli.bad_arguments_exit_2():
        is_demo = data.parse_source(FLAGS.data).is_demo
        preferred_source = FLAGS.preferred_data or ("demo:styles:train" if is_demo else FLAGS.data)
        users = list(FLAGS.users or (styles.HELD_OUT if is_demo else []))
        lpips, note = metric_weights.lpips_or_note(FLAGS.metric_weights, FLAGS.lpips_net)
        if note:
            print(f"note: {note}", file=sys.stderr)
        titles = ("PSNR (dB)", "SSIM") + (("LPIPS",) if lpips is not None else ())
        if not users:
            raise ValueError("--users is required for a folder of users")
        per_model, unread = [], 0
        for i, path in enumerate(FLAGS.model):
            model = load(path)
            cells, missing = _score_model(model, users, counts, preferred_source,
                                          FLAGS.pictures if i == 0 else None, lpips)
            unread += missing
            per_model.append(cells)
            print(f"model {path}")
            for metric, title in enumerate(titles):
                print("\n".join(scoring.table(title, users, cells, metric)), flush=True)
            if i == 0:
                print(PAPER)
            if FLAGS.stored_styles:
                names = list(model.signatures["styles"]()["names"])
                picked = names if FLAGS.stored_styles == ["all"] else FLAGS.stored_styles
                unknown = [name for name in picked if name not in names]
                if unknown:
                    raise ValueError(f"--stored_styles: {', '.join(unknown)} not stored in {path}; "
                                     f"its styles are {', '.join(names)}")
                outputs = scoring.stored_style_outputs(model, FLAGS.data, picked)
                print("\n".join(scoring.style_table(scoring.style_distances(outputs))), flush=True)
                if FLAGS.pictures and i == 0:
                    os.makedirs(FLAGS.pictures, exist_ok=True)
                    images.write_image(os.path.join(FLAGS.pictures, "stored_styles.jpg"),
                                       scoring.style_picture(outputs, FLAGS.picture_size))
    if len(per_model) > 1:
        mean = {user: {label: tuple(np.mean([m[user][label] for m in per_model], axis=0))
                       for label in per_model[0][user]} for user in users}
        print(f"mean of {len(per_model)} models")
        for metric, title in enumerate(titles):
            print("\n".join(scoring.table(title, users, mean, metric)))
        print("each model's mean over the users")
        print("\n".join(scoring.table("PSNR (dB)", [f"model {i + 1}" for i in range(len(per_model))],
                              {f"model {i + 1}": scoring.user_mean(m) for i, m in enumerate(per_model)}, 0)))
    if unread:
        print(f"{unread} test photos could not be read and were left out (named above)", file=sys.stderr)
    sys.exit(1 if unread else 0)


if __name__ == "__main__":
    cli.run(main)
