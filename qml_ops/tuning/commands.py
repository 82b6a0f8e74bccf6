"""``qml-ops tune``: run a study locally; ``qml-ops tune worker``: join one.

``qml-ops tune`` stands in for the ``tune`` stage outside DVC: like it, it
writes ``tune/best_params.json`` and ``metrics/tune.json`` (where a job script
reads the study name for its workers).
"""

from __future__ import annotations

import argparse

from qml_ops.config import DEFAULT_PARAMS, load_params


def cmd_tune(args: argparse.Namespace) -> int:
    from qml_ops import io, project
    from qml_ops.tuning.runner import best_params_document, run_study

    params = load_params(args.params)
    summary = run_study(params, args.params, workers=args.workers)
    io.write_json(project.TUNED_PARAMS_FILE, best_params_document(summary))
    io.write_json(project.TUNE_METRICS, summary)
    print(f"tune: best {summary['best_value']:.4f} (trial {summary['best_trial']}): {summary['best_params']}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from qml_ops.tuning.runner import worker

    params = load_params(args.params)
    return worker(params, args.study, args.storage, threads=args.threads, timeout_s=args.timeout)


def register(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser(
        "tune", help="Optuna study over the QCNN (resumes; every trial an MLflow run)",
        description="Create or resume the study of params.yaml's tune section and run it to tune.n_trials.",
    )
    tune.add_argument("--params", default=DEFAULT_PARAMS)
    tune.add_argument("--workers", type=int, default=None, help="local worker processes (default: tune.workers)")
    tune.set_defaults(func=cmd_tune)
    sub = tune.add_subparsers(dest="tune_command", metavar="ACTION")
    join = sub.add_parser(
        "worker", help="join an existing study (e.g. from an HPC node)",
        description="Run trials of an existing study until it holds tune.n_trials. The storage URL may also "
        "come from $QML_OPS_TUNE_STORAGE (keeps a password out of the process list).",
    )
    join.add_argument("--study", required=True)
    join.add_argument("--storage", default=None, help="RDB URL, e.g. postgresql://user@host/db")
    join.add_argument("--params", default=DEFAULT_PARAMS)
    join.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    join.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    join.set_defaults(func=cmd_worker)
