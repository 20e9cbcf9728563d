"""What two or more of the models share: data, layers, losses, metrics, training, export.

Importing this package (every model package does, first) switches TensorFlow's oneDNN CPU kernels on
for x86 CPUs, before TensorFlow loads (`common.runtime.configure` warns when they are off), and
quiets TensorFlow's start-up lines (common/quiet.py).
"""

import os
import platform

# TensorFlow reads this once, when it loads, and by default uses oneDNN only on CPUs with AVX-512 VNNI
# or BF16 or AMX; elsewhere (AVX2) its Eigen kernels make the DCGAN step 2x slower (BUILD_NOTES.md,
# Speed). A value the user set wins.
X86 = platform.machine().lower() in ("x86_64", "amd64")
if X86:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ info and warning lines (oneDNN is on, no CUDA driver, ...) say nothing a user can
# act on; its errors still print. TF_CPP_MIN_LOG_LEVEL=0 brings the rest back. common/quiet.py holds
# TensorFlow's start-up lines, which ignore the setting, to it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import quiet  # noqa: E402

quiet.install()
