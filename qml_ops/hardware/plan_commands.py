"""``qml-ops hardware plan``: the cheapest run that measures the accuracy to ±W, per device.

    qml-ops hardware plan --devices ID [ID ...] --target-halfwidth W [--budget USD]
                          [--confidence 0.95] [--max-executables N] [--one-task-per-inference]
                          [--require-gap] [--plot PATH] [--params PATH] [--json]

Plans with the registered model behind ``hardware.model_alias`` (its exact ⟨Z⟩ on the
test split) and ``hardware.prices``; the model is :mod:`qml_ops.hardware.planner`'s. Prints,
per device, samples, shots, tasks, cost, expected QPU time and the half-width reached, with
a Pareto column (no other device's plan is cheaper, more precise and faster together);
``--plot`` draws each device's cost against the target half-width. Nothing is submitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qml_ops.config import DEFAULT_PARAMS, load_params
from qml_ops.money import usd

__all__ = ["register_hardware", "cmd_plan"]


def register_hardware(sub) -> None:
    """Add ``plan`` to the ``qml-ops hardware`` sub-commands."""
    p = sub.add_parser(
        "plan", help="the cheapest samples x shots that measure the accuracy to ±W, per device",
        description="For each device, the number of test samples and shots per sample that resolve the "
                    "registered model's accuracy to ±W (Wilson interval at its predicted accuracy, plus the "
                    "expected fraction of samples that the shots misread, from its <Z> margins on the test "
                    "split) at the least cost (Amazon Braket prices: https://aws.amazon.com/braket/pricing/), "
                    "within the device's shots range and program-set limits. Nothing is submitted.")
    p.add_argument("--devices", nargs="+", required=True, metavar="ID", help="device ids")
    p.add_argument("--target-halfwidth", type=float, required=True, metavar="W",
                   help="the accuracy's half-width to reach, 0 < W < 0.5")
    p.add_argument("--budget", metavar="USD",
                   help="the most a device's run may cost: above it, the most precise plan within it")
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default: %(default)s)")
    p.add_argument("--max-executables", type=int, metavar="N",
                   help="at most N samples per program set (1-100; 1 on devices without program sets)")
    p.add_argument("--one-task-per-inference", action="store_true",
                   help="no program sets: one task (and fee) per sample")
    p.add_argument("--require-gap", action="store_true",
                   help="the Sim2Real gap's predicted half-width must reach W too")
    p.add_argument("--plot", metavar="PATH", help="write the cost/half-width plot (PNG) here")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plan)


def _duration(seconds: float | None) -> str:
    from qml_ops.hardware.commands import _duration as duration

    return duration(seconds)


def _devices(ids: list[str], params) -> list:
    from qml_ops.hardware import devices as catalogue
    from qml_ops.hardware.devices import with_prices

    out = []
    for device_id in ids:
        device = catalogue.get_device(device_id, allow_retired=True)
        if device.status == catalogue.RETIRED:
            print(f"qml-ops: warning: device {device.id!r} was retired in {device.retired_on}; its successor "
                  f"is {device.successor!r} (plan only)", file=sys.stderr)
        override = params.hardware.prices.get(device_id)
        if override is not None:
            device = with_prices(device, per_task=override.per_task, per_shot=override.per_shot)
        out.append(device)
    return out


def cmd_plan(args: argparse.Namespace) -> int:
    """``qml-ops hardware plan``: a plan per device, a Pareto table, optionally a plot."""
    from qml_ops.hardware import planner

    planner.check_halfwidth(args.target_halfwidth)  # before loading anything
    params = load_params(args.params)
    devices = _devices(args.devices, params)
    margins = planner.registered_model_margins(params)
    options = dict(confidence=args.confidence, budget=args.budget, max_executables=args.max_executables,
                   one_task_per_inference=args.one_task_per_inference, require_gap=args.require_gap)
    plans = planner.plan_devices(devices, margins, args.target_halfwidth, **options)
    front = planner.pareto_front(plans)
    if args.plot:
        _plot(Path(args.plot), devices, margins, args.target_halfwidth, options)
    if args.json:
        docs = [{**p.to_dict(), "pareto": f} for p, f in zip(plans, front)]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return 0
    from qml_ops.hardware.commands import _print_table

    print(f"plan: accuracy to ±{args.target_halfwidth} at {args.confidence:.0%} confidence; model "
          f"{params.train.registered_model}@{params.hardware.model_alias}, predicted accuracy "
          f"{margins.accuracy:.3f} on {margins.n} test samples")
    rows = [[p.device, str(p.n_samples), str(p.shots), str(p.estimate.tasks), usd(p.cost_usd),
             _duration(p.estimate.expected_latency_s), f"±{p.halfwidth:.4f}", f"±{p.gap_halfwidth:.4f}",
             "yes" if p.meets_target else "no (budget)", "*" if f else ""]
            for p, f in zip(plans, front)]
    _print_table(rows, ["device", "samples", "shots", "tasks", "cost", "expected time", "half-width",
                        "gap half-width", "meets target", "pareto"])
    print("half-width: Wilson at the predicted accuracy + expected shot-misread fraction; pareto *: no other "
          "plan is cheaper, more precise and faster together; expected time excludes queueing")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def _plot(path: Path, devices, margins, target: float, options: dict) -> None:
    import numpy as np

    from qml_ops import io, plots
    from qml_ops.hardware import planner

    widths = sorted({round(w, 4) for w in np.linspace(target, max(2 * target, min(0.45, target + 0.1)), 9)})
    series = {}
    for device in devices:
        curve = planner.cost_curve(device, margins, widths, **{**options, "budget": None})
        points = [(w, float(p.cost_usd)) for w, p in zip(widths, curve) if p is not None]
        if points:
            series[device.id] = ([w for w, _ in points], [c for _, c in points])
    fig = plots.curves(series, "target half-width (accuracy, 95%)", "cost (USD)",
                       "cheapest run per device", log_y=True)
    try:
        io.write_figure(path, fig)
    finally:
        plots.close(fig)
