"""train.py under every strategy, as a user launches it: one process, two logical CPUs, two workers.

The same tiny pix2pix (batch norm, dropout) trains with validation under `default`, `mirrored`
over two logical CPUs and `multi_worker` with two processes on 127.0.0.1, at the same global batch.
With batch statistics synchronised, dropout masks drawn for the global batch and the data sharded
as one device reads it, the three runs log the same losses and end with the same batch-norm
statistics. Only the chief writes; a run whose
workers were killed resumes on every worker from the same epoch.
"""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import tensorflow as tf

import clitools

FLAGS = ["--data=demo:gray2color:train", "--val_data=demo:gray2color:test", "--generator=unet_64",
         "--image_size=64", "--load_size=72", "--ngf=4", "--ndf=4", "--batch_size=4",
         "--steps_per_epoch=3", "--validation_steps=2", "--num_samples=2", "--seed=0",
         "--mixed_precision=off", "--xla=off", "--deterministic"]


def _ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(model_dir, scratch, *args, workers=2):
    """`pix2pix_tf.train` as a MultiWorkerMirroredStrategy cluster of local processes (worker 0 is
    the chief), each with its own TMPDIR under `scratch`; returns the Popen objects."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _ports(workers)]}
    procs = []
    for index in range(workers):
        tmp = scratch / f"tmp{index}"
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(clitools.ENV, TMPDIR=str(tmp), TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "pix2pix_tf.train", *FLAGS, "--strategy=multi_worker",
             f"--model_dir={model_dir}", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def finish(procs, timeout=300):
    outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    return outputs


def scalars(log_dir):
    """{tag: [values by epoch]} of the TensorBoard event files in `log_dir`."""
    out = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return out


def batch_norm_statistics(model_dir):
    """The moving means and variances in a run's checkpoint, by name."""
    stats = {}
    with h5py.File(model_dir / "checkpoints" / "latest.weights.h5") as f:
        f.visititems(lambda name, item: stats.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) and "normalization" in name else None)
    return stats


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same two epochs trained in one process, over two logical CPUs and by two workers."""
    root = tmp_path_factory.mktemp("strategies")
    single = clitools.run("pix2pix_tf.train", *FLAGS, "--epochs=2", "--strategy=default",
                          f"--model_dir={root / 'default'}")
    mirrored = clitools.run("pix2pix_tf.train", *FLAGS, "--epochs=2", "--strategy=mirrored",
                            "--cpu_devices=2", f"--model_dir={root / 'mirrored'}")
    workers = finish(start_workers(root / "multi_worker", root / "scratch", "--epochs=2"))
    return root, single, mirrored, workers


def test_every_strategy_trains_the_same_model(runs):
    root, _, _, _ = runs
    reference = scalars(root / "default" / "logs" / "train")
    validation = scalars(root / "default" / "logs" / "validation")
    assert len(reference["epoch_d_loss"]) == 2 and len(validation["epoch_psnr"]) == 2
    expected = batch_norm_statistics(root / "default")
    assert len(expected) >= 8
    for name in ("mirrored", "multi_worker"):
        for tag in ("epoch_d_loss", "epoch_g_gan", "epoch_g_l1"):
            np.testing.assert_allclose(scalars(root / name / "logs" / "train")[tag],
                                       reference[tag], rtol=1e-4)
        np.testing.assert_allclose(scalars(root / name / "logs" / "validation")["epoch_psnr"],
                                   validation["epoch_psnr"], rtol=1e-4)
        got = batch_norm_statistics(root / name)
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-3, atol=1e-5)
        assert (root / name / "saved_model" / "saved_model.pb").is_file()


def test_only_the_chief_writes_and_the_other_worker_leaves_nothing(runs):
    root, _, _, outputs = runs
    assert all("Epoch 2/2" in out for out in outputs)
    run = root / "multi_worker"
    writers = {os.path.basename(p).split(".")[-3] for p in glob.glob(str(run / "logs" / "**" / "events.*"),
                                                                     recursive=True)}
    assert len(writers) == 1  # one process id wrote every event file
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png", "epoch_0002.png"]
    assert os.listdir(root / "scratch" / "tmp1") == []  # the other worker's throwaway files are gone


def test_killed_workers_resume_together(tmp_path):
    model_dir = tmp_path / "run"
    procs = start_workers(model_dir, tmp_path / "scratch", "--epochs=3", "--noexport")
    state = model_dir / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and time.time() < deadline and procs[0].poll() is None:
        time.sleep(0.2)
    assert state.exists(), procs[0].communicate()[0][-3000:]
    procs[1].send_signal(signal.SIGKILL)  # a worker dies; the job is restarted, as a scheduler would
    procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.communicate()
    killed_at = json.loads(state.read_text())["epoch"]
    assert killed_at < 3
    outputs = finish(start_workers(model_dir, tmp_path / "scratch", "--epochs=3", "--noexport"))
    for out in outputs:
        assert f"at epoch {killed_at}" in out and "Epoch 3/3" in out
    assert json.loads(state.read_text())["epoch"] == 3
