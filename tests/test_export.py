"""SavedModel export: any-size uint8 serving that matches the Keras model, loaded with TF alone."""

import numpy as np
import tensorflow as tf

from clitools import serve_in_fresh_process
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
    outputs = serve_in_fresh_process(path, {"square": square, "odd": odd}, tmp_path,
                                     ("common", "pix2pix_tf"))
    served = outputs["square"]
    assert served.dtype == np.uint8 and served.shape == square.shape
    keras_out = data.from_range(model.predict(data.to_range(square, (-1, 1)), verbose=0), (-1, 1))
    np.testing.assert_array_equal(served, keras_out.numpy())

    served_odd = outputs["odd"]
    assert served_odd.shape == odd.shape
    expected = export.translate_uint8(model.generator, odd, value_range=(-1, 1), multiple=32)
    np.testing.assert_array_equal(served_odd, expected.numpy())
