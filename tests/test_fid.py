"""FID and KID: the formulas against independent computations, the FID Inception against pytorch-fid's
(fixture: tools/make_fid_fixtures.py, pytorch-fid 0.3.0 with seeded weights), and `python -m common.fid`
against pytorch-fid's `calculate_fid_given_paths` on the same folders."""

import os
import pathlib

import numpy as np
import pytest
import scipy.linalg

from clitools import run
from common import feature_metrics, images, inception, porting
from random_state import fixture_state

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "fid.npz")
SEED = 11  # the fixture script's


def _covariance(rng, d, rank=None):
    factor = rng.normal(size=(d, rank or d))
    return factor @ factor.T / (rank or d)


def test_fid_of_diagonal_gaussians_is_their_closed_form():
    rng = np.random.default_rng(0)
    mean_a, mean_b = rng.normal(size=6), rng.normal(size=6)
    var_a, var_b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = ((mean_a - mean_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    assert feature_metrics.frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b)) == pytest.approx(expected, rel=1e-12)
    assert feature_metrics.frechet_distance(mean_a, np.diag(var_a), mean_a, np.diag(var_a)) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("rank", [None, 5])
def test_the_trace_of_the_square_root_equals_scipys_sqrtm(rank):
    rng = np.random.default_rng(1)
    sigma_a, sigma_b = _covariance(rng, 20, rank), _covariance(rng, 20, rank)
    reference = np.trace(scipy.linalg.sqrtm(sigma_a @ sigma_b)).real  # pytorch-fid's way
    assert feature_metrics.trace_sqrt_product(sigma_a, sigma_b) == pytest.approx(reference, rel=1e-6)


def test_running_statistics_equal_numpys_mean_and_cov():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(37, 8)) * 3 + 5
    stats = feature_metrics.Statistics(keep=True)
    for start in range(0, 37, 10):
        stats.add(features[start:start + 10])
    np.testing.assert_allclose(stats.mean, features.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.features, features, rtol=1e-6)


def test_kid_is_the_unbiased_mmd_of_the_cubic_kernel():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)) + 0.5

    def k(p, q):
        return (p @ q / 4 + 1) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m ** 2
    mean, std = feature_metrics.kernel_inception_distance(x, y, subsets=3, subset_size=100)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10) and std == pytest.approx(0, abs=1e-12)
    # Unbiased: two samples of one distribution average to about 0, a shifted one does not.
    z = rng.normal(size=(3, 300, 4))
    same, _ = feature_metrics.kernel_inception_distance(z[0], z[1], subsets=5, subset_size=300)
    shifted, _ = feature_metrics.kernel_inception_distance(z[0], z[2] + 0.5, subsets=5, subset_size=300)
    assert abs(same) < 0.1 * shifted


@pytest.fixture(scope="module")
def converted():
    model = inception.build()
    state = fixture_state(FIXTURE, "inception", seed=SEED)
    porting.ported(model, inception.port, state, "pt_inception (seeded)")
    return model


def test_every_key_of_pytorch_fids_inception_is_read():
    keys = [str(k) for k in FIXTURE["inception_keys"]]
    assert len(keys) == 472 and keys[-2:] == ["fc.weight", "fc.bias"]
    trainable = sum(int(np.prod(w.shape)) for w in inception.build().trainable_weights)
    assert trainable == 21_785_568  # pytorch-fid's InceptionV3 without fc, counted in PyTorch


def test_the_four_feature_blocks_equal_pytorch_fids(converted):
    for dims, block in inception.DIMS.items():
        ours = inception.features(inception.feature_network(converted, dims), FIXTURE["images"])
        official = FIXTURE[f"block{block}"]
        np.testing.assert_allclose(ours, official, rtol=1e-4, atol=1e-4 * np.abs(official).max(), err_msg=str(dims))


def test_a_network_that_is_not_the_fid_inception_is_refused():
    state = fixture_state(FIXTURE, "inception", seed=SEED)
    del state["Mixed_7c.branch_pool.conv.weight"]
    with pytest.raises(porting.PortingError, match="missing key 'Mixed_7c.branch_pool.conv.weight'"):
        porting.ported(inception.build(), inception.port, state, "x.pth")


def test_the_command_gives_pytorch_fids_number(converted, tmp_path):
    weights = str(tmp_path / "fid_inception.weights.h5")
    converted.save_weights(weights)
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        for i, crop in enumerate(FIXTURE[f"crops_{side}"]):
            images.write_image(tmp_path / side / f"{i:03d}.png", crop)
    result = run("common.fid", str(tmp_path / "a"), str(tmp_path / "b"), f"--weights={weights}", "--dims=64",
                 "--batch_size=32", "--kid", "--kid_subsets=10")
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert float(lines["FID"]) == pytest.approx(float(FIXTURE["fid_64"]), rel=1e-4)
    assert float(lines["KID"].split()[0]) > 0 and "10 subsets of 80" in lines["KID"]
    missing = run("common.fid", str(tmp_path / "a"), str(tmp_path / "nothing"), f"--weights={weights}", check=False)
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'nothing'}: no such folder"


def test_a_pth_is_converted_once_then_read_from_the_cache(monkeypatch, tmp_path):
    from common import pth
    reads = []
    monkeypatch.setattr(pth, "load_state_dict", lambda path: reads.append(path) or fixture_state(FIXTURE, "inception", seed=SEED))
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"stands for the 95 MB file")
    first, second = inception.load(str(weights)), inception.load(str(weights))
    assert reads == [str(weights)]  # the second came from the cache
    assert os.listdir(tmp_path / "cache" / "fid_inception") == [
        f"pt_inception-2015-12-05-6726825d-25-{os.stat(weights).st_mtime_ns}.npz"]
    network_a, network_b = (inception.feature_network(m, 192) for m in (first, second))
    np.testing.assert_array_equal(inception.features(network_a, FIXTURE["images"]),
                                  inception.features(network_b, FIXTURE["images"]))


def test_set_fid_gathers_pairs_into_the_fid_of_the_two_sets(converted):
    from common import paired_scores
    network = inception.feature_network(converted, 64)  # (an FID of 2048 dimensions takes ~8 s here)
    outputs, targets = (FIXTURE[f"crops_{side}"][:5] for side in "ab")
    gathered = paired_scores.SetFID(network)
    assert gathered.value() is None  # under 2 pairs
    for output, target in zip(outputs, targets):
        gathered(output, target)
    stats = []
    for images_ in (outputs, targets):
        s = feature_metrics.Statistics()
        s.add(inception.features(network, images_ / np.float32(255)))
        stats.append(s)
    expected = feature_metrics.frechet_distance(stats[0].mean, stats[0].covariance, stats[1].mean, stats[1].covariance)
    assert gathered.value() == pytest.approx(expected, rel=1e-6) and expected > 0
