import os
import pickle

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFile

from common import images
from common.images import (
    ImageReadError,
    list_images,
    process_files,
    read_image,
    tile_grid,
    write_image,
)


def random_rgb(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def touch_image(path, value=0):
    Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(path)
    return path


# --- read_image / write_image -------------------------------------------------


def test_png_round_trip_is_exact(tmp_path):
    image = random_rgb()
    write_image(tmp_path / "a.png", image)
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 1)])
def test_write_grayscale_arrays_read_back_as_equal_channels(tmp_path, shape):
    gray = np.arange(12, dtype=np.uint8).reshape(shape) * 20
    write_image(tmp_path / "g.png", gray)
    out = read_image(tmp_path / "g.png")
    assert out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray.reshape(3, 4))


def test_grayscale_png_reads_as_three_equal_channels(tmp_path):
    gray = np.array([[0, 10], [128, 255]], np.uint8)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=-1))


def test_bilevel_image_reads_as_black_and_white(tmp_path):
    img = Image.new("1", (2, 1))
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), [[[0, 0, 0], [255, 255, 255]]])


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.array([[[200, 10, 30, 0], [200, 10, 30, 255], [0, 0, 0, 128]]], np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [200, 10, 30])
    assert np.all(np.abs(out[0, 2].astype(int) - 127) <= 1)


def test_gray_with_alpha_is_composited_over_white(tmp_path):
    la = np.array([[[50, 0], [50, 255]]], np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png"), [[[255] * 3, [50] * 3]])


def test_palette_with_transparent_index_reads_white(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "p.png", transparency=0)
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), [[[255, 255, 255], [40, 50, 60]]])


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    wide = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    assert Image.open(tmp_path / "w.png").mode.startswith("I")
    out = read_image(tmp_path / "w.png")
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 2])


def test_cmyk_converts_to_rgb(tmp_path):
    Image.new("CMYK", (2, 2), (255, 0, 0, 0)).save(tmp_path / "c.tif")
    out = read_image(tmp_path / "c.tif")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 0], [0, 255, 255])


def test_exif_orientation_is_applied(tmp_path):
    # Left half red, right half blue, stored 16 high by 32 wide. Orientation 6
    # means "rotate 90 degrees clockwise to display": red ends up on top.
    pixels = np.zeros((16, 32, 3), np.uint8)
    pixels[:, :16] = [255, 0, 0]
    pixels[:, 16:] = [0, 0, 255]
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "o.jpg", exif=exif, quality=95)

    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (32, 16, 3)
    top, bottom = out[4:12].mean(axis=(0, 1)), out[20:28].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50


def test_truncated_jpeg_raises_naming_file(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(random_rgb(64, 64)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg") as info:
        read_image(path)
    assert "truncated" in str(info.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_text_file_named_png_raises_naming_it(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(ImageReadError, match="notes.png.*not an image"):
        read_image(path)


def test_missing_file_and_directory_raise(tmp_path):
    with pytest.raises(ImageReadError, match="nothere.png.*no such file"):
        read_image(tmp_path / "nothere.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


def test_unsupported_mode_raises(tmp_path):
    Image.fromarray(np.zeros((2, 2), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="f.tif.*unsupported image mode 'F'"):
        read_image(tmp_path / "f.tif")


def test_image_read_error_survives_pickling():
    err = pickle.loads(pickle.dumps(ImageReadError("x.png", "broken")))
    assert str(err) == "cannot read image x.png: broken" and err.path == "x.png"


def test_write_format_follows_extension(tmp_path):
    write_image(tmp_path / "a.JPG", random_rgb())
    write_image(tmp_path / "noext", random_rgb())
    assert Image.open(tmp_path / "a.JPG").format == "JPEG"
    assert Image.open(tmp_path / "noext").format == "PNG"
    with pytest.raises(ValueError, match="unknown image extension"):
        write_image(tmp_path / "a.xyz", random_rgb())


def test_write_creates_folders_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "deep" / "er" / "a.png"
    write_image(path, random_rgb())
    assert os.listdir(path.parent) == ["a.png"]


def test_write_rejects_wrong_dtype_or_shape(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 4), np.uint8))
    assert not os.listdir(tmp_path)


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    write_image(path, random_rgb(seed=1))
    before = path.read_bytes()

    def crash(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        write_image(path, random_rgb(seed=2))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.png"]


# --- list_images --------------------------------------------------------------


def test_list_images_sorts_and_skips_non_images_and_hidden(tmp_path):
    for name in ["b.png", "a.JPG", "c.webp", ".hidden.png", "notes.txt", "noext"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()  # listed, so that reading it names it (process_files below)
    names = [os.path.basename(p) for p in list_images(tmp_path)]
    assert names == ["a.JPG", "b.png", "c.webp", "folder.png"]


def test_list_images_single_file_and_recursive(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ["z.png", "sub/a.png", ".git/x.png"]:
        (tmp_path / name).write_bytes(b"")
    assert list_images(tmp_path / "z.png") == [str(tmp_path / "z.png")]
    assert list_images(tmp_path) == [str(tmp_path / "z.png")]
    assert list_images(tmp_path, recursive=True) == [str(tmp_path / "sub" / "a.png"), str(tmp_path / "z.png")]


def test_list_images_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(ValueError, match="no image files.*empty"):
        list_images(tmp_path / "empty")


def test_extensions_are_lowercase_and_complete():
    assert set(images.IMAGE_EXTENSIONS) == {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


# --- tile_grid ----------------------------------------------------------------


def test_tile_grid_layout_and_gap(tmp_path):
    a, b, c, d = (np.full((3, 4, 3), v, np.uint8) for v in (10, 20, 30, 40))
    grid = tile_grid([[a, b], [c, d]], gap=2)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 2 + 2, 4 * 2 + 2, 3)
    assert (grid[0:3, 0:4] == 10).all() and (grid[0:3, 6:10] == 20).all()
    assert (grid[5:8, 0:4] == 30).all() and (grid[5:8, 6:10] == 40).all()
    assert (grid[3:5] == 255).all() and (grid[:, 4:6] == 255).all()
    np.testing.assert_array_equal(tile_grid([[a, b]], gap=0)[:, 4:], b)


def test_tile_grid_rejects_ragged_rows_or_sizes():
    a = np.zeros((3, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="every row"):
        tile_grid([[a, a], [a]])
    with pytest.raises(ValueError, match="every image"):
        tile_grid([[a, np.zeros((3, 5, 3), np.uint8)]])


# --- process_files ------------------------------------------------------------


def invert(image):
    return 255 - image


def test_process_files_skips_corrupt_file(tmp_path, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    touch_image(src / "a.png", 10)
    (src / "b.jpg").write_bytes(b"garbage")
    touch_image(src / "c.bmp", 30)
    (src / "d.jpg").mkdir()  # a folder named like an image is named and counted, not passed over

    assert process_files(src, dst, invert) == 2
    assert sorted(os.listdir(dst)) == ["a.png", "c.png"]
    np.testing.assert_array_equal(read_image(dst / "a.png"), np.full((4, 4, 3), 245, np.uint8))
    np.testing.assert_array_equal(read_image(dst / "c.png"), np.full((4, 4, 3), 225, np.uint8))
    assert (src / "b.jpg").read_bytes() == b"garbage"
    captured = capsys.readouterr()
    assert "b.jpg" in captured.err and f"{src / 'd.jpg'}: is a directory, not an image file" in captured.err
    assert f"wrote 2 images to {dst}; 2 failed: b.jpg, d.jpg" in captured.out


def test_a_file_the_model_fails_on_does_not_stop_the_others(tmp_path, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name, value in [("a.png", 10), ("big.png", 20), ("c.png", 30)]:
        touch_image(src / name, value)
    written = []

    def fn(image):
        assert sorted(os.listdir(dst)) == written if dst.exists() else not written  # written when made
        if image[0, 0, 0] == 20:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor\ndetails")
        written.append("a.png" if image[0, 0, 0] == 10 else "c.png")
        return invert(image)

    assert process_files(src, dst, fn) == 1
    assert sorted(os.listdir(dst)) == ["a.png", "c.png"]
    assert f"skipped: {src / 'big.png'}: OOM when allocating tensor\n" in capsys.readouterr().err


def test_process_files_single_file_with_suffix(tmp_path):
    touch_image(tmp_path / "x.png", 0)
    assert process_files(tmp_path / "x.png", tmp_path / "out", invert, suffix="_fake.jpg") == 0
    assert os.listdir(tmp_path / "out") == ["x_fake.jpg"]
    assert Image.open(tmp_path / "out" / "x_fake.jpg").format == "JPEG"


@pytest.mark.parametrize("via_symlink", [False, True])
@pytest.mark.parametrize("names", [("a.jpg", "b.png"), ("a.jpg", "b.jpg")])  # no clash of names too
def test_process_files_refuses_the_input_folder_as_output(tmp_path, via_symlink, names):
    src = tmp_path / "in"
    src.mkdir()
    touch_image(src / names[0], 10)
    touch_image(src / names[1], 20)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out_dir = src
    if via_symlink:
        out_dir = tmp_path / "link"
        out_dir.symlink_to(src)
    calls = []

    with pytest.raises(ValueError, match="holds the inputs: choose a different --output"):
        process_files(src, out_dir, lambda im: calls.append(1) or im)
    assert calls == []
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_process_files_refuses_duplicate_stems(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    touch_image(src / "a.jpg")
    touch_image(src / "a.png")
    with pytest.raises(ValueError, match="a.jpg.*a.png"):
        process_files(src, tmp_path / "out", invert)
    assert not (tmp_path / "out").exists()


def test_process_files_refuses_a_file_as_output_and_an_input_hard_linked_there(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    touch_image(src / "a.png", 10)
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(ValueError, match="output folder .*taken is a file"):
        process_files(src, tmp_path / "taken", invert)
    out = tmp_path / "out"
    out.mkdir()
    os.link(src / "a.png", out / "a.png")
    with pytest.raises(ValueError, match="would overwrite the input"):
        process_files(src, out, invert)
    assert read_image(src / "a.png")[0, 0, 0] == 10
