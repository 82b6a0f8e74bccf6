"""``qml-ops devices drift DEVICE``: calibration drift between a device's snapshots.

    qml-ops devices drift DEVICE [--from DATE] [--to DATE] [--top N] [--no-model] [--json]

Compares the oldest and the newest snapshot in ``profiles/snapshots/`` (or the
two dates given) qubit by qubit and coupler by coupler, the largest changes
first, and predicts the registered model's accuracy under every snapshot
(:mod:`qml_ops.hardware.drift`). Without a registered model the drift is still
shown, with a note (exit 0).
"""

from __future__ import annotations

import argparse
import json

from qml_ops.errors import HardwareError
from qml_ops.hardware import devices as catalogue
from qml_ops.hardware import drift
from qml_ops.hardware.profiles import snapshot_profiles, snapshots_dir


def register_devices(sub) -> None:
    """Add ``drift`` to the ``devices`` sub-commands."""
    p = sub.add_parser(
        "drift", help="calibration changes between a device's snapshots, and the model's accuracy under each",
        description="Per-qubit (readout and 1-qubit fidelity, T1, T2) and per-coupler (native 2-qubit gate "
        "fidelity) changes between two snapshots of a device in profiles/snapshots/ (default: the oldest and "
        "the newest), the largest first; and the registered model's predicted accuracy (emulated, with its 95%% "
        "Wilson interval) under every snapshot.",
    )
    p.add_argument("device", help="device id")
    p.add_argument("--from", dest="from_date", metavar="DATE", help="older snapshot date (default: the oldest)")
    p.add_argument("--to", dest="to_date", metavar="DATE", help="newer snapshot date (default: the newest)")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows per table, largest changes first (0: all; default: %(default)s)")
    p.add_argument("--no-model", action="store_true", help="calibration only: skip the predicted accuracy")
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_drift)


def _fmt(value: float | None, scale: float = 1.0, digits: int = 4) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def _fidelity(change: drift.Change) -> str:
    delta = "" if change.delta is None else f" ({change.delta:+.4f})"
    return f"{_fmt(change.old)} → {_fmt(change.new)}{delta}"


def _time_us(change: drift.Change) -> str:
    rel = ""
    if change.delta is not None and change.old:
        rel = f" ({change.delta / change.old:+.0%})"
    return f"{_fmt(change.old, 1e6, 1)} → {_fmt(change.new, 1e6, 1)}{rel}"


def _table(rows: list[list[str]], headers: list[str]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    return ["  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [headers, *rows]]


def _shown(items: list, top: int) -> list:
    return items if top <= 0 else items[:top]


def drift_text(d: drift.Drift, top: int) -> str:
    """The readable report: a summary line, the qubit and coupler tables, one-sided entries."""
    s = d.summary()
    lines = [f"{d.device}: calibration {d.old.snapshot_date} → {d.new.snapshot_date} ({s['days']} days; "
             f"{d.old.source} → {d.new.source})"]
    med = {k: s[f"median_{k}_change"] for k in ("readout_fidelity", "one_qubit_fidelity", "two_qubit_fidelity")}
    largest = s["largest_qubit_change"]
    lines.append(
        f"summary: {s['qubits_compared']} qubits, {s['couplers_compared']} couplers compared; median change: "
        f"readout {_fmt(med['readout_fidelity'])}, 1q {_fmt(med['one_qubit_fidelity'])}, "
        f"2q {_fmt(med['two_qubit_fidelity'])}"
        + (f"; largest: qubit {largest['qubit']} ({largest['change']:.4f})" if largest else "")
        + (f", coupler {s['largest_coupler_change']['coupler']} ({s['largest_coupler_change']['change']:+.4f})"
           if s["largest_coupler_change"] else ""))
    rows = [[str(q.qubit), _fidelity(q.figures["readout_fidelity"]), _fidelity(q.figures["one_qubit_fidelity"]),
             _time_us(q.figures["t1_s"]), _time_us(q.figures["t2_s"])] for q in _shown(d.qubits, top)]
    lines += ["", f"qubits (largest readout or 1q fidelity change first; {len(rows)} of {len(d.qubits)}):"]
    lines += _table(rows, ["qubit", "readout fidelity", "1q fidelity", "T1 (µs)", "T2 (µs)"])
    rows = [[c.coupler, c.gate, _fidelity(c.fidelity)] for c in _shown(d.couplers, top)]
    lines += ["", f"couplers (largest 2q fidelity change first; {len(rows)} of {len(d.couplers)}):"]
    lines += _table(rows, ["coupler", "gate", "2q fidelity"])
    for what, items, date in (("qubits", d.qubits_only_old, d.old.snapshot_date),
                              ("qubits", d.qubits_only_new, d.new.snapshot_date),
                              ("couplers", d.couplers_only_old, d.old.snapshot_date),
                              ("couplers", d.couplers_only_new, d.new.snapshot_date)):
        if items:
            lines.append(f"{what} only in the {date} snapshot: {', '.join(map(str, items))}")
    if top > 0 and (len(d.qubits) > top or len(d.couplers) > top):
        lines.append("(--top 0 shows every qubit and coupler)")
    return "\n".join(lines)


def accuracy_text(pred: dict) -> str:
    """The predicted accuracy per snapshot."""
    lines = [f"predicted accuracy of {pred['model']} (@{pred['model_alias']}), {pred['emulator']} emulator, "
             f"{pred['n_samples']} test samples x {pred['shots']} shots:"]
    rows = []
    for date, r in pred["snapshots"].items():
        if r["status"] == "ok":
            rows.append([date, f"{r['accuracy']:.3f}", f"[{r['accuracy_ci_low']:.3f}, {r['accuracy_ci_high']:.3f}]",
                         f"{r['sim_accuracy']:.3f}", f"{r['sim2real_gap']:+.3f}", f"{r['expval_mae']:.4f}",
                         ",".join(map(str, r["physical_qubits"]))])
        else:
            rows.append([date, "-", "-", "-", "-", "-", f"unsupported: {r['reason']}"])
    lines += _table(rows, ["snapshot", "accuracy", "95% interval", "simulator", "gap", "|<Z> error|", "qubits"])
    return "\n".join(lines)


def cmd_drift(args: argparse.Namespace) -> int:
    """``qml-ops devices drift DEVICE``: the drift table (or JSON), then the predicted accuracy."""
    device = catalogue.get_device(args.device, allow_retired=True)
    if not device.is_qpu:
        raise HardwareError(f"device {device.id!r} is a local simulator: it has no calibration")
    snapshots = snapshot_profiles(device.id)
    if not snapshots:
        raise HardwareError(f"no snapshot of {device.id} in {snapshots_dir()} (files named "
                            f"{device.id}_YYYY-MM-DD.json): there is nothing to compare")
    old, new = drift.pick_snapshots(snapshots, args.from_date, args.to_date)
    result = drift.compare_profiles(old, new)
    doc = result.to_dict()
    doc["snapshot_dates"] = [p.snapshot_date for p in snapshots]
    if not args.json:
        print(drift_text(result, args.top))
    pred, note = None, None
    if args.no_model:
        note = "predicted accuracy skipped (--no-model)"
    else:
        from qml_ops.config import load_params

        try:
            pred = drift.predicted_accuracy(load_params(args.params), snapshots)
        except drift.ModelUnavailable as exc:
            note = f"predicted accuracy needs a registered model: {exc}"
    doc["predicted_accuracy"] = pred
    doc["predicted_accuracy_note"] = note
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print()
        print(accuracy_text(pred) if pred else note)
    return 0
