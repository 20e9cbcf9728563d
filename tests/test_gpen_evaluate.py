"""gpen_tf.evaluate: the per-face table, LPIPS from the --metric_weights folder, the paper's figures
beside ours, and the notes for what is left out (FID and IDS without their files, LMD without faces)."""

import numpy as np
import pytest

from clitools import run
from common import export, images, metric_weights
from pth_writer import save_state_dict
from test_gpen_tools import darkening_generator, smooth_faces
from test_lpips import _state as lpips_state
from gpen_tf import serving


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """(the GPEN export, the pairs' folders, the metric weights' folder)."""
    root = tmp_path_factory.mktemp("gpen_evaluate")
    model = serving.export_restorer(darkening_generator(), str(root / "gpen" / "saved_model"),
                                    metadata=export.describe("GPEN", {"size": 16}))
    for folder in ("degraded", "clean"):
        (root / folder).mkdir()
    clean = smooth_faces(4, 32, 32, seed=3)
    for k, face in enumerate(clean):
        images.write_image(root / "clean" / f"{k}.png", face)
        images.write_image(root / "degraded" / f"{k}.png", (face // 2 + 60).astype(np.uint8))
    weights = root / "weights"
    (weights / "lpips").mkdir(parents=True)
    state = lpips_state("alex")
    save_state_dict(weights / "lpips" / "alex.pth", {k: v for k, v in state.items() if k.startswith("lin")})
    save_state_dict(weights / metric_weights.LPIPS_BACKBONES["alex"],
                    {k: v for k, v in state.items() if not k.startswith("lin")})
    return model, root, weights


def summary(stdout):
    """{metric: (ours, paper)} of the last table, None for '-'."""
    rows = stdout.split("\nmetric")[1].strip().splitlines()[1:]
    return {" ".join(r.split()[:-2]): tuple(None if v == "-" else float(v) for v in r.split()[-2:]) for r in rows}


def test_the_papers_table_with_lpips_beside_the_papers_figures(setting):
    # FID through the same folder is common.paired_scores.SetFID (tests/test_fid.py); the Inception's
    # 95 MB file is left out here, so FID's note is checked instead.
    model, root, weights = setting
    result = run("gpen_tf.evaluate", f"--model={model}", f"--input={root / 'degraded'}",
                 f"--target={root / 'clean'}", f"--metric_weights={weights}")
    table = summary(result.stdout)
    assert table["PSNR (dB)"][1] == 20.80 and table["LPIPS"][1] == 0.346 and table["FID"] == (None, 31.72)
    assert f"note: FID left out: {weights / metric_weights.FID_INCEPTION} not found" in result.stderr
    assert table["SSIM"][1] is None and table["IDS"] == (None, None)  # no model_ir_se50.pth given
    assert f"note: IDS left out: {weights / metric_weights.ARCFACE} not found" in result.stderr
    # Smooth gradients have no face for MTCNN: LMD is named as left out, not zero.
    assert table["LMD"] == (None, None) and "note: LMD leaves out 4 pairs where MTCNN found no face" in result.stderr
    per_face = [line.split() for line in result.stdout.splitlines()[1:5]]
    assert table["PSNR (dB)"][0] == pytest.approx(np.mean([float(r[1]) for r in per_face]), abs=1e-4)
    assert table["LPIPS"][0] == pytest.approx(np.mean([float(r[4]) for r in per_face]), abs=1e-4)
