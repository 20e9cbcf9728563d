r"""Score a GPEN export on pairs of degraded and clean faces, and print the paper's table beside ours.

    python -m gpen_tf.degrade --input=celeba_hq_test/ --output=pairs/degraded --clean_output=pairs/clean --size=512
    python -m gpen_tf.evaluate --model=pretrained/bfr512 --input=pairs/degraded --target=pairs/clean \
        --metric_weights=weights/

Each degraded face is matched to its clean one by file name stem, restored whole (as `gpen_tf.restore
--aligned`: the export resizes it to its size and back) and scored against the clean face: a row per
face of PSNR, SSIM and CIELab deltaE on uint8 RGB (common.metrics) and LPIPS (common/lpips.py, AlexNet
unless --lpips_net=vgg), then their means. FID compares the restored faces with the clean ones as a
set (pytorch-fid's Inception, 2048 features; it needs many faces to mean something: the paper used
1,000). IDS, the identity distance, is 1 - the cosine of the IR-SE50 ArcFace embeddings that GPEN's
identity loss uses (common/arcface.py) of the restored and the clean face; LMD, the landmark
distance, the mean distance in pixels between MTCNN's five landmarks on the two (pairs where MTCNN
finds no face in either are counted and left out of it). The last table puts the means and the FID
beside the figures the GPEN paper reports for GPEN-BFR-512 on 1,000 CelebA-HQ test faces (PSNR
20.80 dB, LPIPS 0.346, FID 31.72; it reports no SSIM, IDS or LMD). A metric whose weights are not in
--metric_weights (layout: README, "Metrics") is left out with one line saying which files it needs.

Exit codes: 0 every face scored; 1 some faces failed (named); 2 bad arguments (a missing flag, no GPEN
export in --model, no images, weights of the wrong network).
"""

import sys

from absl import flags

from common import cli, metric_weights

flags.DEFINE_string("model", None, "A GPEN export (a converted release or a training run's).")
flags.DEFINE_string("input", None, "A folder of degraded faces (gpen_tf.degrade's --output).")
flags.DEFINE_string("target", None, "A folder of the clean faces (gpen_tf.degrade's --clean_output), "
                    "matched to the degraded ones by file name stem.")
metric_weights.define_flags()
FLAGS = flags.FLAGS

# GPEN-BFR-512 on 1,000 CelebA-HQ test faces, as the paper reports it (Yang et al., CVPR 2021).
PAPER = {"PSNR (dB)": 20.80, "SSIM": None, "LPIPS": 0.346, "FID": 31.72, "IDS": None, "LMD": None}


def paper_table(ours, out=sys.stdout):
    """The summary: each metric, ours and the paper's ('-' where one has none)."""
    print(f"\n{'metric':<10}  {'this model':>10}  {'GPEN paper':>10}", file=out)
    for name, paper in PAPER.items():
        value = ours.get(name)
        cells = [f"{v:.4f}" if v is not None else "-" for v in (value, paper)]
        print(f"{name:<10}  {cells[0]:>10}  {cells[1]:>10}", file=out)


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "input", "target")
    metric_weights.check_flags()
    import numpy as np

    from common import arcface, formats  # TensorFlow, once the flags are known to be good
    from gpen_tf import detection
    from common.paired_scores import SetFID, evaluate, exit_after, match_files, report_unscored
    with cli.bad_arguments_exit_2():
        pairs, failures, unused = match_files(FLAGS.input, FLAGS.target)
        restore = formats.load(FLAGS.model, "GPEN").serving()
        lpips, lpips_note = metric_weights.lpips_or_note(FLAGS.metric_weights, FLAGS.lpips_net)
        fid_network, fid_note = metric_weights.fid_or_note(FLAGS.metric_weights)
        arcface_network, arcface_note = metric_weights.arcface_or_note(FLAGS.metric_weights)
    report_unscored(failures, unused, [lpips_note, fid_note, arcface_note])

    fid = SetFID(fid_network) if fid_network is not None else None
    mtcnn, distances = detection.MTCNN(), {"IDS": [], "LMD": []}
    faceless = 0  # pairs where MTCNN finds no face in one of the two

    def observe(output, target):
        nonlocal faceless
        if fid is not None:
            fid(output, target)
        if arcface_network is not None:
            distances["IDS"].append(float(arcface.identity_distance(arcface_network, [output], [target])[0]))
        found = [mtcnn(image) for image in (output, target)]
        if all(found):
            distances["LMD"].append(float(np.linalg.norm(found[0][0].landmarks - found[1][0].landmarks, axis=1).mean()))
        else:
            faceless += 1

    total = len(pairs) + len(failures)
    results, failed = evaluate(pairs, restore, lpips=lpips, observe=observe) if pairs else ({}, [])
    ours = {header: float(np.mean([r[key] for r in results.values()]))
            for key, header in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("lpips", "LPIPS"))
            if results and key in next(iter(results.values()))}
    if fid is not None and fid.value() is not None:
        ours["FID"] = fid.value()
    elif fid is not None:
        print("note: FID left out: it needs at least 2 scored faces", file=sys.stderr)
    ours.update({name: float(np.mean(values)) for name, values in distances.items() if values})
    if faceless:
        print(f"note: LMD leaves out {faceless} pairs where MTCNN found no face in the restored or "
              "the clean one", file=sys.stderr)
    paper_table(ours)
    exit_after(failures + failed, total)


if __name__ == "__main__":
    cli.run(main)
