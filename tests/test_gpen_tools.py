"""GPEN's serving function and SavedModel, and the restore and degrade tools, with a stand-in generator."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from clitools import run
from common import data, export, images
from gpen_tf import serving

SIZE = 16


def identity_generator(size=SIZE):
    """A stand-in for the GPEN generator with its interface ([N, S, S, 3] in [-1, 1] -> the same):
    a 1x1 convolution set to the identity."""
    conv = keras.layers.Conv2D(3, 1)
    model = keras.Sequential([keras.Input((size, size, 3)), conv])
    conv.set_weights([np.eye(3)[None, None], np.zeros(3)])
    return model


def darkening_generator(size=SIZE):
    """Another stand-in: every value moved 0.5 towards -1 (black), so its effect is known."""
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Rescaling(0.75, offset=-0.25)])


def smooth_faces(n, h, w, seed=0):
    """uint8 [n, h, w, 3] gradients: smooth enough to survive a resize to 16 px and back."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = rng.uniform(40, 200, (n, 1, 1, 3))
    slope = rng.uniform(-30, 30, (n, 1, 1, 3))
    return np.round(base + slope * (x + y)[None, :, :, None]).astype(np.uint8)


def test_restore_keeps_the_shape_and_an_identity_generator_keeps_the_face():
    generator = identity_generator()
    same = smooth_faces(2, SIZE, SIZE)
    # Truncated to uint8 as the official FaceGAN does: a value that comes back a hair under its level
    # (float rounding of / 255 and * 255) drops by one; none goes up or further.
    kept = serving.restore_uint8(generator, same).numpy().astype(int) - same
    assert set(np.unique(kept)) <= {-1, 0} and (kept == 0).mean() > 0.5
    faces = smooth_faces(2, 30, 45)  # not square, not the model's size
    out = serving.restore_uint8(generator, faces).numpy()
    assert out.shape == faces.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - faces).max() <= 2  # down to 16 px and back: a smooth face survives
    darker = serving.restore_uint8(darkening_generator(), faces).numpy()
    np.testing.assert_allclose(darker, faces * 0.75, atol=2.5)  # x -> 0.75 x on the 0-255 scale


def test_exported_restorer_serves_any_size(tmp_path):
    # Not the identity nor x -> 0.75 x: their values sit on whole levels, where truncation to uint8,
    # as the official FaceGAN does it, turns a float ulp between eager and graph into a level.
    generator = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Rescaling(0.7, offset=-0.21)])
    path = serving.export_restorer(generator, str(tmp_path / "saved_model"),
                                   metadata=export.describe("GPEN"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for shape in [(1, 30, 45), (2, 40, 24), (1, SIZE, SIZE)]:
        faces = smooth_faces(*shape, seed=1)
        out = serve(images=tf.constant(faces))["images"].numpy()
        assert out.shape == faces.shape and out.dtype == np.uint8
        eager = serving.restore_uint8(generator, faces).numpy()
        assert np.abs(out.astype(int) - eager).max() <= 1 and (out == eager).mean() > 0.999


def test_size_must_match_the_generator():
    with pytest.raises(ValueError, match="size=32"):
        serving.restore_uint8(identity_generator(), smooth_faces(1, 8, 8), size=32)
    with pytest.raises(ValueError, match="uint8"):
        serving.restore_uint8(identity_generator(), np.zeros((1, 8, 8, 3), np.float32))


def test_restore_tool(tmp_path):
    model = serving.export_restorer(darkening_generator(), str(tmp_path / "saved_model"),
                                    metadata=export.describe("GPEN"))
    inputs = tmp_path / "faces"
    inputs.mkdir()
    face = smooth_faces(1, 30, 45)[0]
    images.write_image(inputs / "face.png", face)
    (inputs / "broken.jpg").write_bytes(b"not a jpeg")
    result = run("gpen_tf.restore", f"--model={model}", f"--input={inputs}",
                 f"--output={tmp_path / 'out'}", "--aligned", check=False)
    assert result.returncode == 1 and "broken.jpg" in result.stderr
    restored = images.read_image(tmp_path / "out" / "face.png")
    np.testing.assert_allclose(restored, face * 0.75, atol=2.5)


def test_degrade_tool(tmp_path):
    inputs = tmp_path / "faces"
    inputs.mkdir()
    faces = {"a.png": smooth_faces(1, 40, 30, seed=2)[0], "b.jpg": smooth_faces(1, 24, 24, seed=3)[0]}
    faces["copy_of_a.png"] = faces["a.png"]
    for name, face in faces.items():
        images.write_image(inputs / name, face)
    (inputs / "broken.png").write_bytes(b"not a png")
    result = run("gpen_tf.degrade", f"--input={inputs}", f"--output={tmp_path / 'low'}",
                 f"--clean_output={tmp_path / 'high'}", "--size=16", "--gray_prob=0", check=False)
    assert result.returncode == 1 and "broken.png" in result.stderr
    for name in faces:
        stem = name.split(".")[0] + ".png"
        low, high = (images.read_image(tmp_path / d / stem) for d in ("low", "high"))
        assert low.shape == high.shape == (16, 16, 3)
        face = images.read_image(inputs / name)  # the centred square, resized
        np.testing.assert_array_equal(high, data.resize(data.center_crop(face), 16).numpy())
        assert np.abs(low.astype(int) - high).mean() > 0.5
    # A degradation's seed is --seed and the image's pixels: the same face, the same degraded copy.
    low = {name: images.read_image(tmp_path / "low" / name) for name in ("a.png", "copy_of_a.png")}
    np.testing.assert_array_equal(low["a.png"], low["copy_of_a.png"])
    missing = run("gpen_tf.degrade", f"--input={tmp_path / 'nothing'}", f"--output={tmp_path / 'x'}",
                  check=False)
    assert missing.returncode == 2 and "nothing" in missing.stderr
