"""IR-SE50 (GPEN's model_ir_se50.pth network) against GPEN's own class, and the identity distance
(fixture: tools/make_arcface_fixtures.py, weights seeded by tests/random_state.py)."""

import pathlib

import numpy as np
import pytest

from common import arcface, porting
from random_state import fixture_state

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "arcface.npz")
SEED, TAME = 31, {"res_layer.4.weight": 0.3}  # the fixture script's


@pytest.fixture(scope="module")
def network():
    return porting.ported(arcface.build(), arcface.port, fixture_state(FIXTURE, "arcface", seed=SEED,
                                                                           suffix_scales=TAME))


def test_every_key_is_read_and_the_count_is_the_official_one():
    trainable = sum(int(np.prod(w.shape)) for w in arcface.build().trainable_weights)
    assert trainable == int(FIXTURE["count"]) == 43_797_696  # the official Backbone, counted in PyTorch


def test_embeddings_equal_gpens_idloss_features(network):
    ours = arcface.embeddings(network, FIXTURE["faces"])
    np.testing.assert_allclose(ours, FIXTURE["embeddings"], atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_identity_distance_is_one_minus_the_cosine(network):
    faces = FIXTURE["faces"]
    same = arcface.identity_distance(network, faces, faces)
    np.testing.assert_allclose(same, 0.0, atol=1e-5)
    cross = arcface.identity_distance(network, faces[:1], faces[1:])[0]
    assert cross == pytest.approx(1.0 - float(FIXTURE["embeddings"][0] @ FIXTURE["embeddings"][1]), abs=1e-4)
