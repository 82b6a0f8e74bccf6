"""Tuning workers as a Slurm job array (``qml-ops tune submit --slurm``).

The submitting process creates the study and its MLflow parent run first (so
array tasks never race to create them), fills the sbatch template kept in the
repository (``templates/tune_workers.sbatch``: array tasks ``0..N-1``, each one
``qml-ops tune worker``), writes it to ``slurm/<study>.sbatch`` and submits it
with ``sbatch --parsable``. The study storage URL reaches the tasks only through
the environment (``$QML_OPS_TUNE_STORAGE``, exported by sbatch), never through
the script or a command line, since it may carry a password.

Workers on several nodes need shared stores: an RDB for the study
(PostgreSQL, MySQL) and an MLflow tracking server. SQLite files are refused
unless ``allow_sqlite`` (a one-node cluster).

Example:
    >>> request = ArrayRequest(workers=4, cpus_per_task=2, partition="gpu", gres="gpu:1")
    >>> request.directives()
    ['#SBATCH --partition=gpu', '#SBATCH --gres=gpu:1']
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from qml_ops import io, tracking
from qml_ops.config import Params
from qml_ops.errors import ConfigError, QmlOpsError
from qml_ops.project import find_root

TEMPLATE = Path(__file__).with_name("templates") / "tune_workers.sbatch"
SLURM_DIR = Path("slurm")  # scripts and logs, under the project root (git-ignored)
LOG_DIR = SLURM_DIR / "logs"
_PLACEHOLDER = re.compile(r"{{(\w+)}}")
_OPTION_VALUE = re.compile(r"^[A-Za-z0-9_.:,=+/@%-]+$")  # one word: safe on an #SBATCH line


@dataclass(frozen=True)
class ArrayRequest:
    """What to ask Slurm for: N array tasks and the resources of each."""

    workers: int
    cpus_per_task: int = 1
    partition: str | None = None
    time: str | None = None
    gres: str | None = None  # e.g. gpu:1 (with train.device: cuda)
    account: str | None = None
    mem: str | None = None

    def __post_init__(self) -> None:
        for name in ("workers", "cpus_per_task"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} = {value!r}: must be a whole number >= 1")
        for name in ("partition", "time", "gres", "account", "mem"):
            value = getattr(self, name)
            if value is not None and not _OPTION_VALUE.match(value):
                raise ConfigError(f"--{name} = {value!r}: must be one word of letters, digits and _.:,=+/@%- "
                                  "(it becomes an #SBATCH line)")

    def directives(self) -> list[str]:
        """The optional ``#SBATCH`` lines (partition, time, gres, account, mem)."""
        return [f"#SBATCH --{name}={getattr(self, name)}"
                for name in ("partition", "time", "gres", "account", "mem") if getattr(self, name)]


@dataclass
class Submission:
    """A submitted (or, with ``job_id`` None, only rendered) job array."""

    study: str
    storage: str  # redacted
    script: str
    script_path: Path
    log_pattern: Path
    workers: int
    job_id: str | None = None
    params_path: str = "params.yaml"
    notes: list[str] = field(default_factory=list)

    def instructions(self) -> str:
        """What to run to follow the array (printed by ``qml-ops tune submit``)."""
        job = self.job_id
        logs = str(self.log_pattern).replace("%A", job).replace("%a", "<task>").replace("%x", job_name(self.study))
        return "\n".join([
            f"submitted: Slurm job array {job} ({self.workers} task(s)) on study {self.study!r} in {self.storage}",
            f"  script:   {self.script_path}",
            f"  logs:     {logs}",
            f"  follow:   squeue -j {job}        (pending and running tasks)",
            f"            sacct -j {job}         (finished tasks; needs Slurm accounting)",
            f"            qml-ops tune status --params {self.params_path}   (trials per state and per worker)",
            f"  cancel:   scancel {job}          (a killed trial is failed by its heartbeat and retried)",
        ])


def storage_from_environment(params: Params) -> Params:
    """``$QML_OPS_TUNE_STORAGE`` (if set) overrides ``tune.storage``, as for ``qml-ops tune worker``."""
    from qml_ops.tuning.runner import STORAGE_ENV

    url = os.environ.get(STORAGE_ENV)
    if not url:
        return params
    return params.model_copy(update={"tune": params.tune.model_copy(update={"storage": url})})


def check_shared_stores(storage_url: str, tracking_uri: str, allow_sqlite: bool) -> None:
    """Workers on other nodes cannot share SQLite files: refuse them unless allowed."""
    from qml_ops.tuning.study import redact

    if allow_sqlite:
        return
    if storage_url.startswith("sqlite"):
        raise ConfigError(
            f"study storage {redact(storage_url)!r} (tune.storage, or $QML_OPS_TUNE_STORAGE) is a SQLite file: "
            "Slurm workers on other nodes cannot share it (file locks do not hold across nodes). "
            "Use an RDB that every node reaches, e.g. tune.storage: postgresql+psycopg2://optuna@db-host/optuna "
            "(password in ~/.pgpass or $QML_OPS_TUNE_STORAGE), or pass --allow-sqlite on a one-node cluster."
        )
    if tracking_uri.startswith(("sqlite", "file:", "/")) or "://" not in tracking_uri:
        raise ConfigError(
            f"MLFLOW_TRACKING_URI = {redact(tracking_uri)!r}: Slurm workers on other nodes cannot share a "
            "local MLflow store. Export MLFLOW_TRACKING_URI=http://<mlflow-host>:5000 (a shared tracking "
            "server, see the README's team set-up), or pass --allow-sqlite on a one-node cluster."
        )


def job_name(study: str) -> str:
    """The Slurm job name of a study's workers (``%x`` in the log file names)."""
    return "tune-" + re.sub(r"[^A-Za-z0-9._-]", "-", study)


def render_script(study: str, params_file: Path, root: Path, request: ArrayRequest,
                  python: str = sys.executable) -> str:
    """The sbatch template with every placeholder filled (no secret goes in)."""
    if re.search(r"\s", str(root)):
        raise ConfigError(f"project root {str(root)!r}: #SBATCH --chdir/--output cannot hold a path with spaces")
    values = {
        "job_name": job_name(study),
        "last_task": str(request.workers - 1),
        "cpus_per_task": str(request.cpus_per_task),
        "project_root": str(root),
        "project_root_quoted": shlex.quote(str(root)),
        "log_pattern": str(root / LOG_DIR / "%x-%A_%a.out"),
        "resource_directives": "\n".join(request.directives()),
        "python": shlex.quote(python),
        "study": shlex.quote(study),
        "params": shlex.quote(str(params_file)),
    }
    template = TEMPLATE.read_text()
    missing = set(_PLACEHOLDER.findall(template)) - set(values)
    if missing:  # a template edited without this function
        raise QmlOpsError(f"{TEMPLATE}: unknown placeholder(s) {sorted(missing)}")
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return re.sub(r"\n\n+(?=set -euo)", "\n", text)  # no blank line where no optional directive went


def sbatch_binary() -> str:
    binary = shutil.which("sbatch")
    if binary is None:
        raise QmlOpsError("sbatch not found on PATH: run `qml-ops tune submit --slurm` on a Slurm login node "
                          "(or add --dry-run to see the script)")
    return binary


def sbatch(script_path: Path, storage_url: str) -> str:
    """Submit with ``sbatch --parsable``; the storage URL goes in the job's environment. Returns the job id."""
    from qml_ops.tuning.runner import STORAGE_ENV

    env = {**os.environ, STORAGE_ENV: storage_url}
    proc = subprocess.run([sbatch_binary(), "--parsable", str(script_path)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise QmlOpsError(f"sbatch refused {script_path} (exit {proc.returncode}): "
                          f"{reason[-1] if reason else 'no message'}")
    return proc.stdout.strip().split(";")[0]


def submit_workers(params: Params, params_path: str, request: ArrayRequest, allow_sqlite: bool = False,
                   dry_run: bool = False) -> Submission:
    """Create the study and its MLflow parent run, then submit the worker array.

    With ``dry_run`` nothing is created or submitted: the returned submission
    holds the filled script and no job id.
    """
    from qml_ops.training_data import load_encoded
    from qml_ops.tuning.runner import study_ref
    from qml_ops.tuning.study import create_or_load, n_finished, redact

    params = storage_from_environment(params)
    root = find_root()
    ref = study_ref(params, load_encoded(root))
    check_shared_stores(ref.storage_url, tracking.tracking_uri(root), allow_sqlite)
    params_file = Path(params_path).resolve()
    script_path = root / SLURM_DIR / f"{ref.name}.sbatch"
    submission = Submission(
        study=ref.name, storage=redact(ref.storage_url),
        script=render_script(ref.name, params_file, root, request),
        script_path=script_path, log_pattern=root / LOG_DIR / "%x-%A_%a.out",
        workers=request.workers, params_path=params_path,
    )
    if dry_run:
        return submission
    sbatch_binary()  # checked before the study exists: nothing half-made
    study = create_or_load(params, ref)
    done = n_finished(study)
    if done >= params.tune.n_trials:
        submission.notes.append(f"study {ref.name!r} already holds {done}/{params.tune.n_trials} trials: "
                                "nothing submitted (raise tune.n_trials to run more)")
        return submission
    (root / LOG_DIR).mkdir(parents=True, exist_ok=True)
    io.write_text(script_path, submission.script)
    submission.job_id = sbatch(script_path, ref.storage_url)
    return submission
