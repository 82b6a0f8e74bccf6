"""``qml-ops params check``: validate a params file without running anything."""

from __future__ import annotations

import argparse

from qml_ops.config import DEFAULT_PARAMS, Check, load_params


def all_checks() -> list[Check]:
    """Every check beyond the schema (each stage runs the ones it needs)."""
    from qml_ops.hardware.params_check import check_hardware_params, check_target_devices

    return [check_hardware_params, check_target_devices]


def cmd_check(args: argparse.Namespace) -> int:
    params = load_params(args.params, checks=all_checks())
    sections = ", ".join(params.model_dump())
    print(f"{args.params}: OK ({sections})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    params = subparsers.add_parser("params", help="inspect and validate params.yaml")
    sub = params.add_subparsers(dest="params_command", metavar="ACTION")
    check = sub.add_parser("check", help="validate a params file (exit 2 with the reasons if invalid)")
    check.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    check.set_defaults(func=cmd_check)
