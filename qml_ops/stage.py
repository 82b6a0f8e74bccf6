"""Shared plumbing for the DVC stage entry points in ``pipelines/``.

:func:`run_stage` gives every stage the same behaviour: parse ``--params``,
validate the file through :mod:`qml_ops.config` before any work, turn a
:class:`~qml_ops.errors.QmlOpsError` into one clear message and its exit code
(2 for bad params), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

from qml_ops.config import DEFAULT_PARAMS, Check, Params, load_params
from qml_ops.errors import QmlOpsError


def run_stage(name: str, body: Callable[[Params], None], argv: list[str] | None = None,
              checks: Sequence[Check] = (), preflight: Sequence[Callable[[], object]] = ()) -> int:
    """Run one stage: validate the params (schema, then ``checks``), run the ``preflight``
    callables (e.g. :func:`qml_ops.tracking.check_store`: is the tracking server up?), then
    ``body(params)``. Nothing of the stage's work starts before all of these pass."""
    parser = argparse.ArgumentParser(prog=f"pipelines/{name}.py", description=f"DVC stage '{name}'")
    parser.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        params = load_params(args.params, checks=checks)
        for check in preflight:
            check()
        body(params)
    except QmlOpsError as exc:
        print(f"stage {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"stage {name}: interrupted", file=sys.stderr)
        return 130
    print(f"stage {name}: done in {time.perf_counter() - started:.1f} s")
    return 0
