"""The model card: a Markdown description of a registered QCNN version (pure, no I/O).

The registry UI renders a version's description as Markdown, so that is where
the card goes. Three stages fill it as their figures arrive, each with its own
section (a JSON-able dict kept with the model's training run, see
:func:`qml_ops.tracking.update_model_card`):

* ``train``: data version (DVC md5s), dataset and classes, encoding, ansatz,
  qubits, training figures, and the alias it set (``candidate``);
* ``evaluate``: the simulator's test accuracy with its 95% interval, finite-shot
  accuracy, and the classical baselines beside it;
* ``hardware``: one row per device and the simulator (accuracy [interval], gap
  [interval], cost per inference, two-qubit gates, depth, profile date, emulated
  or QPU, gate verdict) and the alias it set, if any.

:func:`render` turns the sections and the version's current aliases into the
card; :data:`ALIAS_POLICY` is the registered model's own description.

Example:
    >>> card = render({"train": {"model_name": "qcnn", "version": "3"}}, aliases=["candidate"])
    >>> card.splitlines()[0]
    '# qcnn, version 3'
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

#: MLflow stores a version's description in a VARCHAR(5000) (PostgreSQL enforces it).
MAX_CHARS = 5000
#: Sections in card order.
SECTIONS = ("train", "evaluate", "hardware")

ALIAS_POLICY = """\
QCNN binary image classifiers (Cong et al. 2019; circuits of Hur, Kim & Park 2022, arXiv:2108.00661), \
trained in simulation by the qml-ops pipeline. Each version's description is its model card: data version, \
encoding, simulator and baseline accuracy, and one row per QPU (emulated or real) with 95% intervals and \
the promotion gate's verdict.

**Alias policy** (each alias moves forward only on evidence):

| alias | set by | when |
|---|---|---|
| `candidate` | `train` stage | every newly trained version (the one the `hardware` stage validates) |
| `emulator-validated` | `hardware` stage, `hardware.mode: emulate` | a device's calibrated emulator passes `hardware.gate` over the whole 95% interval of accuracy and Sim2Real gap |
| `hardware-validated` | `hardware` stage, `hardware.mode: qpu` | the same gate passed on a real QPU (an emulator never sets it) |

An *inconclusive* verdict (an interval straddles a threshold) promotes nothing: validate on more samples \
(`hardware.n_samples`). `qml-ops promote NAME VERSION ALIAS` moves an alias by hand.
"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _interval(entry: Mapping[str, Any], key: str, signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    low, high = entry.get(f"{key}_ci_low"), entry.get(f"{key}_ci_high")
    value = f.format(entry[key])
    return value if low is None or high is None else f"{value} [{f.format(low)}, {f.format(high)}]"


def _total(count: Any) -> Any:
    return sum(count.values()) if isinstance(count, Mapping) else count


def _train(s: Mapping[str, Any]) -> list[str]:
    data = s.get("data", {})
    classes = data.get("classes") or []
    counts = data.get("counts") or {}
    md5 = data.get("md5") or {}
    lines = ["## Data and model", "", "| | |", "|---|---|"]
    if data:
        lines.append(f"| dataset | {data.get('source', 'n/a')}, classes {' vs '.join(map(str, classes)) or 'n/a'} |")
    if counts:
        order = sorted(counts, key=lambda split: (["train", "val", "test"] + [split]).index(split))
        lines.append("| samples | " + ", ".join(f"{split} {_total(counts[split])}" for split in order) + " |")
    if md5:
        lines.append("| data version (DVC md5) | " + ", ".join(f"`{path}` {value}" for path, value in md5.items())
                     + " |")
    if "encoding" in s:
        lines.append(f"| encoding | {s['encoding']} on {s.get('n_qubits')} qubits |")
    if "ansatz" in s:
        lines.append(f"| ansatz | convolution ansatz {s['ansatz']} (Hur, Kim & Park 2022), {s.get('n_weights')} "
                     f"weights |")
    if "optimizer" in s:
        lines.append(f"| training | {s['optimizer']}, lr {s.get('lr'):.4g}, batch {s.get('batch_size')}, loss "
                     f"{s.get('loss')}, best epoch {s.get('best_epoch')}/{s.get('epochs_run')}"
                     f"{' (tuned params)' if s.get('used_tuned') else ''} |")
    if "val_accuracy" in s:
        lines.append(f"| validation accuracy | {_pct(s['val_accuracy'])} |")
    if s.get("train_run_id"):
        lines.append(f"| training run | `{s['train_run_id']}` |")
    return lines


def _evaluate(s: Mapping[str, Any]) -> list[str]:
    n = s.get("n_test")
    lines = ["## Simulator test accuracy, with the classical baselines", "",
             f"{n} test samples; 95% Wilson intervals.", "",
             "| model | test accuracy [95% CI] |", "|---|---|",
             f"| QCNN, exact simulator | {_interval(s, 'test_accuracy')} |"]
    if s.get("shots"):
        lines.append(f"| QCNN, {s['shots']} shots (noiseless, {s.get('shot_seeds')} seeds) | "
                     f"{_pct(s.get('test_accuracy_shots_mean'))} ± {_pct(s.get('test_accuracy_shots_std'))} |")
    for name, b in (s.get("baselines") or {}).items():
        lines.append(f"| {name} (classical, {b.get('n_params', '?')} params) | {_interval(b, 'test_accuracy')} |")
    return lines


def _hardware(s: Mapping[str, Any], verbose: bool) -> list[str]:
    mode = s.get("mode", "emulate")
    kind = "real QPUs" if mode == "qpu" else "calibrated emulators of the QPUs (nothing run on hardware)"
    limits = s.get("gate_limits") or {}
    lines = ["## Hardware validation", "",
             f"{s.get('n_samples')} test samples × {s.get('shots')} shots on {kind}; run `{s.get('run_id', '')}`. "
             f"Gate, judged on the 95% intervals: accuracy ≥ {limits.get('min_accuracy')}, Sim2Real gap ≤ "
             f"{limits.get('max_gap')}, cost per inference ≤ ${limits.get('max_cost_per_inference_usd', 0):.2f}. "
             "Accuracy: Wilson interval; gap (simulator − device, same samples): Newcombe's paired interval."
             + (f" [Compare the runs side by side](#{s['comparison']})." if s.get("comparison") else ""), "",
             "| run | accuracy [95% CI] | gap [95% CI] | cost / inference | 2q gates | depth | profile date | "
             "emulated or QPU | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in s.get("rows", []):
        if row["verdict"] == "unsupported":
            lines.append(f"| {row['run']} | – | – | – | – | – | – | unsupported | unsupported: "
                         f"{row.get('verdict_summary', '')} |")
            continue
        backend = {"simulator": "simulator", "emulator": "emulated", "qpu": "QPU"}.get(row["backend"], row["backend"])
        if row["backend"] == "emulator" and row.get("emulation", "n/a") != "n/a":
            backend = f"emulated ({row['emulation']})"
        lines.append(f"| {row['run']} | {_interval(row, 'accuracy')} | {_interval(row, 'sim2real_gap', True)} | "
                     f"${row['cost_per_inference_usd']:.4f} | {row['two_qubit_gates']} | {row['depth']} | "
                     f"{row['profile_date']} | {backend} | {row['verdict']} |")
    if verbose:  # why a device did not pass, right under the table
        notes = [f"- **{row['run']}**: {row['verdict_summary']}" for row in s.get("rows", [])
                 if row.get("verdict_summary") and row["verdict"] not in ("pass", "unsupported")]
        if notes:
            lines += ["", "Not passed:", "", *notes]
    lines += _band_lines(s.get("rows", []))
    lines += _mitigation(s.get("rows", []))
    return lines


def _band_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The devices' predicted accuracy bands (computed before the run; README "Predicted accuracy band")."""
    banded = [r for r in rows if r.get("predicted_accuracy_low") is not None and r.get("backend") != "simulator"]
    if not banded:
        return []
    out = ["", "Predicted before running (optimistic calibrated model to pessimistic model with T1/T2 relaxation "
               "and calibration uncertainty, finite shots; 95%):"]
    for r in banded:
        inside = {1: "inside", 0: "outside"}.get(r.get("band_covered"), "n/a")
        rate = f"; QPU coverage so far {r['band_coverage_rate']:.2f}" if r.get("band_coverage_rate") is not None else ""
        out.append(f"- {r['run']}: accuracy [{r['predicted_accuracy_low']:.3f}, {r['predicted_accuracy_high']:.3f}], "
                   f"gap [{r['predicted_gap_low']:+.3f}, {r['predicted_gap_high']:+.3f}]; measured {inside}{rate}")
    return out
def _mitigation(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Raw and mitigated ⟨Z⟩ error and accuracy per device (rows without them: none)."""
    rows = [r for r in rows if "accuracy_mitigated" in r and r.get("backend") != "simulator"]
    if not rows:
        return []
    lines = ["", "Error mitigation (`hardware.mitigation`; the gate judges the raw accuracy):", "",
             "| run | mitigation | ⟨Z⟩ error raw | ⟨Z⟩ error mitigated | accuracy raw | accuracy mitigated [95% CI] |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r.get('mitigation', 'n/a')} | {_pct(r.get('expval_mae'))} | "
                     f"{_pct(r.get('expval_mae_mitigated'))} | {_pct(r.get('accuracy'))} | "
                     f"{_interval(r, 'accuracy_mitigated')} |")
    return lines


def _aliases(sections: Mapping[str, Mapping[str, Any]], aliases: Sequence[str]) -> list[str]:
    reasons: dict[str, str] = {}
    for name in SECTIONS:
        reasons.update((sections.get(name) or {}).get("aliases") or {})
    lines = ["## Aliases", ""]
    if not aliases:
        lines.append("This version holds no alias.")
    else:
        lines += ["| alias | why |", "|---|---|"]
        for alias in aliases:
            why = reasons.get(alias, "set outside the pipeline (e.g. `qml-ops promote`)")
            lines.append(f"| `{alias}` | {why} |")
    gone = sorted(set(reasons) - set(aliases))
    if gone:
        lines += ["", "Held before and since moved to another version: " + ", ".join(f"`{a}`" for a in gone) + "."]
    return lines


def render(sections: Mapping[str, Mapping[str, Any]], aliases: Sequence[str] = ()) -> str:
    """The card of one version, at most :data:`MAX_CHARS` characters.

    Args:
        sections: ``{"train": {...}, "evaluate": {...}, "hardware": {...}}`` (any may be missing).
        aliases: the aliases the version holds now.
    """
    train = sections.get("train") or {}
    title = f"# {train.get('model_name', 'model')}, version {train.get('version', '?')}"
    for verbose in (True, False):
        lines = [title, ""]
        if train:
            lines += _train(train) + [""]
        if sections.get("evaluate"):
            lines += _evaluate(sections["evaluate"]) + [""]
        if sections.get("hardware"):
            lines += _hardware(sections["hardware"], verbose) + [""]
        else:
            lines += ["## Hardware validation", "", "Not validated yet (the `hardware` stage fills this in).", ""]
        lines += _aliases(sections, list(aliases))
        text = "\n".join(lines) + "\n"
        if len(text) <= MAX_CHARS:
            return text
    note = "\n\n*(card shortened to fit the registry's 5,000 characters; see reports/hardware.json)*\n"
    return text[: MAX_CHARS - len(note)] + note
