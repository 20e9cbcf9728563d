"""Running a command-line tool with its exit codes: 2 for bad arguments, as absl's 1 means failures here.

Every tool exits 0 when all went well, 1 when some inputs failed (and were named), and 2 when its
arguments are wrong: a missing or unparsable flag, a SavedModel or folder that is not there.
"""

import sys

from absl import app


def parse_flags(argv):
    """absl's parser, but a flag it cannot parse is a bad argument: exit code 2, not absl's 1."""
    try:
        return app.parse_flags_with_usage(argv)
    except SystemExit as stop:
        sys.exit(2 if stop.code == 1 else stop.code)


def usage_error(message):
    """An absl usage error (printed with the flags' help) that exits with code 2."""
    return app.UsageError(message, exitcode=2)


def check_arguments(argv, flag_values, *required):
    """Usage errors for words left after the flags and for each flag in `required` that is not set."""
    if len(argv) > 1:
        raise usage_error(f"unexpected arguments: {' '.join(argv[1:])}")
    for name in required:
        if not getattr(flag_values, name):
            raise usage_error(f"--{name} is required")


def exit_after(work):
    """Run `work()`, which returns how many inputs failed (each named on stderr), and exit with the code
    of the module docstring: a FileNotFoundError or ValueError from it is a bad argument (a missing
    model or folder), printed and exit 2."""
    try:
        failed = work()
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if failed else 0)


def run(main):
    """app.run(main) with the exit codes above."""
    app.run(main, flags_parser=parse_flags)
