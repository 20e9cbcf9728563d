"""gpen_tf.evaluate: the per-face table, LPIPS and FID from the --metric_weights folder, the paper's
figures beside ours, and the notes for what is left out (IDS without its file, LMD without faces; the
notes of LPIPS and FID without weights are dpe_tf's and dcgan_tf's tests')."""

import numpy as np
import pytest

from clitools import run
from common import export, feature_metrics, formats, images, inception, metric_weights
from pth_writer import save_state_dict
from random_state import fixture_state
from test_fid import FIXTURE as FID_FIXTURE, SEED as FID_SEED
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
    save_state_dict(weights / metric_weights.FID_INCEPTION, fixture_state(FID_FIXTURE, "inception", seed=FID_SEED))
    return model, root, weights


def summary(stdout):
    """{metric: (ours, paper)} of the last table, None for '-'."""
    rows = stdout.split("\nmetric")[1].strip().splitlines()[1:]
    return {" ".join(r.split()[:-2]): tuple(None if v == "-" else float(v) for v in r.split()[-2:]) for r in rows}


def test_the_papers_table_with_lpips_and_fid(setting, tmp_path, monkeypatch):
    model, root, weights = setting
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path / "cache"))  # the converted Inception goes there
    result = run("gpen_tf.evaluate", f"--model={model}", f"--input={root / 'degraded'}",
                 f"--target={root / 'clean'}", f"--metric_weights={weights}", env={"GAN_ZOO_CACHE": str(tmp_path / "cache")})
    table = summary(result.stdout)
    assert table["PSNR (dB)"][1] == 20.80 and table["LPIPS"][1] == 0.346 and table["FID"][1] == 31.72
    assert table["SSIM"][1] is None and table["IDS"] == (None, None)  # no model_ir_se50.pth given
    assert f"note: IDS left out: {weights / metric_weights.ARCFACE} not found" in result.stderr
    # Smooth gradients have no face for MTCNN: LMD is named as left out, not zero.
    assert table["LMD"] == (None, None) and "note: LMD leaves out 4 pairs where MTCNN found no face" in result.stderr
    per_face = [line.split() for line in result.stdout.splitlines()[1:5]]
    assert table["PSNR (dB)"][0] == pytest.approx(np.mean([float(r[1]) for r in per_face]), abs=1e-4)
    assert table["LPIPS"][0] == pytest.approx(np.mean([float(r[4]) for r in per_face]), abs=1e-4)
    # FID of the restored faces against the clean ones, computed here with the same export and weights.
    restore = formats.load(str(model), "GPEN").serving()
    network = inception.feature_network(inception.load(str(weights / metric_weights.FID_INCEPTION)), 2048)
    stats = [feature_metrics.Statistics(), feature_metrics.Statistics()]
    for k in range(4):
        clean = images.read_image(root / "clean" / f"{k}.png")
        out = restore(images.read_image(root / "degraded" / f"{k}.png"))
        for s, image in zip(stats, (out, clean)):
            s.add(inception.features(network, [image / np.float32(255)]))
    expected = feature_metrics.frechet_distance(stats[0].mean, stats[0].covariance, stats[1].mean, stats[1].covariance)
    assert table["FID"][0] == pytest.approx(expected, rel=1e-5) and expected > 0
