"""Training under tf.distribute: replicas that agree with one device, fit with validation, the chief.

One step over the two logical CPUs (conftest's MirroredStrategy) must equal one step over the whole
batch on one device, for every model that trains with batch statistics: batch norm synchronised
across replicas, dropout masks and DCGAN's noise drawn for the global batch, PieNet's triplet
negatives gathered from every replica. Plain SGD, as Adam's first step is about lr * sign(gradient)
and hides a wrong scale.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import distribute
from dcgan_tf import DCGAN
from dpe_tf import DPE
from pienet_tf import PieNet
from pix2pix_tf import Pix2Pix


def _pix2pix_pairs(n=4, size=64):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return a, np.tanh(2 * a[..., ::-1])


def _enhance_pairs(n=4, size=64):
    x = np.random.default_rng(1).uniform(0.05, 0.95, (n, size, size, 3)).astype("float32")
    return x, x ** 0.6


def _users_batch(n=4, size=32):
    x = np.random.default_rng(2).uniform(0.2, 0.8, (n, size, size, 3)).astype("float32")
    ids = np.array([0, 1, 2, 0], "int32")[:n]
    gains = np.array([[1.3, 1.0, 0.7], [0.7, 1.0, 1.3], [1.2, 1.2, 1.2]], "float32")
    return (x, ids), np.clip(x * gains[ids][:, None, None, :], 0, 1)


CASES = {
    "pix2pix": (lambda **kw: Pix2Pix(generator="unet_64", ngf=4, ndf=4, **kw), _pix2pix_pairs),
    "dcgan": (lambda **kw: DCGAN(image_size=8, ngf=4, ndf=4, latent_dim=6, **kw),
              lambda: np.random.default_rng(3).uniform(-1, 1, (4, 8, 8, 3)).astype("float32")),
    "dpe": (lambda **kw: DPE(mode="supervised", image_size=64, **kw), _enhance_pairs),
    "pienet": (lambda **kw: PieNet(users=["warm", "cool", "bright"], stage="embed", image_size=32,
                                   embedding_width=4, enhancer_width=4, **kw), _users_batch),
}


def _one_step(make, batch, strategy=None, **options):
    """A model after one SGD step on `batch`, built (under `strategy`) from the initial weights of
    `make(**options)` built with the Keras seed 0, and those initial weights."""
    keras.utils.set_random_seed(0)
    initial = make(**options).get_weights()
    with strategy.scope() if strategy else tf.distribute.get_strategy().scope():
        model = make(**options)
        model.set_weights(initial)
        model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    return model, initial


def _replica_copies(model):
    """Each variable's values on the replicas it is mirrored on."""
    return [[c.numpy() for c in w.value.values] for w in model.weights]


# pix2pix's case is covered through its command line in test_distribute_cli.py (the same losses and
# batch-norm statistics under every strategy).
@pytest.mark.parametrize("name", sorted(set(CASES) - {"pix2pix"}))
def test_a_step_over_two_replicas_equals_one_over_the_global_batch(name, two_cpu_strategy):
    make, batch = CASES[name]
    single, initial = _one_step(make, batch())
    mirrored, _ = _one_step(make, batch(), two_cpu_strategy)
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    for copies in _replica_copies(mirrored):  # batch norm's moving statistics too
        np.testing.assert_allclose(copies[0], copies[1], rtol=1e-5, atol=1e-7)
    moved = [np.abs(a - b).max() for a, b in zip(initial, single.get_weights()) if a.size > 1]
    assert np.median(moved) > 1e-5  # the step moved the weights well past the tolerance


def test_per_replica_batch_norm_is_an_option_and_differs(two_cpu_strategy):
    make, batch = CASES["pix2pix"]
    single, _ = _one_step(make, batch())
    local, _ = _one_step(make, batch(), two_cpu_strategy, sync_batch_norm=False)
    assert not all(np.allclose(a, b, rtol=1e-3, atol=1e-5)
                   for a, b in zip(single.get_weights(), local.get_weights()))
    moving = [w for w in local.weights if "moving_mean" in w.path]
    assert moving and not all(np.allclose(*(c.numpy() for c in w.value.values)) for w in moving)


def test_noise_of_a_replica_is_its_slice_of_the_global_batch(two_cpu_strategy):
    seeds = keras.random.SeedGenerator(5)
    whole = distribute.replica_normal([4, 3], seeds)
    with two_cpu_strategy.scope():
        mirrored_seeds = keras.random.SeedGenerator(5)
    halves = two_cpu_strategy.run(tf.function(lambda: distribute.replica_normal([2, 3], mirrored_seeds)))
    np.testing.assert_array_equal(np.concatenate(two_cpu_strategy.experimental_local_results(halves)),
                                  whole)


def test_only_the_chief_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(distribute, "is_chief", lambda strategy=None: False)
    with distribute.chief_path(str(tmp_path / "saved_model")) as path:
        assert not path.startswith(str(tmp_path))
        open(path, "w").close()
        scratch = path
    assert not (tmp_path / "saved_model").exists() and not tf.io.gfile.exists(scratch)
