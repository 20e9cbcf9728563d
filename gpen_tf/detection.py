"""The face detectors of gpen_tf.restore: each is a function of a uint8 RGB photo [H, W, 3] that
returns the faces found, as a list of Face.

- `MTCNN()` (the default: the mtcnn package, TensorFlow, its weights in its wheel): its faces of
  confidence >= 0.9, the largest first.
- `RetinaFace(path)`: a converted `RetinaFace-R50.pth` (`python -m gpen_tf.convert`), run as the
  official `RetinaFaceDetection.detect`: the photo as BGR float32; over 1500 px on its long side,
  resized by cv2's bilinear rule to 1000 px; minus the mean (104, 117, 123); the network; then
  gpen_tf/retinaface_boxes.py (prior boxes, decoding, scores > 0.9, NMS 0.4, the division by the
  detection scale). Faces in the detector's order (best score first), as face_enhancement.py pastes
  them.
"""

import collections

import numpy as np

from gpen_tf import opencv, retinaface_boxes

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MIN_SCORE = 0.9   # the official face_enhancement keeps detections of at least this confidence

# box (x, y, w, h) in pixels; landmarks (5, 2) points (x, y) in LANDMARKS' order; the detector's score
Face = collections.namedtuple("Face", ["box", "landmarks", "score"])


class MTCNN:
    """The MTCNN detector (the mtcnn package, on the CPU), or any object with its `detect_faces`."""

    def __init__(self, detector=None):
        if detector is None:
            try:
                from mtcnn import MTCNN as Network  # imported here: loading its networks takes a moment
            except ImportError as err:
                raise ImportError("finding faces in whole photos needs the mtcnn package (pip install "
                                  "mtcnn); --aligned restores crops without it") from err
            detector = Network(device="CPU:0")
        self.detector = detector

    def __call__(self, photo):
        found = []
        for f in self.detector.detect_faces(photo):
            if f["confidence"] < MIN_SCORE:
                continue
            points = np.array([f["keypoints"][name] for name in LANDMARKS], np.float64)
            found.append(Face(tuple(int(v) for v in f["box"]), points, float(f["confidence"])))
        return sorted(found, key=lambda face: -face.box[2] * face.box[3])


def retinaface_faces(dets, landmarks):
    """Faces of RetinaFaceDetection.detect's arrays: `dets` [N, 5] (x1, y1, x2, y2, score) and
    `landmarks` [N, 10] (x1..x5, y1..y5), in their order; those under MIN_SCORE left out, as
    face_enhancement.py leaves them."""
    found = []
    for (x1, y1, x2, y2, score), points in zip(np.asarray(dets, np.float64), np.asarray(landmarks, np.float64)):
        if score >= MIN_SCORE:
            found.append(Face((x1, y1, x2 - x1, y2 - y1), points.reshape(2, 5).T, float(score)))
    return found


class RetinaFace:
    """Faces found by RetinaFace: `network` maps the float32 BGR image minus the mean [1, H, W, 3] to
    {"loc", "conf", "landms"}, as a converted RetinaFace's `raw` signature (`RetinaFace.load`)."""

    def __init__(self, network):
        self.network = network

    @classmethod
    def load(cls, path):
        """The detector of a converted RetinaFace (the folder `gpen_tf.convert` wrote, or its saved_model)."""
        from common import export  # TensorFlow
        from gpen_tf import retinaface
        return cls(export.load_raw(path, retinaface.MODEL)[0])

    def preprocess(self, photo):
        """(the network's input [H', W', 3] for a uint8 RGB photo, the detection scale)."""
        height, width = photo.shape[:2]
        ss = retinaface_boxes.detection_scale(height, width)
        bgr = photo[..., ::-1]
        if ss == 1.0:
            image = bgr.astype(np.float32)
        else:
            image = opencv.resize_linear(bgr, round(width * ss), round(height * ss), factor=ss,
                                         dtype=np.float32)
        return image - np.float32(retinaface_boxes.MEAN_BGR), ss

    def __call__(self, photo):
        image, ss = self.preprocess(np.asarray(photo))
        out = {k: np.asarray(v)[0] for k, v in self.network(image[None]).items()}
        dets, points = retinaface_boxes.detections(out["loc"], out["conf"], out["landms"],
                                                   image.shape[0], image.shape[1], ss=ss)
        return retinaface_faces(dets, points)
