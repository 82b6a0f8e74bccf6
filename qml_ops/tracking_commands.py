"""``qml-ops promote NAME VERSION ALIAS``: move a registry alias by hand."""

from __future__ import annotations

import argparse

from qml_ops import tracking


def cmd_promote(args: argparse.Namespace) -> int:
    tracking.connect()
    previous = tracking.alias_version(args.name, args.alias)
    tracking.set_alias(args.name, args.version, args.alias)
    moved = f" (was version {previous})" if previous is not None and previous != str(args.version) else ""
    print(f"models:/{args.name}@{args.alias} -> version {args.version}{moved}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    promote = subparsers.add_parser(
        "promote", help="point a registered model's alias at a version (e.g. candidate, hardware-validated)",
        description="Set ALIAS of registered model NAME to VERSION in the MLflow registry "
        "($MLFLOW_TRACKING_URI or the project's mlruns/mlflow.db).",
    )
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("alias")
    promote.set_defaults(func=cmd_promote)
