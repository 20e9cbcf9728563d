r"""Score enhanced photos against targets: PSNR, SSIM and CIELab deltaE per image and on average.

    python -m dpe_tf.evaluate --model=runs/dpe/saved_model \
        --input=fivek/test/input --target=fivek/test/expert_c
    python -m dpe_tf.evaluate --input=fivek/test/input --target=fivek/test/expert_c   # do-nothing baseline

Inputs and targets are matched by file name stem (`a0001.jpg` with `a0001.tif`). With `--model` (an
exported SavedModel, see dpe_tf/enhance.py) each input is enhanced at its own size first; without it the
inputs themselves are scored, the baseline every enhancer must beat. Metrics are those of the DPE paper
as `common.metrics` computes them, on the uint8 RGB images: PSNR in dB (peak 255, capped at 100 dB for
identical images), SSIM (Gaussian window 11, sigma 1.5, averaged over R, G, B) and the mean CIE76
colour difference in CIELab (D65); and LPIPS v0.1 (common/lpips.py, as the lpips package) when
--metric_weights holds its files (common/metric_weights.py; otherwise one line says it is left out).
The averages are means of the per-image values; the last line gives the paper's figures for its
supervised model on FiveK's Expert C test set (PSNR 23.80 dB, SSIM 0.900), to set beside the mean.

Every input is accounted for: files that cannot be read, inputs without a target (or with two),
sizes that differ from the target's, or images smaller than SSIM's 11x11 window are named on stderr
and left out of the averages. Targets without an input are listed as a note.

Exit codes: 0 every input scored; 1 some inputs failed (named); 2 bad arguments (a missing flag, no
SavedModel in --model, no images in --input or --target).
"""

import sys

from absl import flags

from common import cli, metric_weights

flags.DEFINE_string("model", None, "An exported SavedModel folder (<model_dir>/saved_model). Optional: "
                    "without it the inputs themselves are scored (the do-nothing baseline).")
flags.DEFINE_string("input", None, "A folder of input photos (or one file).")
flags.DEFINE_string("target", None, "A folder of target photos (or one file), matched to the inputs by "
                    "file name stem, e.g. the expert_c retouches of MIT-Adobe FiveK.")
metric_weights.define_flags()
FLAGS = flags.FLAGS
# The DPE paper's supervised model on MIT-Adobe FiveK (Expert C), as it reports it.
PAPER = "DPE paper (supervised, FiveK Expert C): PSNR 23.80 dB, SSIM 0.900"


def main(argv):
    cli.check_arguments(argv, FLAGS, "input", "target")
    metric_weights.check_flags()
    from common import formats  # TensorFlow, once the flags are known to be good
    from common.paired_scores import evaluate, exit_after, match_files, report_unscored
    with cli.bad_arguments_exit_2():
        pairs, failures, unused = match_files(FLAGS.input, FLAGS.target)
        enhance = formats.load(FLAGS.model, "DPE").serving() if FLAGS.model else None
        lpips, note = metric_weights.lpips_or_note(FLAGS.metric_weights, FLAGS.lpips_net)
    report_unscored(failures, unused, [note])

    print(f"scoring {'the outputs of ' + FLAGS.model if FLAGS.model else 'the inputs (no --model)'} "
          f"against {FLAGS.target}", file=sys.stderr)
    total = len(pairs) + len(failures)
    _, failed = evaluate(pairs, enhance, lpips=lpips) if pairs else ({}, [])
    print(PAPER)
    exit_after(failures + failed, total)


if __name__ == "__main__":
    cli.run(main)
