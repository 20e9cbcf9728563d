"""GPEN's whole-photo pipeline against the official `FaceEnhancement.process`, and OpenCV's arithmetic
as gpen_tf/opencv.py reproduces it (fixture: tools/make_pipeline_fixtures.py, OpenCV 5.1, PyTorch
2.14). The networks are the fixtures' small ones (gpen_G.pth, rrdbnet_x2.pth, ParseNet from the seed
of parsenet.npz), the detections fixed; see the fixture script."""

import pathlib

import numpy as np
import pytest
from PIL import Image

from clitools import run
from common import images, porting, pth
from gpen_tf import (background, checkpoints, detection, faces, masks, official, opencv, parsenet, retinaface,
                     rrdbnet, serving)
from random_state import fixture_state
from test_gpen_tools import darkening_generator

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
FIXTURE = np.load(FIXTURES / "pipeline.npz")
PARSE = dict(in_size=128, out_size=128, min_feat_size=32, base_ch=8, parsing_ch=19, res_depth=2, ch_range=(8, 32))
SR = dict(num_feat=8, num_block=2, num_grow_ch=4)


def test_warps_resizes_blur_and_blend_are_opencvs():
    f = FIXTURE
    image, values, matrix = f["cv_image"], f["cv_values"], f["cv_matrix"]
    np.testing.assert_array_equal(opencv.warp_affine(image, matrix, 64, 50), f["cv_warp_image"])
    np.testing.assert_allclose(opencv.warp_affine(values, matrix, 64, 50), f["cv_warp_values"], atol=1e-6)
    np.testing.assert_array_equal(opencv.warp_affine(image, matrix, 64, 50, window=(5, 7, 40, 30)),
                                  f["cv_warp_image"][7:30, 5:40])
    np.testing.assert_allclose(opencv.invert_affine(opencv.invert_affine(matrix)), matrix, atol=1e-12)
    np.testing.assert_array_equal(opencv.resize_linear(image, 142, 114), f["cv_up_image"])
    np.testing.assert_array_equal(opencv.resize_linear(image, 30, 40), f["cv_down_image"])
    np.testing.assert_allclose(opencv.resize_linear(values, 20, 27), f["cv_down_values"], atol=1e-5)
    factor = opencv.resize_linear(image, 26, 21, factor=0.37, dtype=np.float32)
    np.testing.assert_allclose(factor, f["cv_factor_image"], atol=1e-3)
    np.testing.assert_array_equal(opencv.smooth(image), f["cv_smooth"])
    np.testing.assert_array_equal(opencv.add_weighted(image, 0.7, image[::-1]), f["cv_weighted"])


@pytest.mark.parametrize("name, size", [("large", (1200, 1600)), ("small", (700, 900))])
def test_retinaface_sees_the_photo_as_the_official_detector(name, size):
    astronaut = images.read_image(pathlib.Path(__file__).parents[1] / "common" / "demo_data" / "astronaut.jpg")
    photo = np.tile(astronaut, (-(-size[0] // 384), -(-size[1] // 384), 1))[:size[0], :size[1]]
    image, ss = detection.RetinaFace(network=None).preprocess(photo)
    assert image.shape == tuple(FIXTURE[f"detector_{name}_shape"])  # 750 x 1000 over 1500 px
    assert ss == (1000 / 1600 if name == "large" else 1.0)
    # (float32 weights: within 0.01 of a level)
    np.testing.assert_allclose(image[::50, ::50], FIXTURE[f"detector_{name}_input"], atol=1e-2)


@pytest.fixture(scope="module")
def networks():
    """(restore: uint8 crops -> restored, the ParseNet mask, the x2 background network) of the fixtures."""
    config, state, _ = checkpoints.read(str(FIXTURES / "gpen_G.pth"))
    generator = official.build(config, state).generator_ema
    parse = parsenet.build_parsenet(**PARSE)
    port = porting.Porting(fixture_state(np.load(FIXTURES / "parsenet.npz"), "parsenet", seed=7), "ParseNet")
    parsenet.port(parse, port)
    port.finish()
    sr = rrdbnet.build_rrdbnet(2, **SR)
    port = porting.Porting(pth.load_state_dict(str(FIXTURES / "rrdbnet_x2.pth"), key="params_ema"))
    rrdbnet.port(sr, port)
    port.finish()
    return (lambda crops: serving.restore_uint8(generator, crops, config["size"]).numpy(),
            masks.ParseNet(parse, PARSE["in_size"]), sr)


@pytest.mark.parametrize("case, alpha", [("sr", 1.0), ("plain", 0.7)])
def test_the_whole_photo_equals_face_enhancement_process(networks, case, alpha):
    restore, mask, sr = networks
    fixed = detection.retinaface_faces(FIXTURE["dets"], FIXTURE["landms"])
    upscale = (lambda photo: background.upscale(sr, photo, 2, tile=64)) if case == "sr" else None
    restorer = faces.PhotoRestorer(restore, size=64, detector=lambda photo: fixed, mask=mask,
                                   background=upscale, alpha=alpha)
    result = restorer(FIXTURE[f"{case}_photo"])
    official_photo = FIXTURE[f"{case}_restored"]
    assert result.photo.shape == official_photo.shape == (320, 320, 3)
    assert [min(face.box[2:]) < faces.SMALL_FACE for face in result.faces] == [True, False]
    difference = np.abs(result.photo.astype(int) - official_photo)
    # Measured: at most 1 level, on 0.008% (sr) and 0.26% (plain) of the values; the rest equal.
    assert difference.max() <= 2 and (difference > 0).mean() < 0.01


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Small exports of GPEN (darkening), ParseNet, RealESRNet x2 and RetinaFace (MobileNet, random)."""
    folder = tmp_path_factory.mktemp("pipeline")
    paths = {name: str(folder / name) for name in ("gpen", "parsenet", "sr", "retinaface")}
    serving.export_restorer(darkening_generator(), paths["gpen"] + "/saved_model",
                            metadata={"model": "GPEN", "config": {"size": 16}})
    parse = parsenet.build_parsenet(**PARSE)
    parsenet.write(parse, PARSE, paths["parsenet"])
    sr = background.convert(dict(scale=2, **SR), pth.load_state_dict(str(FIXTURES / "rrdbnet_x2.pth"),
                                                                     key="params_ema"))
    background.write(sr, dict(scale=2, **SR), paths["sr"])
    retinaface.write(retinaface.build_retinaface("mobilenet0.25"), {"backbone": "mobilenet0.25"},
                     paths["retinaface"])
    return paths, sr


def test_the_tool_upscales_restores_and_names_a_photo_without_a_face(exports, tmp_path):
    paths, sr = exports
    inputs = tmp_path / "photos"
    inputs.mkdir()
    astronaut = np.asarray(Image.open(pathlib.Path(__file__).parents[1] / "common" / "demo_data" / "astronaut.jpg"))
    images.write_image(inputs / "astronaut.png", astronaut[:200, 100:300])
    nobody = astronaut[300:, :120]
    images.write_image(inputs / "nobody.png", nobody)
    result = run("gpen_tf.restore", f"--model={paths['gpen']}", f"--input={inputs}", f"--output={tmp_path / 'out'}",
                 f"--mask={paths['parsenet']}", f"--background={paths['sr']}", "--sr_tile=64")
    assert "astronaut.png: 1 face restored (400 x 400," in result.stdout
    assert "nobody.png: no face found, written upscaled (240 x 168," in result.stderr
    upscaled = background.upscale(sr, nobody, 2, tile=64)
    assert np.abs(images.read_image(tmp_path / "out" / "nobody.png").astype(int) - upscaled).max() <= 1


def test_an_export_of_the_wrong_network_is_refused_in_one_line(exports, tmp_path):
    paths, _ = exports
    images.write_image(tmp_path / "photo.png", np.zeros((40, 40, 3), np.uint8))
    result = run("gpen_tf.restore", f"--model={paths['gpen']}", f"--input={tmp_path / 'photo.png'}",
                 f"--output={tmp_path / 'out'}", f"--detector={paths['retinaface']}",
                 f"--mask={paths['retinaface']}", check=False)
    assert result.returncode == 2 and not (tmp_path / "out" / "photo.png").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --mask={paths['retinaface']}: ")
    assert "RetinaFace model, not a ParseNet one" in lines[0]
