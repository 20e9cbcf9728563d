"""PieNet's SavedModel (serving_default, preference, styles) and `python -m pienet_tf.enhance`.

A tiny stand-in embedding with the real one's interface ([N, H, W, 3] in [0, 1] -> L2-normalised
[N, 512]) and the real enhancer at width 4 with random weights (`common.tiles.randomize`: the untrained
one returns its input). Exports use 32-pixel tiles, so that photos over 176 pixels are tiled.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from clitools import endpoints_in_fresh_process, run
from common import export, images, tiles
from pienet_tf import networks, serving

DIMS = 512
EMBED = 24
MULTIPLE = 16
TILE = 32
NAMES = ["warm", "noir", "expert_c"]
SIZES = [(17, 23), (16, 16), (1, 30), (5, 3), (200, 130)]


def stand_in_embedding():
    x = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    h = keras.layers.Dense(DIMS)(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(x, keras.layers.UnitNormalization()(h))


def tiny_enhancer():
    return networks.enhancer(width=4, preference_dim=DIMS)


def rand_uint8(h, w, n=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def nets():
    keras.utils.set_random_seed(0)
    vectors = unit(np.random.default_rng(1).normal(size=(len(NAMES), DIMS))).astype(np.float32)
    return stand_in_embedding(), tiles.randomize(tiny_enhancer(), seed=2), vectors


@pytest.fixture(scope="module")
def exported(nets, tmp_path_factory):
    embedding, enhancer, vectors = nets
    path = str(tmp_path_factory.mktemp("pienet") / "saved_model")
    return serving.export_pienet(embedding, enhancer, NAMES, vectors, path, embed_size=EMBED, tile=TILE,
                                 metadata=export.describe("PieNet"))


@pytest.fixture(scope="module")
def model(exported):
    return tf.saved_model.load(exported)


def served(model, x, preference):
    return model.signatures["serving_default"](images=tf.constant(x),
                                               preference=tf.constant(preference))["images"].numpy()


def expected_output(enhancer, x, preference):
    """The enhancer on the photo mirror-padded (np.pad symmetric) to multiples of 16, cropped, clipped."""
    h, w = x.shape[1:3]
    padded = np.pad(x, [(0, 0), (0, -h % MULTIPLE), (0, -w % MULTIPLE), (0, 0)], mode="symmetric")
    y = enhancer([padded.astype(np.float32) / 255, preference]).numpy()[:, :h, :w]
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


def assert_close_uint8(a, b, levels=1):
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= levels


def test_serving_keeps_any_size_and_pads_as_documented(nets, model):
    _, enhancer, vectors = nets
    for k, (h, w) in enumerate(SIZES):
        x = rand_uint8(h, w, seed=k)
        out = served(model, x, vectors[:1])
        assert_close_uint8(out, expected_output(enhancer, x, vectors[:1]))
        assert np.abs(out.astype(int) - x).mean() > 1  # the stand-in does change the image
    batch = rand_uint8(9, 14, n=2, seed=7)
    per_image = served(model, batch, vectors[[1, 2]])
    assert_close_uint8(per_image, expected_output(enhancer, batch, vectors[[1, 2]]))
    assert not np.array_equal(per_image[0], served(model, batch[:1], vectors[:1])[0])  # it uses the vector
    # One vector for the whole batch is broadcast.
    np.testing.assert_array_equal(served(model, batch, vectors[1:2]), served(model, batch, vectors[[1, 1]]))


def test_an_enhancer_that_returns_its_input_gives_back_the_input_exactly(nets, tmp_path):
    embedding, _, vectors = nets
    identity = tiny_enhancer()  # its last conv starts at zero
    path = serving.export_pienet(embedding, identity, NAMES, vectors, str(tmp_path / "sm"),
                                 embed_size=EMBED, tile=TILE, metadata=export.describe("PieNet"))
    model = tf.saved_model.load(path)
    for k, (h, w) in enumerate(SIZES):
        x = rand_uint8(h, w, seed=10 + k)
        np.testing.assert_array_equal(served(model, x, vectors[:1]), x)


def test_measured_receptive_fields_are_the_documented_ones():
    assert serving.receptive_fields(tiny_enhancer()) == (serving.POOL_FIELD, serving.LOCAL_FIELD)
    assert (serving.POOL_MARGIN, serving.LOCAL_MARGIN) == ((64, 80), (64, 64))


def test_tiles_equal_the_untiled_pass_and_smaller_margins_do_not(nets):
    enhancer, vectors = nets[1], nets[2]
    x = rand_uint8(250, 190, n=2, seed=8)  # padded 256 x 192: 8 x 6 cores of 32 pixels
    untiled = serving.enhance(enhancer, x, vectors[:2], tile=None).numpy()
    tiled = tf.function(lambda im: serving.enhance(enhancer, im, vectors[:2], tile=TILE))(x).numpy()
    assert tiled.shape == x.shape and np.abs(untiled - x / 255).mean() > 0.05
    np.testing.assert_allclose(tiled, untiled, rtol=0, atol=1e-5)
    # The global feature as a tiled mean: exact with the margin, not without (what the test can see).
    deep = serving.enhancer_parts(enhancer)[0]
    padded = tf.constant(np.pad(x, [(0, 0), (0, 6), (0, 2), (0, 0)], mode="symmetric") / 255, tf.float32)
    mean = deep(padded).numpy().mean(axis=(1, 2))
    for margin, error in [(serving.POOL_MARGIN, 1e-6), ((0, 0), None)]:
        got = tiles.tiled_mean(deep, padded, tile=TILE, margin=margin, scale=MULTIPLE, channels=32)
        if error:
            np.testing.assert_allclose(got, mean, rtol=0, atol=error)
        else:
            assert np.abs(got - mean).max() > 1e-2


def test_preference_is_the_normalised_mean_embedding_of_centred_squares(nets, model):
    embedding = nets[0]
    photos = rand_uint8(EMBED, EMBED + 10, n=3, seed=3)  # centred squares: columns 5 .. 5 + EMBED
    squares = photos[:, :, 5:5 + EMBED].astype(np.float32) / 255
    expected = unit(embedding(squares).numpy().mean(axis=0, keepdims=True))
    got = model.signatures["preference"](images=tf.constant(photos))["preference"].numpy()
    assert got.shape == (1, DIMS)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(serving.preference_vector(embedding, photos, embed_size=EMBED), got,
                               atol=1e-6)
    # Larger photos are resized to EMBED inside, in one batch of any size.
    large = model.signatures["preference"](images=tf.constant(rand_uint8(50, 70, n=2)))["preference"]
    assert large.shape == (1, DIMS) and np.linalg.norm(large) == pytest.approx(1, abs=1e-6)


def test_styles_round_trip(nets, model):
    stored = model.signatures["styles"]()
    assert [n.decode() for n in stored["names"].numpy()] == NAMES
    np.testing.assert_array_equal(stored["vectors"].numpy(), nets[2])
    assert int(stored["embed_size"]) == EMBED


def test_saved_model_runs_without_this_package(nets, model, exported, tmp_path):
    x, photos = rand_uint8(13, 6, seed=4), rand_uint8(30, 20, n=2, seed=5)
    vector = nets[2][2:]
    outputs = endpoints_in_fresh_process(
        exported, {"enhance": ("serving_default", {"images": x, "preference": vector}),
                   "prefer": ("preference", {"images": photos}), "styles": ("styles", {})},
        tmp_path, ("common", "pienet_tf"))
    np.testing.assert_array_equal(outputs["enhance"]["images"], served(model, x, vector))
    np.testing.assert_allclose(outputs["prefer"]["preference"],
                               model.signatures["preference"](images=tf.constant(photos))["preference"],
                               atol=1e-6)
    assert [n.decode() for n in outputs["styles"]["names"]] == NAMES


def test_export_refuses_bad_styles_and_an_unknown_embedding_size(nets):
    embedding, enhancer, vectors = nets
    with pytest.raises(ValueError, match=r"style_vectors must be \[2 styles, 512\]"):
        serving.export_pienet(embedding, enhancer, NAMES[:2], vectors, "/nonexistent",
                              embed_size=EMBED, metadata={})
    with pytest.raises(ValueError, match="unique"):
        serving.export_pienet(embedding, enhancer, ["a", "a", "b"], vectors, "/nonexistent",
                              embed_size=EMBED, metadata={})
    with pytest.raises(ValueError, match="give embed_size"):
        serving.export_pienet(embedding, enhancer, NAMES, vectors, "/nonexistent", metadata={})
    with pytest.raises(ValueError, match="tile must be a positive multiple of 16"):
        serving.export_pienet(embedding, enhancer, NAMES, vectors, "/nonexistent", embed_size=EMBED,
                              tile=40, metadata={})


# --- python -m pienet_tf.enhance -------------------------------------------------------------------


def test_tool_picks_the_style_or_the_preferred_photos(model, exported, tmp_path):
    np.testing.assert_array_equal(serving.stored_style(model, "noir"),
                                  model.signatures["styles"]()["vectors"][1:2])
    liked = tmp_path / "liked"
    liked.mkdir()
    photos = rand_uint8(EMBED, EMBED, n=2, seed=6)
    for k, photo in enumerate(photos):
        images.write_image(liked / f"{k}.png", photo)
    (liked / "bad.jpg").write_bytes(b"not a jpeg")
    vector, failed = serving.preferred_style(model, str(liked))
    assert failed == 1
    np.testing.assert_array_equal(vector, model.signatures["preference"](images=tf.constant(photos))
                                  ["preference"])
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        serving.load(str(tmp_path))


@pytest.mark.parametrize("flags, message", [
    ([], "exactly one of --preferred"),
    (["--style=sepia"], "--style=sepia: not a style of this model; its styles are: warm, noir, expert_c"),
])
def test_tool_usage_errors_exit_2(exported, tmp_path, flags, message):
    result = run("pienet_tf.enhance", f"--model={exported}", f"--input={tmp_path}",
                 f"--output={tmp_path / 'out'}", *flags, check=False)
    assert result.returncode == 2 and message in result.stderr


def test_enhance_tool_writes_same_size_outputs_and_names_bad_files(model, exported, tmp_path):
    inputs, liked = tmp_path / "in", tmp_path / "liked"
    inputs.mkdir()
    liked.mkdir()
    photos = {"thumb.png": rand_uint8(20, 30)[0], "photo.jpg": rand_uint8(45, 33, seed=1)[0]}
    for name, photo in photos.items():
        images.write_image(inputs / name, photo)
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    images.write_image(liked / "a.png", rand_uint8(60, 40, seed=2)[0])
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}

    styled = run("pienet_tf.enhance", f"--model={exported}", "--style=expert_c", f"--input={inputs}",
                 f"--output={tmp_path / 'styled'}", check=False)
    assert styled.returncode == 1 and "broken.jpg" in styled.stderr
    assert sorted(p.name for p in (tmp_path / "styled").iterdir()) == ["photo.png", "thumb.png"]
    vector = model.signatures["styles"]()["vectors"][2:3].numpy()
    thumb = images.read_image(inputs / "thumb.png")[None]
    np.testing.assert_array_equal(images.read_image(tmp_path / "styled" / "thumb.png"),
                                  served(model, thumb, vector)[0])
    assert images.read_image(tmp_path / "styled" / "photo.png").shape == (45, 33, 3)
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before

    (inputs / "broken.jpg").unlink()
    preferred = run("pienet_tf.enhance", f"--model={exported}", f"--preferred={liked}",
                    f"--input={inputs / 'thumb.png'}", f"--output={tmp_path / 'liked_out'}", check=False)
    assert preferred.returncode == 0, preferred.stderr
    vector, _ = serving.preferred_style(model, str(liked))
    np.testing.assert_array_equal(images.read_image(tmp_path / "liked_out" / "thumb.png"),
                                  served(model, thumb, vector.numpy())[0])
