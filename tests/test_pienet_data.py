"""PieNet's data: the demo style presets, multi-user sources and the ((images, user_ids), targets) pipeline."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from common import demo, images
from pienet_tf import data, styles

# --- the demo presets ------------------------------------------------------------------------------


def _ramp():
    """A gray ramp 0..255 across 256 columns, 4 rows: R = G = B."""
    return np.repeat(np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (4, 1, 1)), 3, axis=2)


def _colours(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _styled(name, photo):
    return styles.preset(name, photo).numpy().astype(float)


def _photo_gains(name, photos):
    """log of each photo's mean per channel in the user's retouch over its preset's: [N, 3]."""
    return np.log(styles.apply(name, photos).numpy().mean((1, 2))
                  / styles.preset(name, photos).numpy().mean((1, 2)))


def _saturation(x):
    x = np.asarray(x, float)
    return np.mean((x.max(-1) - x.min(-1)) / np.maximum(x.max(-1), 1))


def _luma(x):
    return np.asarray(x, float) @ np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def photos():
    """The demo test photos as 48 x 48 squares."""
    return np.stack([data.square(images.read_image(f), 48).numpy() for f in demo.files("test")])


def test_presets_are_uint8_deterministic_distinct_and_split(photos):
    outputs = {}
    for name in styles.NAMES:
        out = styles.preset(name, photos).numpy()
        assert out.dtype == np.uint8 and out.shape == photos.shape
        np.testing.assert_array_equal(out, styles.preset(name, photos).numpy())
        np.testing.assert_array_equal(out[1], styles.preset(name, photos[1]).numpy())  # batch = one by one
        assert np.abs(out.astype(float) - photos).mean() > 2  # a visible edit
        outputs[name] = out.astype(float)
    named = styles.NAMES[:-styles.GENERATED]
    for a, b in itertools.combinations(named, 2):
        assert np.abs(outputs[a] - outputs[b]).mean() > 8, (a, b)  # mean levels apart (of 255)
    # The generated looks span mild to strong edits, none a copy of a held-out user.
    strengths = [np.abs(outputs[n] - photos).mean() for n in styles.NAMES[-styles.GENERATED:]]
    assert min(strengths) < 8 and max(strengths) > 40
    for a, b in itertools.product(styles.NAMES, styles.HELD_OUT):
        assert a == b or np.abs(outputs[a] - outputs[b]).mean() > 2, (a, b)
    assert len(named) == 17 and len(styles.NAMES) == 57 and len(styles.HELD_OUT) == 3
    assert set(styles.TRAIN) | set(styles.HELD_OUT) == set(styles.NAMES)
    assert not set(styles.TRAIN) & set(styles.HELD_OUT)
    for fn in (styles.preset, styles.apply):
        with pytest.raises(ValueError, match="unknown style 'sunny'.*warm, cool"):
            fn("sunny", photos)


def test_a_users_retouch_varies_from_photo_to_photo_around_its_preset(photos):
    many = np.stack([_colours(seed) for seed in range(64)])
    for name in ("warm", "look_00"):
        out = styles.apply(name, many).numpy()
        np.testing.assert_array_equal(out, styles.apply(name, many).numpy())
        assert np.abs(out[3].astype(int) - styles.apply(name, many[3]).numpy()).max() <= 1
        # The photo's own edit: mean gain of each channel over the preset's, per photo.
        gains = _photo_gains(name, many)
        assert np.all(gains.std(0) > 0.05) and np.all(np.abs(gains.mean(0)) < 0.04)  # centred on the preset
    # Another user gets other draws on the same photos.
    assert np.abs(_photo_gains("warm", photos) - _photo_gains("cool", photos)).max() > 0.02
    # Known values on gray 200: the draws come from the user and the pixels, the same on every machine.
    gray = np.full((1, 1, 3), 200, np.uint8)
    np.testing.assert_array_equal(styles.apply("warm", gray)[0, 0], [225, 220, 158])  # preset: 224, 204, 164


def test_each_preset_does_what_its_name_says():
    ramp, colours = _ramp().astype(float), _colours().astype(float)

    def rb(x):  # red / blue of the mean
        return x[..., 0].mean() / x[..., 2].mean()

    # Known values on gray 200 (R = G = B = 200/255), worked out from the presets' formulas.
    gray = np.full((1, 1, 3), 200, np.uint8)
    np.testing.assert_array_equal(styles.preset("warm", gray)[0, 0], [224, 204, 164])  # x 1.12, 1.02, 0.82
    np.testing.assert_array_equal(styles.preset("faded", gray)[0, 0], [181] * 3)  # 0.16 + 0.7 * 200/255
    # The generated looks come from a fixed seed: the same settings on every machine.
    np.testing.assert_array_equal(styles.preset("look_00", gray)[0, 0], [193, 186, 200])
    assert rb(_styled("warm", colours)) > 1.3 * rb(colours)
    assert rb(_styled("cool", colours)) < 0.8 * rb(colours)
    assert _styled("bright", colours).mean() > colours.mean() + 25
    moody = _styled("moody", colours)
    assert moody.mean() < colours.mean() - 20 and _saturation(moody) < _saturation(colours)
    faded = _styled("faded", ramp)
    assert faded.min() == round(0.16 * 255) and faded.max() == round(0.86 * 255)  # lifted blacks
    assert faded.std() < 0.75 * ramp.std() and _saturation(_styled("faded", colours)) < _saturation(colours)
    punchy = _styled("punchy", colours)
    assert _saturation(punchy) > _saturation(colours) + 0.05 and _luma(punchy).std() > _luma(colours).std()
    noir = _styled("noir", colours)
    assert np.all(noir[..., 0] == noir[..., 1]) and np.all(noir[..., 1] == noir[..., 2])
    assert noir[..., 0].std() > _luma(colours).std()
    vintage = _styled("vintage", ramp)[:, 128]  # mid-gray toned sepia: R > G > B
    assert vintage[0, 0] > vintage[0, 1] > vintage[0, 2]
    assert _styled("vintage", ramp).std() < ramp.std()
    teal_orange = _styled("teal_orange", ramp)
    shadows, highlights = teal_orange[:, 30:80].mean((0, 1)), teal_orange[:, 180:230].mean((0, 1))
    assert shadows[2] > shadows[0] + 10 and highlights[0] > highlights[2] + 10
    assert _styled("dark", colours).mean() < colours.mean() - 30
    assert _saturation(_styled("muted", colours)) < 0.6 * _saturation(colours)
    assert _luma(_styled("contrast", colours)).std() > _luma(colours).std()
    golden = _styled("golden", colours)
    assert rb(golden) > 1.4 * rb(colours) and golden.mean() > colours.mean()
    matte_cool = _styled("matte_cool", ramp)
    assert matte_cool.min() > 35 and rb(matte_cool) < 0.8 * rb(ramp)  # lifted blacks, cold
    green, magenta = (_styled(n, colours).mean((0, 1)) / colours.mean((0, 1))
                      for n in ("green_tint", "magenta_tint"))
    assert np.argmax(green) == 1 and np.argmin(magenta) == 1  # green raised / lowered the most
    cross = _styled("cross_process", ramp)
    shadows, highlights = cross[:, 30:80].mean((0, 1)), cross[:, 180:230].mean((0, 1))
    assert shadows[0] > shadows[1] + 10 and highlights[1] > highlights[0] + 10


# --- folder sources --------------------------------------------------------------------------------


def _photo(seed, shape):
    return np.random.default_rng(seed).integers(0, 256, shape + (3,), dtype=np.uint8)


SHAPES = {"a": (40, 48), "b": (36, 30), "c": (32, 32), "d": (50, 40), "e": (30, 44)}


@pytest.fixture
def fivek(tmp_path):
    """input/ a..e (+ broken.png); expert_a: negatives of all; expert_b: channels rotated, of b, c, e.

    Both edits commute with resizing (up to a level of rounding), so a target identifies its user and
    shows that it stayed aligned with its input.
    """
    for folder in ("input", "expert_a", "expert_b", ".hidden"):
        (tmp_path / folder).mkdir()
    for k, (name, shape) in enumerate(SHAPES.items()):
        x = _photo(k, shape)
        images.write_image(tmp_path / "input" / f"{name}.png", x)
        images.write_image(tmp_path / "expert_a" / f"{name}.png", 255 - x)
        if name in "bce":
            images.write_image(tmp_path / "expert_b" / f"{name}.png", x[..., [1, 2, 0]])
    (tmp_path / "input" / "broken.png").write_bytes(b"not an image")
    images.write_image(tmp_path / "expert_a" / "broken.png", _photo(9, (30, 30)))
    (tmp_path / "notes.txt").write_text("not a user")
    return tmp_path


def _check_pair(x, y, uid):
    """Each target is its input edited by its user, to within 1.5 levels of rounding."""
    expected = 1.0 - x if uid == 0 else x[..., [1, 2, 0]]
    np.testing.assert_allclose(y, expected, atol=1.5 / 255)


def test_folder_users_counts_and_the_users_taking_turns(fivek):
    assert data.users(str(fivek)) == data.training_users(str(fivek)) == ("expert_a", "expert_b")
    assert data.count(str(fivek), ["expert_a", "expert_b"]) == 6 + 3  # broken.png counted
    batches = list(data.dataset(str(fivek), ["expert_a", "expert_b"], batch_size=3, image_size=24,
                                training=False))
    uids = np.concatenate([u.numpy() for (_, u), _ in batches])
    # Turns a, b, a, b, a, b, then a alone; broken.png (a's first pair) is skipped.
    np.testing.assert_array_equal(uids, [0, 1, 0, 1, 0, 1, 0, 0])
    (x, u), y = batches[0]
    assert x.dtype == y.dtype == tf.float32 and u.dtype == tf.int32 and x.shape == (3, 24, 24, 3)
    # The first of expert_a is a.png: its centred square resized to 24, scaled to [0, 1].
    a = _photo(0, SHAPES["a"])[:, 4:44]
    np.testing.assert_array_equal(x[0], data.square(a, 24).numpy() / np.float32(255))
    for xs, us, ys in [(x, u, y) for (x, u), y in batches]:
        for xi, ui, yi in zip(xs.numpy(), us.numpy(), ys.numpy()):
            _check_pair(xi, yi, ui)


def test_training_crops_flips_and_mixes_users(fivek):
    ds = data.dataset(str(fivek), ["expert_b", "expert_a"], batch_size=4, image_size=16, training=True,
                      seed=3, repeat=True)
    assert data.dataset(str(fivek), ["expert_b", "expert_a"], batch_size=4, image_size=16, training=True,
                        seed=3).element_spec[0][0].shape == (4, 16, 16, 3)
    mixed = 0
    for (x, u), y in ds.take(6):
        assert x.shape == y.shape == (4, 16, 16, 3)
        mixed += len(set(u.numpy())) > 1
        for xi, ui, yi in zip(x.numpy(), u.numpy(), y.numpy()):
            _check_pair(xi, yi, 1 - ui)  # users given as (expert_b, expert_a)
    assert mixed >= 4

    def first(seed):
        return next(iter(data.dataset(str(fivek), ["expert_a"], batch_size=4, image_size=16,
                                      training=True, seed=seed, cache=False)))[0][0].numpy()
    np.testing.assert_array_equal(first(1), first(1))
    assert not np.array_equal(first(1), first(2))


def test_list_files_and_bad_images(fivek, caplog):
    listing = fivek / "test.txt"
    listing.write_text("b\nbroken.png\nd\n")
    source = f"{fivek}@{listing}"
    assert data.count(source, ["expert_a", "expert_b"]) == 3 + 1
    pairs = list(data.user_pairs(source, "expert_a"))
    assert "broken.png" in caplog.text  # skipped with its name
    np.testing.assert_array_equal(pairs[0][0], _photo(1, SHAPES["b"]))
    np.testing.assert_array_equal(pairs[1][1], 255 - _photo(3, SHAPES["d"]))
    assert len(pairs) == 2
    with pytest.raises(tf.errors.OpError, match="broken.png"):
        list(data.user_pairs(source, "expert_a", on_bad_image="fatal"))
    liked = data.preferred(str(fivek), "expert_b", image_size=20, limit=2)
    np.testing.assert_array_equal(liked[1], data.square(_photo(2, SHAPES["c"])[..., [1, 2, 0]], 20))
    assert liked.shape == (2, 20, 20, 3) and liked.dtype == tf.uint8


def test_errors_name_the_folder_or_the_user(fivek, tmp_path_factory):
    with pytest.raises(ValueError, match="user 'expert_c' is not one of the user folders of .*expert_a"):
        data.read(str(fivek), ["expert_a", "expert_c"])
    (fivek / "expert_z").mkdir()
    images.write_image(fivek / "expert_z" / "z.png", _photo(0, (8, 8)))
    with pytest.raises(ValueError, match=r"user 'expert_z': no file name in .*input.* match in .*expert_z"):
        data.read(str(fivek), ["expert_z"])
    with pytest.raises(ValueError, match="twice"):
        data.read(str(fivek), ["expert_a", "expert_a"])
    empty = tmp_path_factory.mktemp("no_users")
    with pytest.raises(ValueError, match="has no input/ folder"):
        data.users(str(empty))
    (empty / "input").mkdir()
    with pytest.raises(ValueError, match="has no user folders"):
        data.users(str(empty))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.users("nowhere")
    for bad in ("demo:photos", f"paired:{fivek},{fivek}"):
        with pytest.raises(ValueError, match="demo:styles"):
            data.parse_source(bad)


# --- demo:styles -----------------------------------------------------------------------------------


def test_demo_source_is_the_photos_under_every_preset():
    assert data.users("demo:styles") == styles.NAMES
    assert data.training_users("demo:styles:test") == styles.TRAIN
    assert data.count("demo:styles", styles.TRAIN) == len(demo.files("train")) * len(styles.TRAIN)
    photo = images.read_image(demo.files("test")[1])
    x, y = list(data.user_pairs("demo:styles:test", "noir"))[1]
    np.testing.assert_array_equal(x, photo)
    np.testing.assert_array_equal(y, styles.apply("noir", photo))
    liked = data.preferred("demo:styles:test", "vintage", image_size=24)
    np.testing.assert_array_equal(liked[1], data.square(styles.apply("vintage", photo), 24))
    (x, u), y = next(iter(data.dataset("demo:styles", styles.HELD_OUT, batch_size=6, image_size=16,
                                       training=True, seed=0)))
    assert set(u.numpy()) <= {0, 1, 2} and len(set(u.numpy())) > 1
    assert x.shape == y.shape == (6, 16, 16, 3)
    with pytest.raises(ValueError, match="splits"):
        data.parse_source("demo:styles:val")
