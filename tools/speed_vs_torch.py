"""Our models against a PyTorch reference of the same networks and steps, side by side, in alternating
rounds (a benchmark, not a test).

PyTorch is never a dependency of this package: install it in a throwaway environment and point
--torch_python at it.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    python tools/speed_vs_torch.py --torch_python=/tmp/torchenv/bin/python

Each case starts one worker process for the reference (tools/torch_reference.py: float32, as the
official code runs) and one for each of our --precisions (`off` is float32; `auto` is what training
picks: bfloat16 on a CPU that computes it natively, else float32; on a GPU mixed_float16, training with
XLA). After their warm-up steps the workers take turns, --rounds times, each running one untimed step
and --steps timed ones while the others wait, so that a machine slowing down or speeding up hits every
side alike. It prints the median milliseconds per step (and the range of the rounds' medians), and the
reference's time divided by ours: above 1 means ours is faster. Runs unchanged on a GPU (both sides use
it). With --primitives (CPU) it also sums, per side, the time of the oneDNN kernels each step ran: the
part of a step that no change above the kernels can shorten.

It also prints the GFLOP of our step, counted from the layers' shapes (tools/flops.py and
tools/speed_cases.py say what is counted), and our GFLOP/s as percentages of the float32 / bfloat16
peak of a large matmul, measured once at the start on the threads the workers use. The reference
gets no such figure: its step is not always ours (pytorch/examples' DCGAN also computes D's weight
gradients in its G step; DPE's reference forward runs the encoder once, our serving twice, once for
the global feature).
"""

import collections
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(TOOLS))

from absl import app, flags  # noqa: E402

# case: (model, image size, batch size, what is timed)
CASES = {
    "pix2pix_train": ("pix2pix", 256, 1, "train"),
    "dcgan_train": ("dcgan", 64, 64, "train"),
    "dpe_train": ("dpe", 512, 3, "train"),
    "dpe_infer": ("dpe", 512, 1, "infer"),
    "gpen256_infer": ("gpen", 256, 1, "infer"),
    "gpen512_infer": ("gpen", 512, 1, "infer"),
}

flags.DEFINE_list("cases", list(CASES), f"Cases to run, of {', '.join(CASES)}.")
flags.DEFINE_list("precisions", ["off", "auto"], "Our --mixed_precision settings to measure.")
flags.DEFINE_string("torch_python", None, "Python interpreter of an environment with torch.")
flags.DEFINE_integer("rounds", 3, "Turns each worker takes.")
flags.DEFINE_integer("steps", 3, "Timed steps per turn.")
flags.DEFINE_integer("warmup", 2, "Untimed steps before the first turn (tracing, allocation).")
flags.DEFINE_bool("primitives", False,
                  "Also print how long each side's oneDNN primitives ran per step, by kind (CPU only; "
                  "from ONEDNN_VERBOSE, which slows the steps, so quote no ratio from such a run).")
flags.DEFINE_string("worker", None, "Internal: run our side of this case as a worker.")
flags.DEFINE_string("precision", "auto", "Internal: the worker's --mixed_precision.")
FLAGS = flags.FLAGS


def weight_count(nets):
    """Weights a PyTorch module would list as parameters: all but batch norm's moving statistics."""
    return sum(math.prod(w.shape) for net in nets for w in net.weights if "moving_" not in w.path)


def our_worker(case):
    """Our side of `case`, timed through the training function `fit` runs, or the serving function."""
    import speed_cases  # first: importing this package sets TensorFlow's CPU options
    import flops
    import speed_protocol
    from common import runtime

    import numpy as np
    import tensorflow as tf

    rt = runtime.configure(mixed_precision=FLAGS.precision)
    name, size, batch_size, kind = CASES[case]
    model, batch, serve, served = speed_cases.build(
        name, mode="supervised" if name == "dpe" else None, image_size=size, batch_size=batch_size)
    nets = [model.generator]
    # Training compiles with XLA where training would (GPUs); exports are served without it, and
    # the antialiased resize of DPE's and GPEN's serving has no XLA kernel.
    jit = rt.jit_compile and kind == "train"
    if kind == "train":
        nets += [model.discriminator] if model.discriminator is not None else []  # DPE supervised
        count, formula = speed_cases.train_flop(name, model, batch)
        counted = f"train step {flops.gflop(count)} = {formula}"
        model.compile(jit_compile=jit)
        model.make_train_function()
        iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())

        def step():  # reading the logs waits for the step to finish, also on a GPU
            tf.nest.map_structure(np.asarray, model.train_function(iterator))
    else:
        count = flops.forward(serve, served)
        counted = f"inference call {flops.gflop(count)}"
        fn = tf.function(serve)
        inputs = tf.constant(served)

        def step():
            fn(inputs).numpy()

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu") if gpus
              else f"cpu ({os.cpu_count()} threads)")
    speed_protocol.serve(step, FLAGS.warmup, parameters=weight_count(nets), device=device,
                         framework=f"tensorflow {tf.__version__}",
                         precision=rt.policy + (" + XLA" if jit else ""),
                         flop=count.flop, counted=counted)


class Worker:
    """One timing process; its stderr goes to a file that is shown if it fails.

    With --primitives, oneDNN prints a line to stdout for every primitive it runs; those of the turns
    are summed by (primitive kind, direction), and TensorFlow runs one op at a time
    (TF_NUM_INTEROP_THREADS=1), as PyTorch does, so that ops running side by side on the shared
    cores do not inflate each other's times.
    """

    def __init__(self, label, command):
        self.label = label
        self.log = tempfile.TemporaryFile("w+")
        env = dict(os.environ, ONEDNN_VERBOSE="1", TF_NUM_INTEROP_THREADS="1") \
            if FLAGS.primitives else None
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, cwd=TOOLS, env=env)
        self.primitive_ms = collections.Counter()
        self.about = json.loads(self._reply())
        self.primitive_ms.clear()  # those of the warm-up steps
        self.times = []
        self.round_medians = []

    def _reply(self):
        for line in self.process.stdout:
            if not line.startswith("onednn_verbose"):
                return line
            fields = line.strip().split(",")
            if "exec" in fields:  # ...,exec,cpu,KIND,IMPLEMENTATION,DIRECTION,...,MILLISECONDS
                at = fields.index("exec")
                self.primitive_ms[fields[at + 2], fields[at + 4]] += float(fields[-1])
        self.log.seek(0)
        raise RuntimeError(f"{self.label} worker failed:\n{self.log.read()[-3000:]}")

    def run(self, steps):
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        times = json.loads(self._reply())
        self.times += times
        self.round_medians.append(statistics.median(times))

    def print_primitives(self):
        steps_run = len(self.times) + len(self.round_medians)  # each turn began with an untimed step
        total = sum(self.primitive_ms.values()) / steps_run
        print(f"    {self.label}: oneDNN primitives {total:.0f} ms per step" if total else
              f"    {self.label}: no oneDNN primitive ran")
        for (kind, direction), ms in self.primitive_ms.most_common():
            name = kind if direction == "undef" else f"{kind} {direction}"  # reorders have none
            print(f"      {name}: {ms / steps_run:.1f}")

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.log.close()

    def milliseconds(self):
        return 1000 * statistics.median(self.times)

    def spread(self):
        return f"{1000 * min(self.round_medians):.0f}-{1000 * max(self.round_medians):.0f}"


def run_case(case):
    name, size, batch_size, kind = CASES[case]
    reference = Worker("reference", [
        FLAGS.torch_python, "torch_reference.py", f"--case={name}_{kind}",
        f"--image_size={size}", f"--batch_size={batch_size}", f"--warmup={FLAGS.warmup}"])
    ours = [Worker(f"ours ({precision})", [
        sys.executable, os.path.abspath(__file__), f"--worker={case}", f"--precision={precision}",
        f"--warmup={FLAGS.warmup}"]) for precision in FLAGS.precisions]
    workers = [reference] + ours
    for r in range(FLAGS.rounds):
        for worker in workers[r % len(workers):] + workers[:r % len(workers)]:
            worker.run(FLAGS.steps)
    for worker in workers:
        worker.close()
    return reference, ours


def main(argv):
    del argv
    if FLAGS.worker:
        our_worker(FLAGS.worker)
        return
    import flops
    from common import options
    for flag, given, known in (("cases", FLAGS.cases, CASES), ("precisions", FLAGS.precisions,
                                                                options.PRECISIONS)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            sys.exit(f"--{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    if not FLAGS.torch_python:
        sys.exit("--torch_python: give the Python of an environment with torch")
    peaks = flops.matmul_peak()  # before any worker starts, so that none competes with it
    print(flops.describe_machine(peaks))
    print(f"{FLAGS.rounds} rounds of {FLAGS.steps} steps; ms per step, median (range of the rounds' "
          f"medians); ratio = reference / ours; GFLOP/s of ours (% of the float32/bfloat16 peak)")
    for case in FLAGS.cases:
        _, size, batch_size, _ = CASES[case]
        reference, ours = run_case(case)
        print(f"\n{case} ({size} px, batch {batch_size}); reference {reference.about['framework']} "
              f"on {reference.about['device']}, {reference.about['parameters']:,} parameters")
        print(f"  ours counted: {ours[0].about['counted']}")
        print(f"  reference  {reference.about['precision']:<24}{reference.milliseconds():>9.0f} ms "
              f"({reference.spread()})")
        for precision, worker in zip(FLAGS.precisions, ours):
            about = worker.about
            check = "" if about["parameters"] == reference.about["parameters"] else (
                f"  [parameters differ: {about['parameters']:,}]")
            gflops, of_peak = flops.rate(about["flop"], worker.milliseconds() / 1000, peaks)
            print(f"  ours {precision:<5} {about['precision']:<24}{worker.milliseconds():>9.0f} ms "
                  f"({worker.spread()})  x{reference.milliseconds() / worker.milliseconds():.2f}"
                  f"  {gflops:.1f} GFLOP/s ({of_peak})  on {about['device']}{check}", flush=True)
        if FLAGS.primitives:
            for worker in [reference, *ours]:
                worker.print_primitives()


if __name__ == "__main__":
    app.run(main)
