"""common/weights_cache.py: a converted network is read back from the cache, equal to the conversion;
a source replaced in place, or a cache that does not fit, converts again."""

import os

import keras
import numpy as np
import pytest

from common import lpips, weights_cache


def _model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_ZOO_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "net.pth"
    path.write_bytes(b"stands for a released file")
    return path


def _load(source, conversions, value=1.0):
    """A new model filled through the cache; a conversion sets every weight to `value`."""
    model = _model()

    def convert():
        conversions.append(value)
        for v in model.weights:
            v.assign(np.full(v.shape, value, np.float32))
    weights_cache.converted("test_net", [str(source)], model.weights, convert)
    return model


def test_the_second_load_reads_the_cache_and_equals_the_conversion(source):
    conversions = []
    first = _load(source, conversions)
    second = _load(source, conversions, value=2.0)  # would give 2s if it converted
    assert conversions == [1.0]
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    status = os.stat(source)
    assert weights_cache.path("test_net", [str(source)]) == os.path.join(
        os.environ["GAN_ZOO_CACHE"], "test_net", f"net-26-{status.st_mtime_ns}.npz")


def test_a_source_replaced_in_place_converts_again(source):
    conversions = []
    _load(source, conversions)
    status = os.stat(source)
    os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))  # same size, rewritten
    assert _load(source, conversions, value=2.0).weights[0].numpy().max() == 2.0
    assert conversions == [1.0, 2.0]


@pytest.mark.parametrize("damage", ["truncated", "other_network"])
def test_a_cache_that_does_not_fit_converts_again(source, damage):
    conversions = []
    _load(source, conversions)
    cached = weights_cache.path("test_net", [str(source)])
    if damage == "truncated":
        with open(cached, "r+b") as f:
            f.truncate(os.path.getsize(cached) // 2)
    else:
        np.savez(cached, np.zeros((3, 5), np.float32))
    assert _load(source, conversions, value=2.0).weights[0].numpy().max() == 2.0
    assert conversions == [1.0, 2.0]
    assert _load(source, conversions, value=3.0).weights[0].numpy().max() == 2.0  # the rewritten cache


def test_lpips_keeps_every_variable_in_the_cache():
    metric = lpips.LPIPS("alex")
    assert len(metric.weights) == 10 + 5  # five convolutions' kernels and biases, five heads
    assert sum(int(np.prod(v.shape)) for v in metric.weights) == 2_469_696 + 64 + 192 + 384 + 256 + 256
