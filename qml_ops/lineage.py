"""Data lineage from ``dvc.lock``: which version of a stage output a run used.

DVC records an md5 for every stage output in ``dvc.lock``; MLflow runs tag
themselves with it, so a run can be traced back to the exact data.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from qml_ops.errors import DataError


def dvc_md5(output: str | Path, lock_file: str | Path = "dvc.lock") -> str:
    """The md5 DVC recorded for a stage output (a file, or a folder: ``…​.dir``).

    Args:
        output: the output path as written in ``dvc.yaml`` (e.g. ``data/encoded``).
        lock_file: the ``dvc.lock`` to read.

    Raises:
        DataError: no lock file, or no stage lists that output.
    """
    lock_file = Path(lock_file)
    try:
        lock = yaml.safe_load(lock_file.read_text()) or {}
    except FileNotFoundError:
        raise DataError(f"{lock_file}: not found (run `dvc repro` first)") from None
    wanted = Path(output).as_posix().rstrip("/")
    for stage_name, stage in (lock.get("stages") or {}).items():
        for out in stage.get("outs") or []:
            if Path(out.get("path", "")).as_posix().rstrip("/") == wanted:
                return str(out["md5"])
    raise DataError(f"{lock_file}: no stage has an output {wanted!r}")


def dvc_md5_or_none(output: str | Path, lock_file: str | Path = "dvc.lock") -> str | None:
    """Like :func:`dvc_md5`, but ``None`` when the lock does not know it yet."""
    try:
        return dvc_md5(output, lock_file)
    except DataError:
        return None


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit (with ``-dirty`` if the tree has changes), or None."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{sha}-dirty" if dirty else sha
