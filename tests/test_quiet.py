"""TensorFlow's start-up lines held to TF_CPP_MIN_LOG_LEVEL (common/quiet.py)."""

import os
import pathlib
import subprocess
import sys

import pytest

from common import quiet

CAPTURED = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1796229154.088894   17728 port.cc:153] oneDNN custom operations are on.\n",
    "I0000 00:00:1796229154.135766   17728 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow\n",
    "W0000 00:00:1796229154.2   17728 some_file.cc:12] a warning\n",
    "E0000 00:00:1796229154.3   17728 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n",
    "E1202 16:24:07.852604   17728 other.cc:7] a real error\n",
    "<frozen importlib>:5: UserWarning: a Python warning\n",
    "I0000 00:00:1796229154.4   17728 port.cc:153] hidden at level 1\n",
    "Traceback (most recent call last):\n",
    '  File "x.py", line 1, in <module>\n',
    "ImportError: something\n",
    "E0000 00:00:1796279814.8   3761 util.cc:131] oneDNN supports DT_UINT8 only on platforms with "
    "AVX-512. Falling back to the default Eigen-based implementation if present.\n",
]
PYTHON = [CAPTURED[7], *CAPTURED[9:12]]  # always written back


def test_lines_are_kept_by_level_and_python_output_always():
    assert quiet._shown(CAPTURED, 0, has_driver=True) == CAPTURED
    assert quiet._shown(CAPTURED, 1, has_driver=True) == [*CAPTURED[4:7], *PYTHON]
    assert quiet._shown(CAPTURED, 2, has_driver=True) == [*CAPTURED[5:7], *PYTHON]
    assert quiet._shown(CAPTURED, 2, has_driver=False) == [CAPTURED[6], *PYTHON]
    assert quiet._shown(CAPTURED, 3, has_driver=True) == PYTHON


def test_importing_tensorflow_after_this_package_is_quiet():
    # A string op and a uint8 one: each made TensorFlow say "oneDNN supports DT_... only on
    # platforms with AVX-512" once, whatever the CPU; runtime.configure spends that line quietly.
    # A SavedModel written where absl logs at INFO, as under the tools' absl.app.run: TensorFlow's
    # Python logger said what it wrote ("Writing fingerprint to ...").
    script = ("import common, tempfile, tensorflow as tf; from absl import logging; "
              "from common import runtime; logging.set_verbosity('info'); runtime.configure(); "
              "tf.constant(1.0) + 1; tf.strings.join(['a', 'b']); "
              "tf.function(lambda x: tf.transpose(tf.cast(x, tf.uint8)))(tf.ones([2, 3])); "
              "tf.saved_model.save(tf.Module(), tempfile.mkdtemp())")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet_run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                               timeout=300)
    assert quiet_run.returncode == 0 and quiet_run.stderr == "", quiet_run.stderr
    loud = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=dict(env, TF_CPP_MIN_LOG_LEVEL="0"))
    assert any(quiet._LOG_LINE.match(line) for line in loud.stderr.splitlines()), loud.stderr
    assert quiet._ONEDNN_TYPES in loud.stderr and "Writing fingerprint" in loud.stderr


ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("common", "dcgan_tf", "dpe_tf", "gpen_tf", "pienet_tf", "pix2pix_tf")
# Every module that runs as `python -m`, so that a new tool is covered without being listed here.
TOOLS = sorted(f"{path.parent.name}.{path.stem}" for package in PACKAGES
               for path in (ROOT / package).glob("*.py")
               if 'if __name__ == "__main__":' in path.read_text())
# `python -m TOOL FLAG` as runpy runs it, then whether TensorFlow was imported.
_HELP = """
import runpy, sys
tool, flag = sys.argv[1:]
sys.argv = [tool, flag]
try:
    runpy.run_module(tool, run_name="__main__", alter_sys=True)
except SystemExit as stop:
    print("exit", stop.code, "tensorflow" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("flag", ["--help", "--helpfull"])
def test_help_answers_without_tensorflow(flag):
    assert len(TOOLS) == 21, TOOLS
    for tool in TOOLS:
        done = subprocess.run([sys.executable, "-c", _HELP, tool, flag], capture_output=True, text=True)
        assert done.stderr.splitlines() == ["exit 0 False"], (tool, done.stderr)
        if tool.endswith(".train"):  # the shared training flags are listed with the train's own
            assert "--model_dir" in done.stdout and "--export_formats" in done.stdout, tool
        assert any(f in done.stdout for f in ("--input", "--data", "--checkpoint", "--model", "--weights")), \
            (tool, done.stdout[:300])
