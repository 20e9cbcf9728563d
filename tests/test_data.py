"""The tf.data pipeline: sources, joint augmentation that keeps pairs aligned, bad files, scaling."""

import io
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from common import data, demo, images


def _photo(seed, size=(40, 48)):
    return np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)


@pytest.fixture
def ab_dir(tmp_path):
    """Five A|B files whose B is the negative of A, plus one corrupt file."""
    for i in range(5):
        a = _photo(i)
        images.write_image(tmp_path / f"{i}.png", np.concatenate([a, 255 - a], 1))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    return tmp_path


def test_pairs_stay_aligned_through_crop_and_flip(ab_dir):
    ds = data.pipeline(f"ab:{ab_dir}", batch_size=2, image_size=32, load_size=40, training=True,
                       seed=3, repeat=True)
    for a, b in ds.take(6):
        assert a.shape == b.shape == (2, 32, 32, 3)
        # B = 255 - A maps to b = -a in [-1, 1] up to one level of rounding after the resize;
        # on these noise images any misalignment would be off by far more.
        np.testing.assert_allclose(a.numpy(), -b.numpy(), atol=2.01 / 255)


def test_augmentation_is_random_but_seeded(ab_dir):
    def crops(seed):
        ds = data.pipeline(f"ab:{ab_dir}", batch_size=5, image_size=32, load_size=48,
                           training=True, seed=seed)
        return next(iter(ds))[0].numpy()
    np.testing.assert_array_equal(crops(1), crops(1))
    assert not np.array_equal(crops(1), crops(2))


def test_evaluation_keeps_order_and_range(ab_dir):
    ds = data.pipeline(f"ab:{ab_dir}", batch_size=2, image_size=40, training=False, cache=False)
    batches = list(ds)
    assert [int(a.shape[0]) for a, _ in batches] == [2, 2, 1]  # the broken file is skipped
    first = batches[0][0].numpy()[0]
    expected = data.to_range(data.resize(_photo(0), 40), (-1, 1)).numpy()
    np.testing.assert_allclose(first, expected, atol=1e-6)
    assert first.min() >= -1 and first.max() <= 1


def test_bad_image_is_skipped_with_its_name_or_fatal(ab_dir, caplog):
    list(data.pipeline(f"ab:{ab_dir}", batch_size=8, image_size=32, training=False))
    assert "broken.png" in caplog.text
    with pytest.raises(tf.errors.OpError, match="broken.png"):
        list(data.pipeline(f"ab:{ab_dir}", batch_size=8, image_size=32, training=False,
                           on_bad_image="fatal"))


def _read_all(folder, **kwargs):
    return [im.numpy() for im in data.read(str(folder), **kwargs)[0]]


def test_native_decoding_gives_read_images_pixels_without_pillow(tmp_path, monkeypatch):
    photo = _photo(0, (16, 16))
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=90)  # TF's default, fast DCT is off here
    Image.fromarray(photo[..., 0]).save(tmp_path / "b.jpg", quality=90)
    Image.fromarray(photo).save(tmp_path / "c.png")
    Image.fromarray(photo[..., 0]).save(tmp_path / "d.png")
    Image.fromarray(photo).quantize(16).save(tmp_path / "e.png")
    Image.fromarray(photo).save(tmp_path / "f.bmp")
    files = images.list_images(tmp_path)
    assert [data._decoder(f) for f in files] == ["jpeg"] * 2 + ["image"] * 4
    expected = [images.read_image(f) for f in files]
    monkeypatch.setattr(images, "read_image", None)  # any Pillow reading would fail
    decoded = _read_all(tmp_path)
    for got, want in zip(decoded, expected, strict=True):
        np.testing.assert_array_equal(got, want)  # bit for bit, JPEG included


def test_corrupt_file_on_the_native_path_is_named(tmp_path, caplog):
    for i in range(2):
        images.write_image(tmp_path / f"{i}.jpg", _photo(i, (32, 32)))
    whole = (tmp_path / "0.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[:-40])  # the header is whole: TF gets to decode it
    assert data._decoder(tmp_path / "cut.jpg") == "jpeg"
    assert len(_read_all(tmp_path)) == 2
    assert "cut.jpg" in caplog.text and "truncated" in caplog.text
    with pytest.raises(tf.errors.OpError, match="cut.jpg"):
        _read_all(tmp_path, on_bad_image="fatal")


def _png_with_late_exif(image, orientation):
    """PNG bytes with an eXIf chunk after the pixels, which Pillow reads only when decoding."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes().removeprefix(b"Exif\x00\x00")
    body = b"eXIf" + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    png = buffer.getvalue()
    return png[:-12] + chunk + png[-12:]  # just before IEND


def test_files_tf_cannot_match_go_through_pillow(tmp_path):
    photo = Image.fromarray(_photo(0, (16, 24)))
    exif = photo.getexif()
    exif[0x0112] = 6  # shown turned a quarter: read_image gives 24 x 16
    photo.save(tmp_path / "a_turned.jpg", exif=exif)
    (tmp_path / "b_turned.png").write_bytes(_png_with_late_exif(photo, 6))
    photo.convert("CMYK").save(tmp_path / "c_cmyk.jpg")
    photo.putalpha(128)
    photo.save(tmp_path / "d_alpha.png")
    photo.save(tmp_path / "e.tif")
    files = images.list_images(tmp_path)
    assert [data._decoder(f) for f in files] == [""] * 5
    decoded = _read_all(tmp_path)
    for got, path in zip(decoded, files, strict=True):
        np.testing.assert_array_equal(got, images.read_image(path))
    assert [im.shape[:2] for im in decoded[:2]] == [(24, 16)] * 2


def test_paired_folders_match_by_name(tmp_path):
    for name, seed in (("x", 1), ("y", 2), ("only_a", 3)):
        images.write_image(tmp_path / "in" / f"{name}.png", _photo(seed))
        if name != "only_a":
            images.write_image(tmp_path / "out" / f"{name}.bmp", 255 - _photo(seed))
    ds, n = data.read(f"paired:{tmp_path}/in,{tmp_path}/out")
    pairs = list(ds)
    assert n == 2 and len(pairs) == 2
    for a, b in pairs:  # each input met its own negative
        np.testing.assert_array_equal(a.numpy().astype(int) + b.numpy(), 255)


def test_paired_images_of_different_sizes_are_named(tmp_path):
    images.write_image(tmp_path / "a" / "p.png", _photo(0, (20, 20)))
    images.write_image(tmp_path / "b" / "p.png", _photo(0, (20, 24)))
    with pytest.raises(tf.errors.OpError, match="differs from its partner"):
        list(data.read(f"paired:{tmp_path}/a,{tmp_path}/b", on_bad_image="fatal")[0])


def test_unpaired_epoch_is_the_larger_domain(tmp_path):
    for i in range(3):
        images.write_image(tmp_path / "a" / f"{i}.png", _photo(i))
    images.write_image(tmp_path / "b" / "0.png", _photo(9))
    ds, n = data.read(f"unpaired:{tmp_path}/a,{tmp_path}/b")
    assert n == 3 and len(list(ds)) == 3


@pytest.mark.parametrize("text, message", [
    ("/no/such/dir", "does not exist"),
    ("paired:/tmp", "two folders"),
    ("demo:nothing", "unknown demo data"),
    ("tfds:", "names no dataset"),
    ("", "no data source"),
])
def test_bad_sources_say_what_is_wrong(text, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        data.parse_source(text)


def test_tfds_source_with_mock_data():
    with tfds.testing.mock_data(num_examples=5):
        ds = data.pipeline("tfds:mnist", batch_size=5, image_size=16, training=False,
                           value_range=(0, 1), channels=1)
        batch = next(iter(ds))
    assert batch.shape == (5, 16, 16, 1)
    assert 0.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1.0


def test_demo_sources():
    train, test = demo.files("train"), demo.files("test")
    assert train and test and not set(train) & set(test)
    gray, color = next(iter(data.read("demo:gray2color:test")[0]))
    assert gray.shape == color.shape
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])  # three equal channels
    for edges, photo in data.read("demo:edges2photo")[0]:
        assert edges.dtype == tf.uint8 and edges.shape == photo.shape
        light = np.mean(edges.numpy() > 128)
        assert 0.6 < light < 0.99  # dark lines on mostly white paper
    for dull, photo in data.read("demo:enhance:test")[0]:
        dull, photo = dull.numpy() / 255.0, photo.numpy() / 255.0
        np.testing.assert_allclose(  # the known degradation, to one level of rounding
            dull, np.clip((0.1 + 0.7 * photo ** 1.8) * [0.85, 1.0, 1.1], 0, 1), atol=0.5 / 255 + 1e-6)
        assert dull.std() < photo.std()  # flatter
    with pytest.raises(ValueError, match="splits"):
        demo.files("validation")


def test_center_crop_keeps_the_middle_square():
    image = tf.reshape(tf.range(6 * 10, dtype=tf.int32), (6, 10, 1))
    largest = data.center_crop(image).numpy()
    np.testing.assert_array_equal(largest, image.numpy()[:, 2:8])  # 6x6, two columns cut each side
    np.testing.assert_array_equal(data.center_crop(image, 4).numpy(), image.numpy()[1:5, 3:7])
    assert data.center_crop(image, 100).shape == (6, 6, 1)  # never larger than the image


def test_center_crop_then_resize_keeps_the_aspect(tmp_path):
    # Left and right thirds black, middle white: the centred square is all white, a stretch is not.
    wide = np.zeros((30, 90, 3), np.uint8)
    wide[:, 30:60] = 255
    images.write_image(tmp_path / "wide.png", wide)
    ds = data.pipeline(str(tmp_path), batch_size=1, image_size=8, training=False,
                       value_range=(0, 1), center_crop_size=0)
    assert float(tf.reduce_min(next(iter(ds)))) == 1.0


def test_list_files_select_a_split(tmp_path):
    for name in ("a", "b", "c"):
        images.write_image(tmp_path / f"{name}.png", _photo(0, (8, 8)))
    (tmp_path / "test.txt").write_text("c.tif\nA\n")
    with pytest.raises(ValueError, match="1 names in .*test.txt have no image"):
        data.read(f"{tmp_path}@{tmp_path / 'test.txt'}")
    (tmp_path / "test.txt").write_text("c.tif\n\na\n")  # names, with or without extension
    assert data.read(f"{tmp_path}@{tmp_path / 'test.txt'}")[1] == 2
    with pytest.raises(FileNotFoundError, match="list file"):
        data.parse_source(f"paired:{tmp_path}@nolist.txt,{tmp_path}")


def test_pad_fit_keeps_the_aspect_and_mirrors_the_rest(tmp_path):
    # 20x40 photo -> 16x32 (long side 32), mirrored at the bottom up to 32x32.
    photo = _photo(1, (20, 40))
    images.write_image(tmp_path / "wide.png", photo)
    batch = next(iter(data.pipeline(str(tmp_path), batch_size=1, image_size=32, training=False,
                                    fit="pad", value_range=(0, 255))))[0].numpy()
    top = data.resize_long_side(photo, 32).numpy()
    assert top.shape == (16, 32, 3)
    np.testing.assert_array_equal(batch[:16], top)
    np.testing.assert_array_equal(batch[16:], top[::-1])  # symmetric: the edge row repeats


def test_quarter_turns_keep_pairs_aligned_and_unpaired_draws_differ(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    for i in range(3):
        a = _photo(i, (16, 24))
        images.write_image(tmp_path / "a" / f"{i}.png", a)
        images.write_image(tmp_path / "b" / f"{i}.png", 255 - a)
    turns = set()
    for kind in ("paired", "unpaired"):
        ds = data.pipeline(f"{kind}:{tmp_path / 'a'},{tmp_path / 'b'}", batch_size=1,
                           image_size=24, training=True, fit="pad", rotate=True, seed=1,
                           repeat=True, value_range=(0, 255))
        same = [np.abs(a + b - 255).max() <= 1 for a, b in ds.take(24)]
        if kind == "paired":
            assert all(same)
            # A landscape result is mirrored at the bottom (row 16 repeats row 15), a portrait one
            # (a quarter turn) at the right.
            turns = {bool(np.array_equal(a[0, 16], a[0, 15])) for a, _ in ds.take(24)}
        else:
            assert not all(same)
    assert turns == {True, False}  # portrait and landscape results: the images were turned
