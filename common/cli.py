"""Running a command-line tool with its exit codes: 2 for bad arguments, as absl's 1 means failures here.

Every tool (and every train.py) exits 0 when all went well, 1 when some inputs failed (and were
named), and 2 when its arguments are wrong: a missing or unparsable flag, a SavedModel or folder that
is not there, another model's export. `--help` exits 0. Stopped by Ctrl-C (SIGINT) or SIGTERM, a
tool prints one line, which for training says where the run stopped and that the same command
resumes it, and exits 130 or 143 (128 + the signal's number, as a shell reports it).
"""

import contextlib
import os
import re
import signal
import sys

from absl import app


HELP_FLAGS = ("--help", "-help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def parse_flags(argv):
    """absl's parser, but a flag it cannot parse is a bad argument: exit code 2, not absl's 1, and
    asking for help is no error: exit 0 (absl exits 1 after printing it)."""
    try:
        return app.parse_flags_with_usage(argv)
    except SystemExit as stop:
        if stop.code == 1 and any(arg.split("=")[0] in HELP_FLAGS for arg in argv[1:]):
            sys.exit(0)
        sys.exit(2 if stop.code == 1 else stop.code)


def check_arguments(argv, flag_values, *required):
    """Usage errors for words left after the flags and for each flag in `required` that is not set."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    for name in required:
        if not getattr(flag_values, name):
            raise app.UsageError(f"--{name} is required")


def _writable_parent(flag, path):
    """A usage error unless the nearest existing folder above `path` is a folder this process can
    write in (a file on the way, or a read-only place, would fail only after the work)."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise app.UsageError(f"--{flag}={path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise app.UsageError(f"--{flag}={path}: cannot write in {parent}")


def output_folder(flag_values, flag):
    """A usage error unless --flag, if given, can hold results: a folder, or a path where one can be
    made. Tools call this first, before they load a model or write anything."""
    path = getattr(flag_values, flag)
    if not path:
        return
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise app.UsageError(f"--{flag}={path} is a file: give a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise app.UsageError(f"--{flag}={path}: cannot write in this folder")
        return
    _writable_parent(flag, path)


def output_file(flag_values, flag, extensions, overwrite):
    """A usage error unless --flag, if given, names a file to write: ending in one of `extensions`, not
    a folder, and not an existing file unless `overwrite` (a tool's --overwrite)."""
    path = getattr(flag_values, flag)
    if not path:
        return
    if os.path.isdir(path):
        raise app.UsageError(f"--{flag}={path} is a folder: give a file name ending in "
                             f"{', '.join(extensions)}")
    if os.path.splitext(path)[1].lower() not in extensions:
        raise app.UsageError(f"--{flag}={path}: give a file name ending in {', '.join(extensions)}")
    if os.path.exists(path) and not overwrite:
        raise app.UsageError(f"--{flag}={path} exists: pass --overwrite to replace it")
    _writable_parent(flag, path)


def keyword_or_path(flag_values, flag, *keywords):
    """A usage error unless --flag is one of `keywords` or names a file or folder that exists."""
    value = getattr(flag_values, flag)
    if value not in keywords and not os.path.exists(value):
        raise app.UsageError(f"--{flag}={value}: no such file or folder (give "
                             f"{' or '.join(keywords)}, or the path of an export)")


def converted(convert, *args, **kwargs):
    """`convert(*args, **kwargs)` of a checkpoint converter; a checkpoint that cannot be read or does
    not fit (CheckpointError, PortingError) is printed in one line, exit 1."""
    try:
        return convert(*args, **kwargs)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None


@contextlib.contextmanager
def bad_arguments_exit_2():
    """A FileNotFoundError or ValueError raised inside (a missing model or folder, another model's
    export, weights of the wrong network) is a bad argument: printed in one line, exit 2."""
    try:
        yield
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def exit_after(work):
    """Run `work()`, which returns how many inputs failed (each named on stderr), and exit with the code
    of the module docstring: a FileNotFoundError or ValueError from it is a bad argument (a missing
    model or folder), printed and exit 2."""
    with bad_arguments_exit_2():
        failed = work()
    sys.exit(1 if failed else 0)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, as Ctrl-C raises KeyboardInterrupt, so that both
    unwind the same way (training's checkpoint stays the last finished epoch's: saves are atomic)."""


def _terminate(signum, frame):
    raise Terminated()


def stopped(interrupt):
    """Exit after a KeyboardInterrupt or Terminated: one line (with the `resume` note training adds
    to it), and 128 + the signal's number."""
    sig = signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT
    note = getattr(interrupt, "resume", None)
    print(f"stopped by {sig.name}" + (f": {note}" if note else ""), file=sys.stderr)
    sys.exit(128 + sig.value)


def run(main):
    """app.run(main) with the exit codes above: a usage error (app.UsageError) is one line, exit 2
    (absl would print the flags' help after it), an image that stops a training run
    (--on_bad_image=fatal) is named in one line, exit 1, and a stop by SIGINT or SIGTERM is one
    line, exit 130 or 143."""
    def guarded(argv):
        signal.signal(signal.SIGTERM, _terminate)
        try:
            return main(argv)
        except KeyboardInterrupt as interrupt:
            stopped(interrupt)
        except app.UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except Exception as err:  # an OpError raised inside tf.data, where the image reader named it
            tf = sys.modules.get("tensorflow")  # not imported by tools that have not loaded it
            found = (tf is not None and isinstance(err, tf.errors.OpError)
                     and re.search(r"cannot read image [^\n]*", err.message))
            if not found:
                raise
            print(f"error: {found.group(0)}", file=sys.stderr)
            sys.exit(1)

    app.run(guarded, flags_parser=parse_flags)
