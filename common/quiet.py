"""TensorFlow's start-up lines held to TF_CPP_MIN_LOG_LEVEL, which TensorFlow itself ignores for them.

TensorFlow 2.21 logs through absl before absl's logging is initialised, and absl then writes every
line to stderr whatever the level (it says so in a line of its own): "oneDNN custom operations are
on", "Could not find cuda drivers", "This TensorFlow binary is optimized ...", twice per process, as
two of its libraries each carry absl. `install()` (called by `import common`) makes the first
`import tensorflow` run with stderr captured at the file-descriptor level, lists the devices there
(where "failed call to cuInit" is printed), and writes back every captured line whose level
TF_CPP_MIN_LOG_LEVEL lets through (0 all, 1 warnings and errors, 2 errors, 3 none): this package
sets it to 2 unless the user did. Lines without a log prefix (Python's warnings, tracebacks) are
always written back, but for a log line's own continuation. cuInit's error is dropped too when
the machine has no NVIDIA driver (/proc/driver/nvidia), where it only says there is no GPU.

One more line is said while captured: "oneDNN supports DT_UINT8 only on platforms with AVX-512.
Falling back to the default Eigen-based implementation", an error-level line that TensorFlow logs
once per process, the first time an op meets a type oneDNN has no kernel for (in TensorFlow's
util.cc only float32 always qualifies, bfloat16 and float16 by CPU feature; strings, uint8, bool and
int64 never do, on any CPU). The sentence blames the CPU, but the op only runs on TensorFlow's own
kernel, as it does without oneDNN: it costs nothing. The tools met it at their first uint8 or string
op, AVX-512 or not. `spend_onednn_line()` runs a uint8 transpose with stderr captured, which spends
the once (the line is dropped at every level but 0); it runs an op, which fixes the devices, so
`common.runtime.configure` and `common.export.load` call it once the devices are set.

TensorFlow's Python code is held to warnings and above too, unless TF_CPP_MIN_LOG_LEVEL is 0.
"""

import contextlib
import functools
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

# A C++ log line: level letter, month and day, time (before absl knows the time zone, hours and
# minutes are 00 and the seconds count from the epoch), thread id, file:line] message.
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}
_ONEDNN_TYPES = "only on platforms with AVX-512. Falling back to the default Eigen-based"


def _min_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _shown(lines, min_level, has_driver):
    """The captured lines to write back (see the module docstring)."""
    shown, keep = [], True
    for line in lines:
        match = _LOG_LINE.match(line)
        if match:
            level = _LEVELS[match.group(1)]
            keep = level >= min_level or level == 3  # a fatal line is never held back
            if not has_driver and "failed call to cuInit" in line:
                keep = False
            if _ONEDNN_TYPES in line:
                keep = min_level == 0
        elif line.rstrip("\n") == _ABSL_NOTICE:
            keep = min_level == 0
        elif not line.startswith((" ", "To enable the following instructions")):
            keep = True  # not part of a log line: Python's own output
        if keep:
            shown.append(line)
    return shown


@contextlib.contextmanager
def _captured_stderr():
    """Run the block with file descriptor 2 going to a temporary file, then write back what
    `_shown` keeps."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(_shown(lines, _min_level(), os.path.exists("/proc/driver/nvidia"))))
            sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as Python would, and wraps the execution of its module."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once, and not for the lookup below
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def quietly(module):
            with _captured_stderr():
                execute(module)
                module.config.list_physical_devices()  # CUDA's probe, while captured
        spec.loader.exec_module = quietly
        return spec


def _no_tensorflow_info(record):
    """A logging filter: False for an info or debug record logged from TensorFlow's Python code.

    It tells at INFO what each SavedModel export does: every captured variable input it renames,
    "Sharding callback duration", the assets and fingerprint written into the export's temporary
    folder. Held back as TensorFlow's C++ info lines are; the tools' own info lines stay."""
    tensorflow = sys.modules.get("tensorflow")
    return not (record.levelno < logging.WARNING and tensorflow is not None
                and record.pathname.startswith(os.path.dirname(tensorflow.__file__) + os.sep))


@functools.cache  # once per process, as TensorFlow says it
def spend_onednn_line():
    """Spend TensorFlow's once-per-process oneDNN type line quietly (see the module docstring)."""
    import tensorflow as tf
    with _captured_stderr():
        tf.transpose(tf.zeros([1, 1], tf.uint8))


def install():
    if _min_level() > 0:
        # TensorFlow's Python code logs through both. absl's logger is absl's own class, which
        # names the caller's file: made here before absl is imported it would be a plain one.
        from absl import logging as absl_logging
        for logger in (absl_logging.get_absl_logger(), logging.getLogger("tensorflow")):
            logger.addFilter(_no_tensorflow_info)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
