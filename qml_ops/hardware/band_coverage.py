"""How often a device's real accuracy fell inside its predicted band: the predictor's score over time.

After each real QPU run (``hardware.mode: qpu``) the stage appends one entry per
device to ``hardware/band_coverage.json`` in the project (beside the task ledger;
also for ``dvc exp run --temp`` copies, which map back to the real root), written
atomically (:func:`qml_ops.io.write_json`)::

    {"format": "qml-ops-band-coverage/1",
     "devices": {"iqm-garnet": {"runs": 3, "covered": 2, "coverage_rate": 0.667,
                                "entries": [{"run_key": …, "run_id": …, "model_version": …, "profile_date": …,
                                             "accuracy": …, "predicted_accuracy_low": …,
                                             "predicted_accuracy_high": …, "band_covered": true,
                                             "recorded_at": …}, …]}}}

An entry is keyed by the QPU run's key (model version, samples and shots: the
key the task ledger reconnects by): re-reporting the same paid run (a resume, a
re-run that reconnects to its tasks) replaces its entry instead of counting twice. Emulated runs are never recorded (an
emulator is the optimistic model itself, not evidence about the predictor).

Example:
    >>> rate = record_coverage(result, run_key="qcnn-v3-72x512", run_id="abc", model_version="3")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qml_ops.errors import HardwareError
from qml_ops.io import read_json, write_json
from qml_ops.hardware.ledger import utc_now

__all__ = ["COVERAGE_FILE", "FORMAT", "default_coverage_path", "load_coverage", "record_coverage"]

FORMAT = "qml-ops-band-coverage/1"
#: Where the record lives, under the project root.
COVERAGE_FILE = Path("hardware") / "band_coverage.json"


def default_coverage_path() -> Path:
    """``hardware/band_coverage.json`` under the project root."""
    from qml_ops.project import find_root

    return find_root() / COVERAGE_FILE


def load_coverage(path: str | Path | None = None) -> dict[str, Any]:
    """The coverage record (an empty one when the file does not exist yet).

    Raises:
        HardwareError: the file exists but is not a coverage record (it is left as it is).
    """
    path = Path(path) if path is not None else default_coverage_path()
    if not path.exists():
        return {"format": FORMAT, "devices": {}}
    try:
        doc = read_json(path)
    except ValueError as exc:
        raise HardwareError(f"{path}: not valid JSON ({exc}); fix or move the file (the band coverage "
                            "record)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("devices"), dict):
        raise HardwareError(f"{path}: format must be {FORMAT!r} with a 'devices' object, but got "
                            f"format={doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    return doc


def record_coverage(result: Any, *, run_key: str, run_id: str, model_version: str,
                    path: str | Path | None = None) -> float | None:
    """Append ``result``'s band outcome to the device's record; return its coverage rate.

    Args:
        result: a :class:`~qml_ops.hardware.validation.DeviceResult` of a QPU run.
        run_key: the QPU run's key (the entry's identity on this device).
        run_id: the MLflow run id of the device's run.
        model_version: the validated model version.
        path: the record (default: :func:`default_coverage_path`).

    Returns:
        Covered runs / recorded runs of that device, or ``None`` when nothing was
        predicted for it (no ``predicted_band``: e.g. no T1/T2, too many qubits; its
        trivial band [0, 1] is not evidence): nothing is recorded.
    """
    m = result.metrics
    if m.get("predicted_band") is None or m.get("band_covered") is None:
        return None
    path = Path(path) if path is not None else default_coverage_path()
    doc = load_coverage(path)
    device = doc["devices"].setdefault(result.device, {"entries": []})
    entry = {
        "run_key": run_key, "run_id": run_id, "model_version": str(model_version),
        "profile_date": m.get("profile_date"),
        "accuracy": m["accuracy"], "predicted_accuracy_low": m["predicted_accuracy_low"],
        "predicted_accuracy_high": m["predicted_accuracy_high"],
        "band_covered": bool(m["band_covered"]),
        "recorded_at": utc_now(),
    }
    device["entries"] = [e for e in device["entries"] if e.get("run_key") != run_key] + [entry]
    device["runs"] = len(device["entries"])
    device["covered"] = sum(1 for e in device["entries"] if e["band_covered"])
    device["coverage_rate"] = round(device["covered"] / device["runs"], 6)
    write_json(path, doc)
    return device["coverage_rate"]
