"""How tools/speed_vs_torch.py talks to its timing workers (imported by both sides, so it needs
neither TensorFlow nor PyTorch).

A worker builds its case, runs the untimed warm-up steps and prints one JSON line describing itself;
then, for each line "N" read from stdin, it runs one untimed step (the others ran meanwhile: caches and
freed memory are cold) and N timed steps, and prints their wall times in seconds as a JSON list. It
exits at the end of stdin. The driver thus decides when each worker runs, so that workers alternate and
never run at the same time.
"""

import json
import sys
import time


def serve(step, warmup, **about):
    """Runs the worker loop for `step` (a function that returns once the step's work is done)."""
    for _ in range(warmup):
        step()
    print(json.dumps(about), flush=True)
    for line in sys.stdin:
        step()
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)
