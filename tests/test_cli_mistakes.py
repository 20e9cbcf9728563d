"""The mistakes a person makes on the command line, over every tool that writes: each ends in one line
naming the flag and its value, exit 2, no traceback, no flag help, and nothing written.

Output paths are checked before a tool loads a model or reads its inputs, so the models and inputs
named here need not exist unless the check under test comes after theirs.
"""

import os
import types

import numpy as np
import pytest
from absl import app

from clitools import run
from common import cli, images

EXTENSIONS = ", ".join(images.IMAGE_EXTENSIONS)


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A folder with a file, a folder, an existing PNG and a folder of one input photo in it."""
    root = tmp_path_factory.mktemp("place")
    (root / "a_file").write_text("not a folder")
    (root / "a_folder").mkdir()
    images.write_image(root / "existing.png", np.zeros((4, 4, 3), np.uint8))
    (root / "inputs").mkdir()
    images.write_image(root / "inputs" / "face.png", np.full((32, 32, 3), 128, np.uint8))
    return root


def snapshot(root):
    return sorted((p, os.path.getmtime(os.path.join(p, f))) for p, _, files in os.walk(root) for f in files)


# One mistake per tool, each through the tool as a user runs it.
MISTAKES = [
    ("dcgan_tf.sample", ["--model=m", "--output={existing}"],
     "--output={existing} exists: pass --overwrite to replace it"),
    ("pix2pix_tf.translate", ["--model=m", "--input={inputs}", "--output={a_file}"],
     "--output={a_file} is a file: give a folder"),
    ("gpen_tf.restore", ["--model=m", "--input={inputs}", "--output={a_file}"],
     "--output={a_file} is a file: give a folder"),
    ("pienet_tf.enhance", ["--model=m", "--input={inputs}", "--output={a_file}/out"],
     "--output={a_file}/out: {a_file} is a file, not a folder"),
    ("gpen_tf.degrade", ["--input={inputs}", "--output={root}/degraded", "--clean_output={a_file}"],
     "--clean_output={a_file} is a file: give a folder"),
    ("pienet_tf.evaluate", ["--model=m", "--data=demo:styles:test", "--pictures={a_file}"],
     "--pictures={a_file} is a file: give a folder"),
    ("common.deploy", ["--model=m", "--output_dir={a_file}"], "--output_dir={a_file} is a file: give a folder"),
    ("pix2pix_tf.convert", ["--checkpoint=c.pth", "--output={a_file}/converted"],
     "--output={a_file}/converted: {a_file} is a file, not a folder"),
    ("dcgan_tf.train", ["--data=demo:photos:train", "--model_dir={a_file}"],
     "--model_dir={a_file} is a file: give a folder"),
    ("pix2pix_tf.train", ["--data=/no/such/folder", "--model_dir={root}/run"],
     "--data=/no/such/folder: data folder '/no/such/folder' does not exist or is not a folder"),
]
# The other kinds of output-path mistakes, through the same checks in this process.
PATH_MISTAKES = [
    ("output_file", "{a_folder}", f"--out={{a_folder}} is a folder: give a file name ending in {EXTENSIONS}"),
    ("output_file", "{root}/grid.txt", f"--out={{root}}/grid.txt: give a file name ending in {EXTENSIONS}"),
    ("output_file", "{a_file}/grid.png", "--out={a_file}/grid.png: {a_file} is a file, not a folder"),
    ("output_folder", "{a_file}", "--out={a_file} is a file: give a folder"),
    ("output_folder", "{a_file}/deeper/still", "--out={a_file}/deeper/still: {a_file} is a file, not a folder"),
]


def names_in(place):
    return dict(root=place, a_file=place / "a_file", a_folder=place / "a_folder",
                existing=place / "existing.png", inputs=place / "inputs")


@pytest.mark.parametrize("check, path, message", PATH_MISTAKES)
def test_output_path_mistakes_are_usage_errors(place, check, path, message):
    names = names_in(place)
    given = types.SimpleNamespace(out=path.format(**names))
    with pytest.raises(app.UsageError) as raised:
        if check == "output_file":
            cli.output_file(given, "out", images.IMAGE_EXTENSIONS, overwrite=False)
        else:
            cli.output_folder(given, "out")
    assert str(raised.value) == message.format(**names)


def test_overwrite_and_new_paths_pass(place):
    cli.output_file(types.SimpleNamespace(out=str(place / "existing.png")), "out", (".png",), overwrite=True)
    cli.output_file(types.SimpleNamespace(out=str(place / "new" / "grid.png")), "out", (".png",), False)
    cli.output_folder(types.SimpleNamespace(out=str(place / "a_folder")), "out")
    cli.output_folder(types.SimpleNamespace(out=None), "out")  # not given: nothing to check


@pytest.mark.parametrize("module, args, message", MISTAKES, ids=[f"{m}:{a[-1].split('=')[0]}:{i}"
                                                                for i, (m, a, _) in enumerate(MISTAKES)])
def test_a_mistake_is_one_line_and_exit_2(place, module, args, message):
    names = names_in(place)
    before = snapshot(place)
    result = run(module, *(a.format(**names) for a in args), check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert errors == [f"error: {message.format(**names)}"], result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "flags:" not in result.stderr
    assert snapshot(place) == before and sorted(os.listdir(place)) == [
        "a_file", "a_folder", "existing.png", "inputs"]



def test_a_keyword_or_an_existing_path(place):
    # gpen_tf.restore's --detector, --mask and --background, checked before TensorFlow loads.
    for value in ("feather", str(place / "a_folder"), str(place / "a_file")):
        cli.keyword_or_path(types.SimpleNamespace(mask=value), "mask", "feather")
    with pytest.raises(app.UsageError) as raised:
        cli.keyword_or_path(types.SimpleNamespace(mask=str(place / "parsenet")), "mask", "feather")
    assert str(raised.value) == (f"--mask={place / 'parsenet'}: no such file or folder (give feather, "
                                 "or the path of an export)")
