"""Test setup: two logical CPU devices (for the MirroredStrategy test) before TensorFlow starts."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Converted metric networks (common/weights_cache.py) go to a folder of this run, not the user's cache;
# the tools the tests start inherit it.
os.environ["GAN_ZOO_CACHE"] = tempfile.mkdtemp(prefix="gan_zoo_cache_")
atexit.register(shutil.rmtree, os.environ["GAN_ZOO_CACHE"], ignore_errors=True)

import common  # noqa: E402  (first, as in a user's program: it sets TensorFlow's CPU options)
import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
del common


@pytest.fixture(autouse=True)
def _float32_policy():
    """Tests that switch the global precision policy must not leak it into others."""
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session: several strategies in
    one process would share collective-op instance keys and abort each other's all-reduces."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


# xdist hands out whole files (pytest.ini: --dist=loadfile) in collection order. Starting with the
# longest files keeps both workers busy to the end, instead of one finishing a long file alone.
LONGEST_FIRST = (
    "test_gpen_cli.py", "test_distribute_cli.py", "test_dpe_model.py", "test_pix2pix_cli.py",
    "test_gpen_model.py", "test_dpe_enhance.py", "test_dpe_cli.py", "test_pix2pix_model.py",
    "test_pix2pix_convert.py", "test_distribute.py", "test_export.py", "test_pienet_serving.py",
    "test_dcgan_cli.py", "test_pienet_cli.py")


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept
