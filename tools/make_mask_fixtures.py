"""Writes tests/fixtures/paste_mask.npz: GPEN's mask post-processing by OpenCV itself.

Run once in a throwaway venv with OpenCV (never a dependency of this package):

    /tmp/tv/bin/python tools/make_mask_fixtures.py --output=tests/fixtures

The mask is tests/test_gpen_masks.py's `face_mask()` (a 512 x 512 ellipse of 255 with a notch), and
the steps are face_enhancement.py's mask_postprocess: / 255, a 26 px border zeroed,
cv2.GaussianBlur((101, 101), 4) twice. Saved: every 4th row and column of the result (128 x 128).
"""

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from test_gpen_masks import face_mask  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    mask = face_mask() / 255.0
    thres = 26
    mask[:thres, :] = 0
    mask[-thres:, :] = 0
    mask[:, :thres] = 0
    mask[:, -thres:] = 0
    mask = cv2.GaussianBlur(mask, (101, 101), 4)
    mask = cv2.GaussianBlur(mask, (101, 101), 4).astype(np.float32)
    np.savez_compressed(os.path.join(args.output, "paste_mask.npz"), every_4th=mask[::4, ::4])
    print(f"mask in [{mask.min():.3g}, {mask.max():.3g}]")


if __name__ == "__main__":
    main()
