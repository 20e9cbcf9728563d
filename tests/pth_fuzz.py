"""Seeded mutations of small .pth files, each loaded by common.pth in a child process of its own.

    python tests/pth_fuzz.py --seed=0 --count=200 a.pth b.pth     # one JSON line per mutation

Mutations: bit flips, truncations, a pickle's integers replaced (the sizes, strides, offsets and
element counts of its tensors and storages), opcodes swapped for others, bytes cut out or repeated.
In a zip checkpoint the pickle and the storages are mutated inside the archive, which is then written
again (a mutated byte in a stored entry would only fail its CRC), and the archive's own bytes too.

Each mutation is loaded in a forked child under a memory limit, with tracemalloc counting what it
allocates; a line says what happened: "loaded", "refused" (a CheckpointError, with its message),
"other" (any other exception: a failure of the reader) or "crash" (the child died of a signal), and
the peak of allocated bytes. Imports nothing but numpy and common.pth: no TensorFlow in the children.
"""

import argparse
import io
import json
import os
import pickletools
import random
import resource
import signal
import sys
import tempfile
import tracemalloc
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import pth  # noqa: E402

_OPCODES = [op.code.encode("latin-1") for op in pickletools.opcodes]
_INTEGERS = {"BININT1", "BININT2", "BININT", "LONG1"}


def pickle_spans(data, count):
    """(opcode position, opcode name, argument position, argument length) of the first `count`
    pickles in `data`."""
    stream, spans = io.BytesIO(data), []
    for _ in range(count):
        ops = list(pickletools.genops(stream))
        for (op, _, pos), following in zip(ops, ops[1:] + [(None, None, stream.tell())]):
            spans.append((pos, op.name, pos + 1, following[2] - pos - 1))
    return spans


def mutate_bytes(data, rng, spans):
    data = bytearray(data)
    kind = rng.choice(["flip", "truncate", "integer", "integer", "opcode", "splice"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del data[rng.randrange(len(data)):]
    elif kind == "integer":
        numbers = [s for s in spans if s[1] in _INTEGERS] or spans
        _, name, start, length = rng.choice(numbers)
        if name == "LONG1":
            start, length = start + 1, length - 1
        value = rng.choice([0, 1, 255, rng.randrange(256 ** length)])
        data[start:start + length] = value.to_bytes(length, "little") if length else b""
    elif kind == "opcode":
        data[rng.choice(spans)[0]] = rng.choice(_OPCODES)[0]
    else:
        start = rng.randrange(len(data))
        chunk = bytes(data[start:start + rng.randint(1, 64)])
        if rng.random() < 0.5:
            del data[start:start + len(chunk)]
        else:
            data[start:start] = chunk * rng.randint(1, 3)
    return bytes(data), kind


def mutate_zip(data, rng):
    """A zip checkpoint with its pickle, one of its storages, or its own bytes mutated."""
    where = rng.choice(["pickle", "pickle", "storage", "archive"])
    if where == "archive":
        mutated, kind = mutate_bytes(data, rng, [(rng.randrange(len(data)), "", 0, 0)])
        return mutated, f"archive {kind}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    pickle_name = next(n for n in entries if n.endswith("data.pkl"))
    if where == "pickle":
        entries[pickle_name], kind = mutate_bytes(entries[pickle_name], rng,
                                                  pickle_spans(entries[pickle_name], 1))
    else:
        name = rng.choice([n for n in entries if "/data/" in n])
        raw = entries[name]
        cut = rng.randrange(len(raw) + 1)
        entries[name], kind = (raw[:cut], "cut") if rng.random() < 0.5 else (raw + raw[:cut], "grown")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue(), f"{where} {kind}"


def mutations(path, rng, count):
    with open(path, "rb") as f:
        data = f.read()
    spans = None if data[:2] == b"PK" else pickle_spans(data, 5)
    for _ in range(count):
        yield mutate_zip(data, rng) if spans is None else mutate_bytes(data, rng, spans)


def load_in_child(path, memory_limit):
    """What loading `path` does, found in a forked child: a dict for one JSON line."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's clean-up
        try:
            os.close(read)
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
            signal.alarm(30)  # a hang is a failure too: the alarm's signal reports it as a crash
            tracemalloc.start()
            try:
                pth.load(path)
                outcome, message = "loaded", ""
            except pth.CheckpointError as err:
                outcome, message = "refused", str(err)
            except BaseException as err:  # noqa: B902  (what the test looks for)
                outcome, message = "other", f"{type(err).__name__}: {err}"
            peak = tracemalloc.get_traced_memory()[1]
            os.write(write, json.dumps({"outcome": outcome, "message": message[:500],
                                        "peak": peak}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) or not report:
        return {"outcome": "crash", "message": f"signal {os.WTERMSIG(status)}", "peak": 0}
    return json.loads(report)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=200, help="mutations of each file")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open("/proc/self/statm") as f:
        vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    memory_limit = vm_bytes + (1 << 30)
    with tempfile.TemporaryDirectory() as folder:
        for source in args.files:
            for k, (data, kind) in enumerate(mutations(source, rng, args.count)):
                path = os.path.join(folder, f"case{k}.pth")
                with open(path, "wb") as f:
                    f.write(data)
                result = load_in_child(path, memory_limit)
                print(json.dumps(dict(result, file=os.path.basename(source), case=k, mutation=kind,
                                      size=len(data))), flush=True)


if __name__ == "__main__":
    main()
