"""Atomic file writes: a failed stage never leaves a half-written output.

Each writer writes to a temporary file in the target's folder, flushes it to
disk, then renames it over the target (atomic on POSIX).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any, Iterator

import numpy as np


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(target: str | Path, data: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def write_npz(target: str | Path, **arrays: np.ndarray) -> None:
    """Like ``np.savez_compressed``, but byte-for-byte reproducible.

    numpy stamps each zip member with the current time, so the same arrays
    would get a new DVC md5 on every run and re-run everything downstream; here
    every member carries a fixed timestamp.
    """
    with atomic_path(target, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                buffer = BytesIO()
                np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
                member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                member.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(member, buffer.getvalue())


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_figure(target: str | Path, fig: Any, **savefig_kwargs: Any) -> None:
    """Save a matplotlib figure (format from the target's suffix, e.g. ``.png``).

    Example:
        >>> write_figure("plots/hardware/accuracy.png", fig, dpi=110)   # doctest: +SKIP
    """
    target = Path(target)
    fmt = target.suffix.lstrip(".") or None
    with atomic_path(target, suffix=target.suffix) as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kwargs)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
