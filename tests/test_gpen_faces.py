"""GPEN on whole photos: the template, alignment, blending, MTCNN on a real photo, and the restore tool.

The photo: scikit-image's astronaut (a test dependency) pasted twice, at two scales, onto a smooth
background. The "restorers" are stand-ins with a known effect, so that where a face went can be seen.
"""

import numpy as np
import pytest
import tensorflow as tf
from skimage import data as skdata

from clitools import run
from common import export, images
from gpen_tf import detection, faces, opencv, serving
from test_gpen_tools import darkening_generator

# (scale, (x, y) of the top-left corner): MTCNN's box of the first face is 104 px wide, of the second
# 42 px, under faces.SMALL_FACE.
PLACES = ((1.25, (40, 60)), (0.5, (710, 480)))
CANVAS = (760, 980)  # height, width


def _resize(image, scale):
    size = [int(round(image.shape[0] * scale)), int(round(image.shape[1] * scale))]
    return tf.cast(tf.round(tf.image.resize(image, size, antialias=True)), tf.uint8).numpy()


@pytest.fixture(scope="module")
def photo():
    """(the two-face photo, where each pasted astronaut lies: (scale, x, y, h, w))."""
    y, x = np.meshgrid(np.linspace(0, 1, CANVAS[0]), np.linspace(0, 1, CANVAS[1]), indexing="ij")
    canvas = np.stack([90 + 60 * x, 120 + 40 * y, 150 - 50 * x * y], -1).round().astype(np.uint8)
    astronaut = skdata.astronaut()
    placed = []
    for scale, (left, top) in PLACES:
        pasted = _resize(astronaut, scale)
        h, w = pasted.shape[:2]
        canvas[top:top + h, left:left + w] = pasted
        placed.append((scale, left, top, h, w))
    return canvas, placed


@pytest.fixture(scope="module")
def detector():
    return detection.MTCNN()


def test_template_is_the_official_reference_at_the_models_size():
    # get_reference_facial_points((512, 512), 0.25, (0, 0), True): the 96 x 112 points + (8, 0) + 28,
    # times 512 / 168.
    points = faces.template(512)
    np.testing.assert_allclose(points[0], [(30.29459953 + 36) * 512 / 168, (51.69630051 + 28) * 512 / 168])
    np.testing.assert_allclose(faces.template(256), points / 2)


def test_similarity_recovers_a_rotation_scale_and_shift():
    angle, scale, shift = np.deg2rad(25), 1.7, np.array([12.0, -4.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = faces.REFERENCE_POINTS
    matrix = faces.similarity(src, src @ rotation.T + shift)
    np.testing.assert_allclose(matrix, np.hstack([rotation, shift[:, None]]), atol=1e-9)
    np.testing.assert_allclose(opencv.invert_affine(matrix) @ np.append(matrix @ [3.0, 5.0, 1.0], 1), [3, 5])


class _FakeDetector:
    def __init__(self, found):
        self.found = found

    def detect_faces(self, photo):
        return self.found


def _detection(x, y, w, h, confidence=0.99):
    points = {name: (x + w * fx, y + h * fy) for name, (fx, fy) in zip(
        detection.LANDMARKS, [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)])}
    return {"box": [x, y, w, h], "confidence": confidence, "keypoints": points}


def test_weak_and_tiny_detections_are_left_out_and_the_largest_comes_first():
    detector = detection.MTCNN(_FakeDetector([
        _detection(0, 0, 40, 50), _detection(100, 0, 80, 90), _detection(0, 100, 60, 60, 0.5),
        _detection(200, 200, 20, 30)]))
    found = detector(np.zeros((300, 300, 3), np.uint8))
    assert [f.box for f in found] == [(100, 0, 80, 90), (0, 0, 40, 50), (200, 200, 20, 30)]
    assert found[0].landmarks.shape == (5, 2)
    restored = faces.PhotoRestorer(lambda crops: crops, size=32, detector=detector)(
        np.zeros((300, 300, 3), np.uint8))
    assert [f.box for f in restored.faces] == [(100, 0, 80, 90), (0, 0, 40, 50)]  # 20 px < min_face


def test_overlapping_faces_take_the_larger_mask_and_the_rest_stays_exact():
    photo = np.full((120, 160, 3), 77, np.uint8)
    size = 64
    # Two faces 40 px apart, each its crop at scale 1. Where both masks are full the first face keeps
    # the pixel; the second takes it where its mask is the larger (where the first one fades out).
    shifts = [np.array([[1.0, 0, -20], [0, 1, -20]]), np.array([[1.0, 0, -60], [0, 1, -20]])]
    pasted = faces.paste(photo, [np.full((size, size, 3), v, np.uint8) for v in (10, 200)],
                         [faces.feather(size)] * 2, shifts)
    assert pasted[52, 52].tolist() == [10] * 3 and pasted[52, 92].tolist() == [200] * 3  # centres
    assert pasted[52, 70].tolist() == [10] * 3 and pasted[52, 81].tolist() == [200] * 3
    assert (pasted[:, 130:] == 77).all() and (pasted[100:] == 77).all()  # far from both: untouched


def test_both_faces_are_found_aligned_and_put_back_in_place(photo, detector):
    canvas, placed = photo
    alone = detector(skdata.astronaut())[0].landmarks
    restorer = faces.PhotoRestorer(lambda crops: crops, size=128, detector=detector)  # the identity
    result = restorer(canvas)
    assert len(result.faces) == 2 and result.photo.shape == canvas.shape
    for (scale, left, top, _, _), face in zip(placed, result.faces):  # largest first, as placed
        eyes = np.linalg.norm(alone[1] - alone[0]) * scale
        assert np.abs(face.landmarks - (alone * scale + [left, top])).max() < 0.15 * eyes
    # Each crop is the face on the template: its eyes where the template has them.
    again = detector(result.crops[0])[0].landmarks
    assert np.abs(again - faces.template(128)).max() < 0.1 * 128
    # The identity restorer gives back the photo, but for two bilinear warps in the face windows, and
    # for the 3 x 3 blur of the face whose box is under 100 px (the official rule for small faces).
    difference = np.abs(result.photo.astype(int) - canvas)
    assert [min(face.box[2:]) >= faces.SMALL_FACE for face in result.faces] == [True, False]
    detail = []  # the share of each face's fine detail kept: energy of second differences, after / before
    for face in result.faces:
        x, y, w, h = face.box
        before, after = (np.diff(image[y:y + h, x:x + w].astype(float), 2, axis=0)
                         for image in (canvas, result.photo))
        detail.append((after ** 2).mean() / (before ** 2).mean())
    assert difference.mean() < 0.5 and detail[1] < 0.8 * detail[0]  # measured 0.26 against 0.38


def test_pixels_away_from_the_faces_are_kept_exactly(photo, detector):
    canvas, placed = photo
    darker = faces.PhotoRestorer(lambda crops: (crops * 0.5).astype(np.uint8), size=128,
                                 detector=detector)(canvas)
    changed = np.any(darker.photo != canvas, axis=-1)
    for scale, left, top, h, w in placed:
        assert changed[top:top + h, left:left + w].mean() > 0.05  # the face got darker
    outside = np.ones(changed.shape, bool)
    for face in darker.faces:  # far from every face: 1.5 box sizes around its box
        x, y, w, h = face.box
        outside[max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = False
    assert outside.mean() > 0.5 and not changed[outside].any()
    nobody = np.ascontiguousarray(canvas[:400, 600:])  # background only
    empty = faces.PhotoRestorer(lambda crops: crops * 0, size=128, detector=detector)(nobody)
    assert empty.faces == [] and np.array_equal(empty.photo, nobody)


def test_the_tool_restores_every_face_of_whole_photos(photo, tmp_path):
    # (Aligned crops, --aligned, are test_gpen_tools.py's test_restore_tool.)
    model = serving.export_restorer(darkening_generator(), str(tmp_path / "saved_model"),
                                    metadata=export.describe("GPEN", {"size": 16}))
    inputs = tmp_path / "photos"
    inputs.mkdir()
    canvas, _ = photo
    images.write_image(inputs / "two.png", canvas)
    images.write_image(inputs / "gray.png", canvas[:400, 600:, 0])  # no face, and grayscale
    (inputs / "broken.jpg").write_bytes(b"not a jpeg")
    result = run("gpen_tf.restore", f"--model={model}", f"--input={inputs}",
                 f"--output={tmp_path / 'out'}", "--save_faces", "--compare", check=False)
    assert result.returncode == 1 and "broken.jpg" in result.stderr
    assert "two.png: 2 faces restored" in result.stdout
    assert "gray.png: no face found, written unchanged" in result.stderr
    restored = images.read_image(tmp_path / "out" / "two.png")
    assert restored.shape == canvas.shape
    changed = np.any(restored != canvas, axis=-1)  # the two faces, darker
    assert 0.01 < changed.mean() < 0.2 and (restored.astype(int) - canvas)[changed].mean() < -5
    np.testing.assert_array_equal(images.read_image(tmp_path / "out" / "gray.png"),
                                  np.repeat(canvas[:400, 600:, :1], 3, -1))
    assert images.read_image(tmp_path / "out" / "two_face00.png").shape == (16, 32, 3)
    np.testing.assert_array_equal(images.read_image(tmp_path / "out" / "two_compare.png"),
                                  np.concatenate([canvas, restored], axis=1))


def test_a_rotated_face_is_aligned_and_a_face_at_the_border_restored(detector):
    astronaut = skdata.astronaut()
    angle = np.deg2rad(20)  # turn the photo 20 degrees about its centre
    c, s = np.cos(angle), np.sin(angle)
    to_source = np.array([[c, -s, 256 - 256 * c + 256 * s], [s, c, 256 - 256 * s - 256 * c]])
    rotated = opencv.warp_affine(astronaut, opencv.invert_affine(to_source), 512, 512)
    result = faces.PhotoRestorer(lambda crops: crops, size=128, detector=detector)(rotated)
    assert len(result.faces) == 1
    upright = detector(result.crops[0])[0].landmarks  # the crop undoes the turn
    assert np.abs(upright - faces.template(128)).max() < 0.1 * 128
    corner = np.ascontiguousarray(astronaut[40:, 150:])  # the face 30 px from the top and left edges
    darker = faces.PhotoRestorer(lambda crops: crops // 2, size=128, detector=detector)(corner)
    assert len(darker.faces) == 1 and darker.photo.shape == corner.shape
    x, y, w, h = darker.faces[0].box
    assert (darker.photo[y:y + h, x:x + w].astype(int) - corner[y:y + h, x:x + w]).mean() < -20
