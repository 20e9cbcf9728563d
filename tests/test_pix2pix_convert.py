"""Converting the official pix2pix checkpoints: key by key, and the official outputs reproduced.

The fixtures (tools/make_torch_fixtures.py) are a unet_64 generator (in both formats of torch.save:
the zip of PyTorch >= 1.6 and the legacy stream of the released models) and a 70x70 PatchGAN in the
official key layout, with random weights and batch-norm statistics, and what PyTorch computed from
them on real photos (demo photos): in eval mode, and in the official test's train mode, one image at
a time.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from absl import app

from clitools import endpoints_in_fresh_process, run, run_without_tensorflow
from common import export, images, pth
from common.porting import Porting, PortingError
from pix2pix_tf import Pix2Pix, inference, official

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
G, D = os.path.join(FIXTURES, "pix2pix_unet64_G.pth"), os.path.join(FIXTURES, "pix2pix_D.pth")
LEGACY = os.path.join(FIXTURES, "pix2pix_unet64_G_legacy.pth")


@pytest.fixture(scope="module")
def converted():
    return official.convert(G, D)


def test_the_architecture_is_read_from_the_shapes(converted):
    options = converted.options
    assert (options["generator"], options["ngf"], options["norm"]) == ("unet_64", 4, "batch")
    assert (options["ndf"], options["n_layers"], options["input_channels"]) == (4, 3, 3)


def test_both_networks_give_the_official_outputs(converted):
    g, d = np.load(G.replace(".pth", ".npz")), np.load(D.replace(".pth", ".npz"))
    assert (np.abs(g["y"]) < 0.95).mean() > 0.99  # the tanh is not saturated: differences would show
    np.testing.assert_allclose(converted.generator(g["x"], training=False), g["y"], atol=1e-4)
    np.testing.assert_allclose(converted.discriminator(d["x"], training=False), d["y"], atol=1e-3,
                               rtol=1e-5)


def test_a_state_dict_that_does_not_fit_names_its_keys():
    state = pth.load_state_dict(G)
    prefix = "model.model.1.model.3.model"
    state[f"{prefix}.1.weight"] = state[f"{prefix}.1.weight"][:, :2]
    del state[f"{prefix}.2.running_var"]
    state["extra.weight"] = np.zeros(3, np.float32)
    model = Pix2Pix(generator="unet_64", ngf=4)
    before = [w.numpy() for w in model.generator.weights]
    port = Porting(state, "G.pth")
    official.port_generator(port, model.generator, 6)
    with pytest.raises(PortingError) as caught:
        port.finish()
    message = str(caught.value)
    assert message.startswith("G.pth does not fit the model: ")
    assert f"'{prefix}.1.weight' has shape (16, 2, 4, 4), the model needs (16, 8, 4, 4)" in message
    assert f"missing key '{prefix}.2.running_var'" in message and "unused key 'extra.weight'" in message
    # Nothing was assigned.
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.generator.weights))
    with pytest.raises(pth.CheckpointError, match="is not a pix2pix PatchGAN discriminator"):
        official.convert(D.replace("_D", "_unet64_G"), G)


def test_the_tool_writes_a_model_that_translates_as_the_official_one(tmp_path):
    out = tmp_path / "facades"
    result = run("pix2pix_tf.convert", f"--checkpoint={G}", f"--discriminator={D}", f"--output={out}",
                 "--inference=eval")
    assert "unet_64, ngf 4, batch norm" in result.stdout and "serving eval mode" in result.stdout
    assert sorted(os.listdir(out)) == ["config.json", "pix2pix.weights.h5", "saved_model"]
    loaded, metadata = export.load(str(out / "saved_model"), "Pix2Pix")
    assert metadata["config"]["generator"] == "unet_64" and metadata["inference"] == "eval"
    # Official pixels: the official code writes (y + 1) / 2 * 255, truncated to uint8.
    g = np.load(G.replace(".pth", ".npz"))
    official = ((g["y"] + 1) / 2 * 255).astype(np.uint8)
    served = loaded.signatures["serving_default"](images=tf.constant(g["image"]))["images"].numpy()
    assert np.abs(served.astype(int) - official).max() <= 1
    # The weights file fine-tunes: the same model in Python.
    model = Pix2Pix(**json.loads((out / "config.json").read_text()))
    model.load_weights(out / "pix2pix.weights.h5")
    np.testing.assert_allclose(model.generator(g["x"], training=False), g["y"], atol=1e-4)


def test_a_released_models_legacy_file_converts_to_the_same_model(converted):
    legacy = official.convert(LEGACY)
    assert legacy.options == {**converted.options, "ndf": 64, "n_layers": 3}  # no discriminator given
    for a, b in zip(converted.generator.weights, legacy.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_wrong_file_is_named_before_tensorflow_loads(tmp_path):
    wrong = run_without_tensorflow("pix2pix_tf.convert", f"--checkpoint={D}", f"--output={tmp_path / 'out'}")
    assert wrong.returncode == 1 and wrong.stderr.strip().splitlines() == [
        f"error: {D} is not a pix2pix U-Net generator: no 'model.model.0.weight' and "
        "'model.model.3.weight' (its first keys: ['model.0.weight', 'model.0.bias', 'model.2.weight', "
        "'model.3.weight'])"]
    (tmp_path / "notes.txt").write_text("not weights")
    text = run_without_tensorflow("pix2pix_tf.convert", f"--checkpoint={tmp_path / 'notes.txt'}",
                                  f"--output={tmp_path / 'out'}")
    assert text.returncode == 1 and "notes.txt is not a PyTorch checkpoint" in text.stderr
    assert len(text.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

def test_training_starts_from_the_converted_weights(converted, tmp_path):
    weights = tmp_path / "pix2pix.weights.h5"
    converted.save_weights(weights)
    args = ["--data=demo:gray2color:train", "--generator=unet_64", "--image_size=64", "--load_size=72",
            "--ngf=4", "--ndf=4", "--batch_size=2", "--steps_per_epoch=1", "--epochs=1", "--seed=0",
            "--noexport", f"--init_weights={weights}"]
    run("pix2pix_tf.train", *args, "--learning_rate=1e-12", f"--model_dir={tmp_path / 'run'}")
    tuned = Pix2Pix(**converted.options)
    tuned.load_weights(tmp_path / "run" / "checkpoints" / "latest.weights.h5")
    for name in ("down1_conv", "up1_convT"):
        np.testing.assert_allclose(tuned.generator.get_layer(name).kernel,
                                   converted.generator.get_layer(name).kernel, atol=1e-6)
    np.testing.assert_allclose(tuned.discriminator.get_layer("logits_conv").kernel,
                               converted.discriminator.get_layer("logits_conv").kernel, atol=1e-6)


def test_the_papers_test_mode_gives_the_official_train_mode_outputs():
    g = np.load(G.replace(".pth", ".npz"))
    # Dropout off in both, so that the outputs are deterministic: batch norm on each image's statistics.
    model = official.convert(G, dropout=False)
    stored = [v.numpy() for v in model.generator.non_trainable_weights]
    paper = inference.generator_for(model.generator, "paper")
    np.testing.assert_allclose(paper(g["x"]), g["y_paper"], atol=1e-4)
    assert not np.allclose(g["y_paper"], g["y"], atol=1e-2)  # the two modes differ
    # Two photos in one batch: each as the official test runs it, alone.
    pair = g["pair"].astype(np.float32) / 255 * 2 - 1
    np.testing.assert_allclose(paper(pair), g["pair_paper"], atol=1e-4)
    for before, after in zip(stored, model.generator.non_trainable_weights):
        np.testing.assert_array_equal(before, after)  # the stored statistics stay
    # With dropout (the released models have it) every run draws other masks.
    dropping = inference.generator_for(official.convert(G).generator, "paper")
    assert not np.allclose(dropping(g["x"]), dropping(g["x"]))
    with pytest.raises(ValueError, match="inference mode must be one of"):
        inference.generator_for(model.generator, "train")


def test_a_converted_model_serves_the_official_test_by_default(tmp_path):
    g = np.load(G.replace(".pth", ".npz"))
    out = tmp_path / "paper"
    run("pix2pix_tf.convert", f"--checkpoint={LEGACY}", f"--output={out}", "--nodropout")
    loaded, metadata = export.load(str(out / "saved_model"), "Pix2Pix")
    assert (metadata["inference"], metadata["size"]) == ("paper", 64)
    # A batch of two 64 px photos: official pixels ((y + 1) / 2 * 255, truncated) of each alone.
    official_uint8 = ((g["pair_paper"] + 1) / 2 * 255).astype(np.uint8)
    served = loaded.signatures["serving_default"](images=tf.constant(g["pair"]))["images"].numpy()
    assert np.abs(served.astype(int) - official_uint8).max() <= 1
    # Another size runs at 64 px and comes back at its own.
    assert loaded.signatures["serving_default"](images=tf.constant(g["image"]))["images"].shape == \
        g["image"].shape
    # LiteRT and ONNX files cannot draw dropout masks: refused (convert and train check it first).
    with pytest.raises(app.UsageError, match="onnx files cannot draw paper mode's dropout masks; "
                                             "export them with --inference=eval"):
        inference.check_formats("paper", ("saved_model", "onnx"))
    inference.check_formats("eval", ("saved_model", "onnx"))


def test_paper_mode_dropout_is_fresh_in_every_process_or_seeded(converted, tmp_path):
    official.write(converted, tmp_path / "paper")
    image = np.load(G.replace(".pth", ".npz"))["image"]
    calls = {"fresh": ("serving_default", {"images": image}),
             "seed7": ("serving_seeded", {"images": image, "seed": np.int64(7)}),
             "seed8": ("serving_seeded", {"images": image, "seed": np.int64(8)})}
    runs = []
    for name in ("a", "b"):  # two processes
        (tmp_path / name).mkdir()
        runs.append(endpoints_in_fresh_process(tmp_path / "paper" / "saved_model", calls,
                                               tmp_path / name, ["pix2pix_tf", "common"]))
    first, second = runs
    assert not np.array_equal(first["fresh"]["images"], second["fresh"]["images"])
    np.testing.assert_array_equal(first["seed7"]["images"], second["seed7"]["images"])
    assert not np.array_equal(first["seed7"]["images"], first["seed8"]["images"])
    # translate --seed uses the seeded endpoint; on an eval-mode export it is a bad argument.
    (tmp_path / "in").mkdir()
    images.write_image(tmp_path / "in" / "photo.png", image[0])
    run("pix2pix_tf.translate", f"--model={tmp_path / 'paper' / 'saved_model'}",
        f"--input={tmp_path / 'in'}", f"--output={tmp_path / 't1'}", "--seed=7")
    np.testing.assert_array_equal(images.read_image(tmp_path / "t1" / "photo.png"),
                                  first["seed7"]["images"][0])  # a third process, the same masks
    official.write(converted, tmp_path / "eval", "eval")
    eval_seed = run("pix2pix_tf.translate", f"--model={tmp_path / 'eval' / 'saved_model'}",
                    f"--input={tmp_path / 'in'}", f"--output={tmp_path / 't3'}", "--seed=7", check=False)
    assert eval_seed.returncode == 2 and "runs in eval mode" in eval_seed.stderr
