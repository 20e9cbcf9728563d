"""train.py under every strategy, as a user launches it: one process, two logical CPUs, two workers.

The same tiny pix2pix (batch norm, dropout) trains with validation under `default`, `mirrored`
over two logical CPUs and `multi_worker` with two processes on 127.0.0.1, at the same global batch.
With batch statistics synchronised, dropout masks drawn for the global batch and the data sharded
as one device reads it, the three runs log the same losses and end with the same batch-norm
statistics. The two workers are killed after their first checkpoint and restarted, as a scheduler
would: both resume from the same epoch and still end as the one-device run. Only the chief writes.
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
from common import images, run_folder

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


def start_cluster(command, scratch, workers=2):
    """`command` (a list; "{index}" in it is the worker's index) in every worker process of a
    MultiWorkerMirroredStrategy cluster on 127.0.0.1 (worker 0 is the chief), each with its own
    TMPDIR under `scratch`; returns the Popen objects."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _ports(workers)]}
    procs = []
    for index in range(workers):
        tmp = scratch / f"tmp{index}"
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(clitools.ENV, TMPDIR=str(tmp), TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [part.replace("{index}", str(index)) for part in command],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def start_workers(model_dir, scratch, *args):
    """`pix2pix_tf.train` with FLAGS and `args` in a cluster of two workers (start_cluster)."""
    return start_cluster([sys.executable, "-m", "pix2pix_tf.train", *FLAGS, "--strategy=multi_worker",
                          f"--model_dir={model_dir}", *args], scratch)


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


def start_killed_and_restarted_workers(model_dir, scratch, *args):
    """Two workers SIGKILLed as soon as the chief's first checkpoint exists, then started again and
    run to the end; returns (the epoch they were killed at, the killed chief's pid, the restarted
    Popen objects). The killed processes get their own TMPDIRs: a kill leaves TF's temporary files."""
    procs = start_workers(model_dir, scratch / "killed", *args)
    checkpoint = model_dir / "checkpoints" / run_folder.WEIGHTS  # renamed into place when complete
    deadline = time.time() + 240
    while not checkpoint.exists() and time.time() < deadline and procs[0].poll() is None:
        time.sleep(0.1)
    assert checkpoint.exists(), procs[0].communicate()[0][-3000:]
    procs[1].send_signal(signal.SIGKILL)  # a worker dies; the job is restarted
    procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.communicate()
    killed_at = run_folder.read_state(model_dir / "checkpoints")["epoch"]
    return killed_at, [procs[0].pid], start_workers(model_dir, scratch, *args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same three epochs trained in one process, over two logical CPUs and by two workers
    (killed after a checkpoint and restarted)."""
    root = tmp_path_factory.mktemp("strategies")
    single = clitools.run("pix2pix_tf.train", *FLAGS, "--epochs=3", "--strategy=default",
                          f"--model_dir={root / 'default'}")
    mirrored = clitools.run("pix2pix_tf.train", *FLAGS, "--epochs=3", "--strategy=mirrored",
                            "--cpu_devices=2", f"--model_dir={root / 'mirrored'}")
    killed_at, chiefs, procs = start_killed_and_restarted_workers(
        root / "multi_worker", root / "scratch", "--epochs=3")
    chiefs.append(procs[0].pid)
    return root, single, mirrored, (killed_at, chiefs, finish(procs))


def test_every_strategy_trains_the_same_model(runs):
    root, _, _, _ = runs
    reference = scalars(root / "default" / "logs" / "train")
    validation = scalars(root / "default" / "logs" / "validation")
    assert len(reference["epoch_d_loss"]) == 3 and len(validation["epoch_psnr"]) == 3
    expected = batch_norm_statistics(root / "default")
    assert len(expected) >= 8
    for name in ("mirrored", "multi_worker"):
        # Epochs logged before the kill may be lost with the unflushed event file: the last epoch
        # was trained after the restart.
        last = slice(None) if name == "mirrored" else slice(-1, None)
        for tag in ("epoch_d_loss", "epoch_g_gan", "epoch_g_l1"):
            np.testing.assert_allclose(scalars(root / name / "logs" / "train")[tag][last],
                                       reference[tag][last], rtol=1e-4)
        np.testing.assert_allclose(scalars(root / name / "logs" / "validation")["epoch_psnr"][last],
                                   validation["epoch_psnr"][last], rtol=1e-4)
        got = batch_norm_statistics(root / name)
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-3, atol=1e-5)
        assert (root / name / "saved_model" / "saved_model.pb").is_file()


def test_killed_workers_resume_together(runs):
    root, _, _, (killed_at, _, outputs) = runs
    assert killed_at < 3
    for out in outputs:
        assert f"at epoch {killed_at}" in out and "Epoch 3/3" in out
    assert run_folder.read_state(root / "multi_worker" / "checkpoints")["epoch"] == 3


def test_only_the_chief_writes_and_the_other_worker_leaves_nothing(runs):
    root, _, _, (_, chiefs, _) = runs
    run = root / "multi_worker"
    writers = {int(os.path.basename(p).split(".")[-3])
               for p in glob.glob(str(run / "logs" / "**" / "events.*"), recursive=True)}
    assert writers and writers <= set(chiefs)  # the chief before and after the restart
    assert "epoch_0003.png" in os.listdir(run / "samples")
    assert all(name.startswith("epoch_000") for name in os.listdir(run / "samples"))
    # The other worker's throwaway files are gone. TF's autograph modules are not ours: it removes
    # them at exit, and a killed process leaves them (once, in a full suite run, this folder was not
    # empty; what it held was not recorded, so the listing is now in the message).
    left = [n for n in os.listdir(root / "scratch" / "tmp1") if not n.startswith("__autograph_generated")]
    assert left == [], os.listdir(root / "scratch" / "tmp1")


def test_workers_without_a_seed_read_every_example_once_an_epoch(tmp_path):
    """Without --seed the chief draws the data seed and every worker takes it: the two workers'
    shares of each global batch come from one shuffle, so an epoch gives every example once."""
    folder = tmp_path / "numbered"
    folder.mkdir()
    for number in range(16):  # image k is all k: what a replica was given reads off its pixels
        images.write_image(folder / f"{number:02d}.png", np.full((8, 8, 3), number, np.uint8))
    output = tmp_path / "given{index}.json"
    procs = start_cluster([sys.executable, os.path.join(os.path.dirname(__file__), "data_order_worker.py"),
                           f"--data={folder}", f"--model_dir={tmp_path / 'run'}", "--image_size=8",
                           "--batch_size=4", "--strategy=multi_worker", "--xla=off",
                           "--mixed_precision=off", f"--output={output}"], tmp_path / "scratch")
    outputs = finish(procs)
    reports = [json.loads((tmp_path / f"given{index}.json").read_text()) for index in range(2)]
    assert reports[0]["seed"] == reports[1]["seed"]
    assert sum(f"data seed {reports[0]['seed']}" in out for out in outputs) == 1  # the chief's line
    given = [number for report in reports for share in report["given"] for number in share]
    assert sorted(given) == list(range(16))  # 4 steps x 2 workers x 2 each
    assert all(len(share) == 2 for report in reports for share in report["given"])
