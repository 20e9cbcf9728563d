"""Running the command-line tools in a subprocess, as a user does, and reading what they wrote."""

import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

from common import run_folder

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run(module, *args, check=True, env=None):
    """`python -m module args`, with `env` added to the environment."""
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                            env=dict(ENV, **(env or {})), timeout=300)
    if check and result.returncode:
        raise AssertionError(result.stderr[-3000:])
    return result


def run_without_tensorflow(module, *args):
    """`python -m module args` in a process where importing TensorFlow fails: what a tool does before
    it loads TensorFlow (an ImportError shows that it tried)."""
    script = ("import runpy, sys; sys.modules['tensorflow'] = None; "
              f"sys.argv = [{module!r}, *{list(args)!r}]; runpy.run_module({module!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV,
                          timeout=300)


def state(model_dir):
    """The training state in a run's checkpoint (epoch, model, config, random_state, ...)."""
    return run_folder.read_state(model_dir / "checkpoints")


def g_steps(model_dir):
    """The generator optimizer's step counter stored in the checkpoint."""
    with h5py.File(model_dir / "checkpoints" / "latest.weights.h5") as f:
        return int(f["g_optimizer/vars/0"][()])


def serve_in_fresh_process(saved_model, arrays, tmp_path, packages):
    """Outputs of a SavedModel's serving_default on uint8 `arrays` ({name: array}), computed in a new
    Python process that must not import any of `packages`: the export stands on TensorFlow alone."""
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    script = f"""
import json, sys
import numpy as np, tensorflow as tf
serve = tf.saved_model.load({str(saved_model)!r}).signatures["serving_default"]
for name in {sorted(arrays)!r}:
    out = serve(images=tf.constant(np.load({str(tmp_path)!r} + f"/{{name}}.npy")))["images"]
    np.save({str(tmp_path)!r} + f"/{{name}}_out.npy", out.numpy())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {tuple(packages)!r})))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env=ENV)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # none of this package
    return {name: np.load(tmp_path / f"{name}_out.npy") for name in arrays}


def endpoints_in_fresh_process(saved_model, calls, tmp_path, packages):
    """Like serve_in_fresh_process, for any endpoints and inputs: `calls` is {key: (endpoint name,
    {input name: array})}; returns {key: {output name: array}} (strings as bytes arrays)."""
    for key, (_, inputs) in calls.items():
        np.savez(tmp_path / f"{key}_in.npz", **inputs)
    endpoints = {key: endpoint for key, (endpoint, _) in calls.items()}
    script = f"""
import json, sys
import numpy as np, tensorflow as tf
model = tf.saved_model.load({str(saved_model)!r})
for key, endpoint in {endpoints!r}.items():
    inputs = np.load({str(tmp_path)!r} + f"/{{key}}_in.npz")
    outputs = model.signatures[endpoint](**{{k: tf.constant(inputs[k]) for k in inputs.files}})
    outputs = {{k: v.numpy() for k, v in outputs.items()}}
    np.savez({str(tmp_path)!r} + f"/{{key}}_out.npz",
             **{{k: v.astype("S") if v.dtype == object else v for k, v in outputs.items()}})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {tuple(packages)!r})))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env=ENV)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # none of this package
    return {key: dict(np.load(tmp_path / f"{key}_out.npz")) for key in calls}


def deployed_in_fresh_process(calls, tmp_path):
    """Outputs of LiteRT and ONNX files run as a deployment runs them: `calls` is {key: (file,
    signature, {input name: array})}; a new Python process runs each .tflite signature in LiteRT's
    interpreter and each .onnx file in ONNX Runtime, and imports neither TensorFlow nor this package.
    Returns {key: {output name: array}}."""
    for key, (_, _, inputs) in calls.items():
        np.savez(tmp_path / f"{key}_in.npz", **inputs)
    plan = {key: (str(file), signature) for key, (file, signature, _) in calls.items()}
    script = f"""
import json, sys
import numpy as np, onnxruntime
from ai_edge_litert.interpreter import Interpreter
for key, (file, signature) in {plan!r}.items():
    loaded = np.load({str(tmp_path)!r} + f"/{{key}}_in.npz")
    inputs = {{name: loaded[name] for name in loaded.files}}
    if file.endswith(".tflite"):
        outputs = Interpreter(model_path=file).get_signature_runner(signature)(**inputs)
    else:
        session = onnxruntime.InferenceSession(file, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, inputs)))
    np.savez({str(tmp_path)!r} + f"/{{key}}_out.npz", **outputs)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                        ("tensorflow", "keras", "common", "pix2pix_tf", "dcgan_tf", "dpe_tf",
                         "pienet_tf", "gpen_tf"))))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # no TensorFlow, no package
    return {key: dict(np.load(tmp_path / f"{key}_out.npz")) for key in calls}


def run_to_fault(point, epoch, module, *args):
    """`python -m module args` ended at `point` of its checkpoint save of `epoch` (see faulty_save.py)."""
    result = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "faulty_save.py"),
                             point, str(epoch), module, *args], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode == 17, result.stderr[-3000:]  # faulty_save.KILLED
    return result


def stop_after_first_checkpoint(sig, model_dir, module, *args):
    """`python -m module args --model_dir=model_dir`, sent signal `sig` once its first checkpoint is
    written; the finished process."""
    child = subprocess.Popen([sys.executable, "-m", module, *args, f"--model_dir={model_dir}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    checkpoint = model_dir / "checkpoints" / run_folder.WEIGHTS
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    child.send_signal(sig)
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def checkpoint_arrays(model_dir):
    """{name: array} of every variable in a run's checkpoint, random number state included."""
    arrays = {}
    with h5py.File(model_dir / "checkpoints" / "latest.weights.h5") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    for k, value in enumerate(state(model_dir)["random_state"]):
        arrays[f"random_state/{k}"] = np.asarray(value)
    return arrays


def assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    different = [name for name in a if not np.array_equal(a[name], b[name])]
    assert not different, f"{len(different)} of {len(a)} arrays differ, e.g. {different[:5]}"
