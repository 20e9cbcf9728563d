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
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# A C++ log line: level letter, month and day, time (before absl knows the time zone, hours and
# minutes are 00 and the seconds count from the epoch), thread id, file:line] message.
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}


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
            try:
                min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
            except ValueError:
                min_level = 0
            sys.stderr.write("".join(_shown(lines, min_level, os.path.exists("/proc/driver/nvidia"))))
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


def install():
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
