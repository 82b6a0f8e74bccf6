"""The ``qml-ops`` command line.

Each area of the library contributes its sub-commands through a
``register(subparsers)`` function (see ``COMMAND_MODULES``); this module only
builds the parser and turns :class:`~qml_ops.errors.QmlOpsError` into a clear
message and an exit code, never a traceback.

Output into a pipe that closes early (``qml-ops devices --json | head``) ends
quietly with exit status 141, as for a program stopped by ``SIGPIPE``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from qml_ops import __version__
from qml_ops.errors import QmlOpsError

#: Exit status of a command whose reader closed the pipe (128 + SIGPIPE, as shells report).
EXIT_BROKEN_PIPE = 141

#: Modules that expose ``register(subparsers)``; each adds its own sub-commands.
COMMAND_MODULES = (
    "qml_ops.config_commands",
    "qml_ops.hardware.commands",
    "qml_ops.tracking_commands",
    "qml_ops.tuning.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qml-ops",
        description="Experiment tracking for hybrid quantum ML: train on HPC, validate on QPU.",
    )
    parser.add_argument("--version", action="version", version=f"qml-ops {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not built yet
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except QmlOpsError as exc:
        print(f"qml-ops: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qml-ops: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at the null device, so the flush at exit cannot fail again
    (the recipe of Python's ``signal`` documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
