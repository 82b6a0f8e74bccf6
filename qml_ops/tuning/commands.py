"""``qml-ops tune``: run a study locally; ``tune worker``: join one; ``tune submit --slurm``:
a job array of workers; ``tune status``: trials per state and per worker.

``qml-ops tune`` stands in for the ``tune`` stage outside DVC: like it, it
writes ``tune/best_params.json``, ``metrics/tune.json``, ``reports/tune.json``
(the study name, storage and MLflow run) and ``plots/tune/trials.csv``.
"""

from __future__ import annotations

import argparse
import json

from qml_ops import tracking
from qml_ops.config import DEFAULT_PARAMS, load_params


def _load(path: str):
    """The params with the tune stage's catalogue checks (target devices, noise model)."""
    from qml_ops.hardware.params_check import check_target_devices

    return load_params(path, checks=(check_target_devices,))


def cmd_tune(args: argparse.Namespace) -> int:
    from qml_ops import io
    from qml_ops.tuning.runner import outputs, run_study

    params = _load(args.params)
    tracking.check_store()  # a tracking server that is down stops here, before any trial
    summary = run_study(params, args.params, workers=args.workers)
    for path, content in outputs(summary).items():
        (io.write_text if isinstance(content, str) else io.write_json)(path, content)
    print(f"tune: best {summary['best_value']:.4f} (trial {summary['best_trial']}): {summary['best_params']}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from qml_ops.tuning.runner import worker

    params = _load(args.params)
    tracking.check_store()  # a tracking server that is down stops here, before any trial
    return worker(params, args.study, args.storage, threads=args.threads, timeout_s=args.timeout)


def cmd_submit(args: argparse.Namespace) -> int:
    from qml_ops.tuning.slurm import ArrayRequest, submit_workers

    request = ArrayRequest(workers=args.workers, cpus_per_task=args.cpus_per_task, partition=args.partition,
                           time=args.time, gres=args.gres, account=args.account, mem=args.mem)
    params = _load(args.params)
    if not args.dry_run:  # a dry run contacts nothing
        tracking.check_store()  # a tracking server that is down stops here, before any job
    submission = submit_workers(params, args.params, request, allow_sqlite=args.allow_sqlite, dry_run=args.dry_run)
    if args.dry_run:
        print(submission.script, end="")
        return 0
    for note in submission.notes:
        print(f"tune submit: {note}")
    if submission.job_id:
        print(submission.instructions())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from qml_ops.tuning.runner import study_ref
    from qml_ops.tuning.slurm import storage_from_environment
    from qml_ops.tuning.status import format_status, study_status
    from qml_ops.tuning.study import StudyRef, load_study, storage_url

    params = storage_from_environment(load_params(args.params))
    if args.study:
        ref = StudyRef(args.study, storage_url(params.tune, args.study))
    else:
        from qml_ops.training_data import load_encoded

        ref = study_ref(params, load_encoded())
    status = study_status(load_study(params, ref), ref, params.tune.n_trials)
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


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

    submit = sub.add_parser(
        "submit", help="submit tuning workers as a Slurm job array",
        description="Create the study and its MLflow parent run, then submit N workers as a Slurm job array "
        "(sbatch --parsable) from the template qml_ops/tuning/templates/tune_workers.sbatch. The study storage "
        "is $QML_OPS_TUNE_STORAGE or tune.storage (an RDB every node reaches); it reaches the tasks through "
        "their environment, never the script. Trials log to $MLFLOW_TRACKING_URI (a shared server).",
    )
    submit.add_argument("--slurm", action="store_true", required=True, help="submit with Slurm's sbatch")
    submit.add_argument("--workers", type=int, required=True, help="array tasks (one worker each)")
    submit.add_argument("--partition", default=None)
    submit.add_argument("--time", default=None, help="time limit per task, e.g. 02:00:00")
    submit.add_argument("--cpus-per-task", type=int, default=1, help="CPUs per task (= torch threads)")
    submit.add_argument("--gres", default=None, help="generic resources, e.g. gpu:1 (with train.device: cuda)")
    submit.add_argument("--account", default=None)
    submit.add_argument("--mem", default=None, help="memory per node, e.g. 4G")
    submit.add_argument("--params", default=DEFAULT_PARAMS)
    submit.add_argument("--allow-sqlite", action="store_true",
                        help="allow SQLite study/MLflow stores (one-node clusters only)")
    submit.add_argument("--dry-run", action="store_true", help="print the filled script; create and submit nothing")
    submit.set_defaults(func=cmd_submit)

    status = sub.add_parser(
        "status", help="trials per state and per worker",
        description="Where a study stands: counted trials against tune.n_trials, trials per state, and per "
        "worker (its Slurm array task, or host:pid).",
    )
    status.add_argument("--study", default=None, help="study name (default: the one params.yaml selects)")
    status.add_argument("--params", default=DEFAULT_PARAMS)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
