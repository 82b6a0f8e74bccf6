"""``qml-ops promote NAME VERSION ALIAS``: move a registry alias by hand; ``qml-ops ui``: the MLflow UI."""

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


def cmd_ui(args: argparse.Namespace) -> int:
    from qml_ops.tracking.ui import run_ui

    return run_ui(args.host, args.port)


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

    from qml_ops.tracking.ui import DEFAULT_HOST, DEFAULT_PORT

    ui = subparsers.add_parser(
        "ui", help="the MLflow UI on the project's runs (or the address of the configured tracking server)",
        description="Start the MLflow UI on the project's store (sqlite:///<project>/mlruns/mlflow.db, artifacts "
        "in mlruns/artifacts) and print its URL; serves until Ctrl-C. When MLFLOW_TRACKING_URI points at a "
        "tracking server (http/https), print that server's address instead (its password redacted).",
    )
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    ui.add_argument("--host", default=DEFAULT_HOST,
                    help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    ui.set_defaults(func=cmd_ui)
