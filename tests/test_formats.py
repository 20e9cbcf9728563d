"""LiteRT and ONNX exports of every model: converted from the SavedModel, run without TensorFlow, equal
to the Keras model within one uint8 level; the rewrites that make them convertible; the tools on them.

Each model is tiny (random weights, the real layers) and is exported once with 32-pixel tiles, so that
the Keras reference of the larger inputs is tiled where the converted files run them whole.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from clitools import deployed_in_fresh_process, run
from common import data, export, formats, images, resize, tiles
from common.demo import DIRECTORY as DEMO_DATA
from dcgan_tf import DCGAN
from dcgan_tf.model import export_sampler
from dpe_tf import networks as dpe_networks
from dpe_tf import serving as dpe_serving
from gpen_tf import networks as gpen_networks
from gpen_tf import serving as gpen_serving
from pienet_tf import networks as pienet_networks
from pienet_tf import serving as pienet_serving
from pix2pix_tf import Pix2Pix, serving

FORMATS = ("tflite", "onnx")
TILE = 32


def photo_crop(h, w, n=1, seed=0):
    """n crops of a real photo (the demo astronaut), uint8 [n, h, w, 3]."""
    photo = images.read_image(str(DEMO_DATA / "astronaut.jpg"))
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, photo.shape[0] - h, n)
    lefts = rng.integers(0, photo.shape[1] - w, n)
    return np.stack([photo[t:t + h, x:x + w] for t, x in zip(tops, lefts)])


def pix2pix(folder):
    network = Pix2Pix(generator="unet_32", ngf=4, ndf=4).generator
    serving.export_translator(network, folder, value_range=(-1, 1), multiple=32,
                              metadata=export.describe("Pix2Pix"))
    image = photo_crop(45, 37)
    reference = export.translate_uint8(network, image, value_range=(-1, 1), multiple=32)
    return {"image": ({"images": image}, {"images": reference})}


def dcgan(folder):
    network = DCGAN(image_size=8, ngf=4, ndf=4, latent_dim=6).generator
    export_sampler(network, folder, metadata=export.describe("DCGAN"))
    z = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    return {"latents": ({"latents": z}, {"images": data.from_range(network(z), (-1, 1))})}


def dpe(folder):
    generator = dpe_serving.random_like(dpe_networks.generator(64))
    dpe_serving.export_enhancer(generator, folder, tile=TILE, metadata=export.describe("DPE"))
    cases = {}
    for name, (h, w) in {"small": (50, 40), "large": (150, 90)}.items():  # S = 64: both paths
        image = photo_crop(h, w)
        reference = dpe_serving.enhance_uint8(generator, image, tile=TILE)
        cases[name] = ({"images": image}, {"images": reference})
    return cases


def pienet(folder):
    x = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    h = keras.layers.Dense(512)(keras.layers.GlobalAveragePooling2D()(h))
    embedding = keras.Model(x, keras.layers.UnitNormalization()(h))
    enhancer = tiles.randomize(pienet_networks.enhancer(width=4, preference_dim=512), seed=2)
    vectors = np.random.default_rng(1).normal(size=(2, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    pienet_serving.export_pienet(embedding, enhancer, ["warm", "noir"], vectors, folder, embed_size=24,
                                 tile=TILE, metadata=export.describe("PieNet"))
    liked = photo_crop(40, 30, n=3, seed=1)
    preference = pienet_serving.preference_vector(embedding, liked, embed_size=24)
    image = photo_crop(200, 130)  # over one 32-pixel tile and its margins: tiled in the reference
    reference = pienet_serving.enhance_uint8(enhancer, image, preference, tile=TILE)
    return {"liked": ({"images": liked}, {"preference": preference}),
            "image": ({"images": image, "preference": preference.numpy()}, {"images": reference})}


def gpen(folder):
    generator = gpen_networks.generator(32, style_dim=8, n_mlp=2, channel_multiplier=1, narrow=1 / 16)
    gpen_serving.export_restorer(generator, folder, metadata=export.describe("GPEN"))
    cases = {}
    for name, (h, w) in {"face": (32, 32), "other_size": (45, 37)}.items():
        face = photo_crop(h, w)
        cases[name] = ({"images": face}, {"images": gpen_serving.restore_uint8(generator, face)})
    return cases


MODELS = {"pix2pix": pix2pix, "dcgan": dcgan, "dpe": dpe, "pienet": pienet, "gpen": gpen}


def _signature(case):
    return "preference" if case == "liked" else "serving_default"


def _file(folder, fmt, case):
    if fmt == "tflite":
        return folder / "model.tflite"
    return folder / ("model.preference.onnx" if case == "liked" else "model.onnx")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """{model: (its folder, {case: (inputs, Keras outputs, {format: file outputs})})}: every model
    exported and converted, and every converted file run in one fresh process."""
    root = tmp_path_factory.mktemp("formats")
    exported, calls = {}, {}
    for name, make in MODELS.items():
        folder = root / name
        cases = make(str(folder / "saved_model"))
        formats.write(str(folder / "saved_model"), FORMATS)
        exported[name] = (folder, cases)
        for case, (inputs, _) in cases.items():
            for fmt in FORMATS:
                calls[f"{name}-{case}-{fmt}"] = (_file(folder, fmt, case), _signature(case), inputs)
    outputs = deployed_in_fresh_process(calls, root)
    return {name: (folder, {case: (inputs, expected, {fmt: outputs[f"{name}-{case}-{fmt}"]
                                                      for fmt in FORMATS})
                            for case, (inputs, expected) in cases.items()})
            for name, (folder, cases) in exported.items()}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_a_converted_file_gives_what_the_keras_model_gives(deployed, name, fmt):
    _, cases = deployed[name]
    for case, (inputs, expected, got) in cases.items():
        for key, want in expected.items():
            out = got[fmt][key + "_out" if fmt == "onnx" and key in inputs else key]
            want = np.asarray(want)
            assert out.shape == want.shape and out.dtype == want.dtype, case
            if want.dtype == np.uint8:
                assert np.abs(out.astype(int) - want).max() <= 1, (case, key)
            else:
                np.testing.assert_allclose(out, want, atol=1e-5, err_msg=case)


def test_any_format_opens_with_its_metadata_and_constants(deployed):
    folder, cases = deployed["pienet"]
    image = cases["image"][0]["images"]
    outputs = {}
    for path in (folder / "saved_model", folder / "model.tflite", folder / "model.onnx"):
        served = formats.load(str(path), "PieNet")
        assert served.metadata["model"] == "PieNet"
        styles = served.signatures["styles"]()
        assert list(styles["names"]) == ["warm", "noir"] and int(styles["embed_size"]) == 24
        assert styles["vectors"].dtype == np.float32  # as serving_default takes them
        outputs[path.name] = served.signatures["serving_default"](
            images=image, preference=styles["vectors"][:1])["images"].astype(int)
        with pytest.raises(ValueError, match="is a PieNet model, not a GPEN one"):
            formats.load(str(path), "GPEN")
    assert np.abs(outputs["model.tflite"] - outputs["saved_model"]).max() <= 1
    assert np.abs(outputs["model.onnx"] - outputs["saved_model"]).max() <= 1


def test_the_portable_signatures_are_the_only_other_graph(deployed):
    folder, _ = deployed["dpe"]
    names = set(tf.saved_model.load(str(folder / "saved_model")).signatures)
    assert names == {"serving_default", "portable_serving_default", "metadata"}
    assert set(formats.load(str(folder / "saved_model"), "DPE").signatures) == {"serving_default"}


def test_a_mixed_precision_export_converts_to_float32_files(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = DCGAN(image_size=8, ngf=4, ndf=4, latent_dim=6).generator
    finally:
        keras.mixed_precision.set_global_policy("float32")
    plain = DCGAN(image_size=8, ngf=4, ndf=4, latent_dim=6).generator
    plain.set_weights(mixed.get_weights())
    export_sampler(mixed, str(tmp_path / "saved_model"), metadata=export.describe("DCGAN"))
    assert "portable_serving_default" in tf.saved_model.load(str(tmp_path / "saved_model")).signatures
    formats.write(str(tmp_path / "saved_model"), FORMATS)
    z = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    expected = data.from_range(plain(z), (-1, 1)).numpy()
    for fmt in FORMATS:
        served = formats.load(str(tmp_path / formats.FILES[fmt]), "DCGAN")
        out = served.signatures["serving_default"](latents=z)["images"]
        assert np.abs(out.astype(int) - expected).max() <= 1, fmt
    assert mixed.dtype_policy.name == "mixed_bfloat16"  # the policies are restored after the export


@pytest.mark.parametrize("method", ["bicubic", "lanczos3"])
@pytest.mark.parametrize("sizes", [((30, 45), (16, 16)), ((16, 16), (30, 45)), ((37, 100), (19, 512)),
                                   ((5, 3), (7, 2)), ((1, 9), (4, 3)), ((24, 24), (24, 24))])
def test_resize_by_matrices_equals_tf_resize(method, sizes):
    (h, w), (out_h, out_w) = sizes
    x = np.random.default_rng(0).integers(0, 256, (2, h, w, 3)).astype(np.uint8)
    expected = tf.image.resize(x, (out_h, out_w), method=method, antialias=True).numpy()
    got = resize.resize(x, out_h, out_w, method, portable=True).numpy()
    np.testing.assert_allclose(got, expected, atol=3e-4)  # float rounding, on a 0-255 scale
    np.testing.assert_array_equal(resize.resize(x, out_h, out_w, method).numpy(), expected)


def test_the_downsized_copy_rounds_its_size_as_python_does():
    numerators = np.arange(1, 3000, dtype=np.int32) * 512
    for denominator in (513, 640, 1024, 1536, 3072, 4000):
        got = dpe_serving._round_ratio(tf.constant(numerators), tf.constant(denominator)).numpy()
        assert got.tolist() == [round(int(n) / denominator) for n in numerators]


def test_the_tools_run_a_converted_file_as_the_saved_model(deployed, tmp_path):
    folder, _ = deployed["pix2pix"]
    inputs = tmp_path / "in"
    inputs.mkdir()
    images.write_image(str(inputs / "a.png"), photo_crop(45, 37)[0])
    expected = formats.load(str(folder / "saved_model"), "Pix2Pix").serving()(photo_crop(45, 37)[0])
    # The LiteRT file through the tool (every tool opens files with formats.load, as below for ONNX).
    run("pix2pix_tf.translate", f"--model={folder / 'model.tflite'}", f"--input={inputs}",
        f"--output={tmp_path / 'out'}")
    written = images.read_image(str(tmp_path / "out" / "a.png")).astype(int)
    assert np.abs(written - expected).max() <= 1
    onnx = formats.load(str(folder / "model.onnx"), "Pix2Pix").serving()(photo_crop(45, 37)[0])
    assert np.abs(onnx.astype(int) - expected).max() <= 1


def test_formats_are_named_in_a_list():
    assert formats.parse("saved_model, tflite,onnx") == ("saved_model", "tflite", "onnx")
    for bad in ("coreml", "tflite,coreml", ""):
        with pytest.raises(ValueError, match="unknown export format"):
            formats.parse(bad)


def test_a_file_converted_for_a_fixed_size_says_so_for_another(deployed, tmp_path):
    folder, cases = deployed["pix2pix"]
    (inputs, expected, _), = cases.values()
    written = formats.write(str(folder / "saved_model"), ["tflite", "onnx"], str(tmp_path), (45, 37))
    assert sorted(written) == [str(tmp_path / "model.onnx"), str(tmp_path / "model.tflite")]
    for path in written:
        serve = formats.load(path, "Pix2Pix").signatures["serving_default"]
        out = serve(images=inputs["images"])["images"]
        assert np.abs(out.astype(int) - np.asarray(expected["images"])).max() <= 1
        with pytest.raises(ValueError, match=r"fixed size: its images are 1x45x37x3, not 1x32x32x3"):
            serve(images=photo_crop(32, 32))


def test_deploy_tool_converts_an_export_and_names_bad_arguments(deployed, tmp_path):
    folder, _ = deployed["dcgan"]
    result = run("common.deploy", f"--model={folder / 'saved_model'}", "--formats=onnx",
                 f"--output_dir={tmp_path}")
    assert result.stdout.strip() == f"wrote {tmp_path / 'model.onnx'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    served = formats.load(str(tmp_path / "model.onnx"), "DCGAN")
    z = np.zeros((1, 6), np.float32)
    np.testing.assert_array_equal(served.signatures["serving_default"](latents=z)["images"],
                                  formats.load(str(folder / "saved_model"), "DCGAN")
                                  .signatures["serving_default"](latents=z)["images"])
    bad = run("common.deploy", f"--model={folder / 'saved_model'}", "--fixed_size=64", check=False)
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert bad.returncode == 2 and len(errors) == 1 and "give H,W" in errors[0], bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_metadata_says_what_each_onnx_file_holds(deployed):
    import onnx
    folder, _ = deployed["pienet"]
    for file, signature in (("model.onnx", "serving_default"), ("model.preference.onnx", "preference")):
        props = {p.key: p.value for p in onnx.load(str(folder / file)).metadata_props}
        stored = json.loads(props["gan_zoo_tf"])
        assert stored["signature"] == signature
        assert json.loads(stored["constants"]["metadata"]["json"][0])["model"] == "PieNet"
        assert stored["constants"]["styles"]["names"] == ["warm", "noir"]
