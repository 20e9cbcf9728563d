"""LPIPS against the lpips package's v0.1 (fixture: tools/make_lpips_fixtures.py, lpips 0.1.4 with its
own linear heads and a seeded torchvision backbone)."""

import pathlib

import numpy as np
import pytest

from common import lpips, porting
from random_state import fixture_state

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "lpips.npz")
SEEDS = {"alex": 21, "vgg": 22}  # the fixture script's


def _state(net):
    """torchvision's state dict as the fixture seeded it, its classifier as stand-in zeros, and the heads."""
    state = fixture_state(FIXTURE, net, seed=SEEDS[net])
    state.update({f"lin{k}.model.1.weight": FIXTURE[f"{net}_lin{k}"] for k in range(5)})
    for entry in FIXTURE[f"{net}_classifier"]:
        key, _ = str(entry).split(":")
        state[key] = np.zeros(1, np.float32)  # the real ones are large; the port leaves them out
    return state


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_equals_the_lpips_package(net):
    metric = porting.ported(lpips.LPIPS(net), lambda m, p: m.port(p), _state(net))
    shares = metric.per_layer(FIXTURE["x0"], FIXTURE["x1"])
    np.testing.assert_allclose(shares, FIXTURE[f"{net}_layers"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(metric(FIXTURE["x0"], FIXTURE["x1"]), FIXTURE[f"{net}_lpips"], rtol=1e-4)
    assert metric(FIXTURE["x0"], FIXTURE["x0"]).max() == 0.0  # an image is at distance 0 from itself


def test_parameter_counts_are_torchvisions_features():
    # AlexNet's features 2,469,696 and VGG-16's 14,714,688 parameters (torchvision), plus the heads.
    assert lpips.LPIPS("alex").backbone.count_params() == 2_469_696
    assert lpips.LPIPS("vgg").backbone.count_params() == 14_714_688


def test_heads_of_the_other_backbone_are_refused():
    state = _state("alex")
    state.update({f"lin{k}.model.1.weight": FIXTURE[f"vgg_lin{k}"] for k in range(5)})
    with pytest.raises(porting.PortingError, match=r"'lin1.model.1.weight' has shape \(1, 128, 1, 1\)"):
        porting.ported(lpips.LPIPS("alex"), lambda m, p: m.port(p), state, "vgg.pth and alexnet.pth")


def test_pienets_scores_take_lpips_as_a_third_figure():
    from pienet_tf import scoring
    metric = porting.ported(lpips.LPIPS("alex"), lambda m, p: m.port(p), _state("alex"))
    outputs, targets = [(FIXTURE[k] * 255).round().astype(np.uint8) for k in ("x0", "x1")]
    psnr, ssim, distance = scoring.scores(list(outputs), list(targets), metric)
    assert (psnr, ssim) == pytest.approx(scoring.scores(list(outputs), list(targets)), abs=1e-9)
    expected = metric(outputs / np.float32(255), targets / np.float32(255)).mean()
    assert distance == pytest.approx(expected, rel=1e-5) and distance > 0
