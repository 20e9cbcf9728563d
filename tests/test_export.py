"""SavedModel export: any-size uint8 serving that matches the Keras model, loaded with TF alone."""

import json
import subprocess
import sys

import numpy as np
import tensorflow as tf

from common import data, export
from pix2pix_tf import Pix2Pix


def test_mirror_padding_reflects_and_allows_large_pads():
    x = tf.reshape(tf.range(3), [1, 1, 3, 1])
    padded = export.pad_to_multiple(x, 8)[0, 0, :, 0].numpy().tolist()
    assert padded == [0, 1, 2, 2, 1, 0, 0, 1]  # longer pad than the image: mirrored again
    assert export.pad_to_multiple(tf.zeros([2, 32, 64, 3]), 32).shape == (2, 32, 64, 3)
    assert export.pad_to_multiple(tf.zeros([1, 33, 5, 3]), 32).shape == (1, 64, 32, 3)


def test_saved_model_serves_any_size_like_keras(tmp_path):
    model = Pix2Pix(generator="unet_32", ngf=4, ndf=4)
    path = export.export_translator(model.generator, str(tmp_path / "sm"),
                                    value_range=(-1, 1), multiple=32)
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    odd = rng.integers(0, 256, (1, 45, 37, 3), dtype=np.uint8)
    np.save(tmp_path / "square.npy", square)
    np.save(tmp_path / "odd.npy", odd)
    script = f"""
import json, sys
import numpy as np, tensorflow as tf
serve = tf.saved_model.load({path!r}).signatures["serving_default"]
for name in ("square", "odd"):
    out = serve(images=tf.constant(np.load({str(tmp_path)!r} + f"/{{name}}.npy")))["images"]
    np.save({str(tmp_path)!r} + f"/{{name}}_out.npy", out.numpy())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("common", "pix2pix_tf"))))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # none of this package

    served = np.load(tmp_path / "square_out.npy")
    assert served.dtype == np.uint8 and served.shape == square.shape
    keras_out = data.from_range(model.predict(data.to_range(square, (-1, 1)), verbose=0), (-1, 1))
    np.testing.assert_array_equal(served, keras_out.numpy())

    served_odd = np.load(tmp_path / "odd_out.npy")
    assert served_odd.shape == odd.shape
    expected = export.translate_uint8(model.generator, odd, value_range=(-1, 1), multiple=32)
    np.testing.assert_array_equal(served_odd, expected.numpy())
