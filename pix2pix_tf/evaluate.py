r"""Score a pix2pix export on a test split: PSNR, SSIM, deltaE and LPIPS per image, and FID of the set.

    python -m pix2pix_tf.evaluate --model=pretrained/facades --data=ab:facades/test --direction=BtoA \
        --metric_weights=weights/
    python -m pix2pix_tf.evaluate --model=runs/pix2pix/saved_model --data=paired:test/input,test/target

--data is an `ab:` folder (pix2pix's datasets: each file the input and the target side by side; with
--direction=BtoA the right half is the input, as in training) or `paired:DIR_A,DIR_B` (two folders
matched by file name stem). Each input is translated by the export at its own size (as
`pix2pix_tf.translate`) and scored against its target: a table row per image of PSNR, SSIM and
CIELab deltaE on uint8 RGB (common.metrics) and LPIPS (common/lpips.py), then their means, and FID
of the translated set against the targets (pytorch-fid's Inception, 2048 features). LPIPS and FID
need their weights in --metric_weights (layout: README, "Metrics") and are otherwise left out with
one line saying so. The pix2pix paper scores its Cityscapes results with an FCN segmenter (the
"FCN-score"), which is not computed here, so there is no paper column.

Exit codes: 0 every image scored; 1 some failed (named); 2 bad arguments (a missing flag, no pix2pix
export in --model, no images, weights of the wrong network).
"""

from absl import app, flags

from common import cli, metric_weights

flags.DEFINE_string("model", None, "A pix2pix export (a training run's or a converted release).")
flags.DEFINE_string("data", None, "The test pairs: ab:DIR or paired:DIR_A,DIR_B.")
flags.DEFINE_enum("direction", "AtoB", ["AtoB", "BtoA"], "Which side of an ab: image is the input.")
metric_weights.define_flags()
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "data")
    metric_weights.check_flags()
    kind, _, paths = FLAGS.data.partition(":")
    if kind not in ("ab", "paired") or not paths or (kind == "paired" and paths.count(",") != 1):
        raise app.UsageError(f"--data={FLAGS.data}: give ab:DIR or paired:DIR_A,DIR_B")
    from common import formats  # TensorFlow, once the flags are known to be good
    from common.paired_scores import SetFID, ab_pairs, evaluate, exit_after, match_files, report_unscored
    with cli.bad_arguments_exit_2():
        if kind == "ab":
            pairs, failures, unused = ab_pairs(paths, swap=FLAGS.direction == "BtoA"), [], []
        else:
            pairs, failures, unused = match_files(*paths.split(","))
        translate = formats.load(FLAGS.model, "Pix2Pix").serving()
        lpips, lpips_note = metric_weights.lpips_or_note(FLAGS.metric_weights, FLAGS.lpips_net)
        fid_network, fid_note = metric_weights.fid_or_note(FLAGS.metric_weights)
    report_unscored(failures, unused, [lpips_note, fid_note])
    fid = SetFID(fid_network) if fid_network is not None else None
    total = len(pairs) + len(failures)
    _, failed = evaluate(pairs, translate, lpips=lpips, observe=fid) if pairs else ({}, [])
    if fid is not None:
        value = fid.value()
        print(f"FID: {value:.4f}" if value is not None else "FID: - (it needs at least 2 scored images)")
    exit_after(failures + failed, total)


if __name__ == "__main__":
    cli.run(main)
