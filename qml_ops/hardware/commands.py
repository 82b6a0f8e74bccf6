"""``qml-ops devices …`` and ``qml-ops hardware estimate`` sub-commands.

    qml-ops devices [--json]                      the device catalogue
    qml-ops devices profile DEVICE [--json]       summary of a calibration profile
    qml-ops devices derive [SNAPSHOT.json] [--device ID] [--out PATH]
                                                  (default: the newest document per
                                                  device in profiles/snapshots/)
    qml-ops devices snapshot DEVICE [--out PATH]  fetch live properties (AWS)
    qml-ops devices drift DEVICE [--json]         calibration changes between snapshots
                                                  (qml_ops.hardware.drift_commands)
    qml-ops hardware estimate --device ID [--device ID ...] --samples N --shots S
                              [--one-task-per-inference] [--json]
    qml-ops hardware plan --devices ID [ID ...] --target-halfwidth W [--budget USD] [--json]
                                                  (qml_ops.hardware.plan_commands)

Other modules add ``hardware`` sub-commands by exposing
``register_hardware(hardware_subparsers)`` and being listed in
:data:`HARDWARE_COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
from pathlib import Path

from qml_ops.cost import estimate
from qml_ops.errors import HardwareError
from qml_ops.hardware import devices as catalogue
from qml_ops.hardware import profiles
from qml_ops.money import usd

#: Modules exposing ``register_hardware(subparsers)`` for more ``qml-ops hardware`` commands.
HARDWARE_COMMAND_MODULES: tuple[str, ...] = ("qml_ops.hardware.qpu_commands", "qml_ops.hardware.run_commands",
                                             "qml_ops.hardware.plan_commands")

#: A 1-qubit fidelity at or below this marks a qubit the vendor did not calibrate
#: (Rigetti reports 0.5 with standard error 1.0 for such qubits).
UNCALIBRATED_FIDELITY = 0.5


def register(subparsers) -> None:
    """Add the ``devices`` and ``hardware`` command groups to the CLI."""
    _register_devices(subparsers)
    _register_hardware(subparsers)


def _register_devices(subparsers) -> None:
    dev = subparsers.add_parser(
        "devices", help="device catalogue and calibration profiles",
        description="List the device catalogue, or manage calibration profiles.",
    )
    dev.add_argument("--json", action="store_true", help="print JSON")
    dev.set_defaults(func=cmd_devices)
    sub = dev.add_subparsers(dest="devices_command", metavar="SUBCOMMAND")

    p = sub.add_parser("profile", help="summary of a device's calibration profile")
    p.add_argument("device", help="device id (uses profiles/<id>.json) or a profile file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser(
        "derive", help="derive profiles from Braket device-properties snapshots",
        description="Derive a calibration profile from a Braket device-properties document "
        "(AwsDevice(arn).properties as JSON). Without SNAPSHOT, re-derive profiles/<device>.json "
        f"from the newest document of each device (or of --device) in {profiles.SNAPSHOTS_DIR}/.",
    )
    p.add_argument("snapshot", nargs="?",
                   help="device-properties JSON file (default: the newest one per device in "
                        f"{profiles.SNAPSHOTS_DIR}/)")
    p.add_argument("--device", help="device id (default: from the file name or its contents)")
    p.add_argument("--out", help="profile file to write (default: profiles/<device>.json)")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("snapshot", help="fetch a device's live properties into a new profile")
    p.add_argument("device", help="device id")
    p.add_argument("--out", help="profile file to write (default: profiles/<device>.json)")
    p.set_defaults(func=cmd_snapshot)

    from qml_ops.hardware import drift_commands

    drift_commands.register_devices(sub)


def _register_hardware(subparsers) -> None:
    hw = subparsers.add_parser(
        "hardware", help="QPU validation: estimate, run and track hardware tasks",
        description="QPU validation commands.",
    )
    hw.set_defaults(func=lambda args: (hw.print_help(), 2)[1])
    sub = hw.add_subparsers(dest="hardware_command", metavar="SUBCOMMAND")

    p = sub.add_parser("estimate", help="cost, tasks and expected time of a QPU run")
    p.add_argument("--device", action="append", required=True, metavar="ID",
                   help="device id (repeat for several)")
    p.add_argument("--samples", type=int, required=True, metavar="N", help="inferences")
    p.add_argument("--shots", type=int, required=True, metavar="S", help="shots per inference")
    p.add_argument("--one-task-per-inference", action="store_true",
                   help="one task (and fee) per sample even where program sets exist")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_estimate)

    for name in HARDWARE_COMMAND_MODULES:
        importlib.import_module(name).register_hardware(sub)


def _print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    for row in [headers, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _warn(message: str) -> None:
    print(f"qml-ops: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------- devices


def _device_dict(d: catalogue.Device) -> dict:
    return {
        "id": d.id, "name": d.name, "provider": d.provider, "arn": d.arn,
        "region": d.region, "n_qubits": d.n_qubits, "native_gates": list(d.native_gates),
        "price_per_task_usd": float(d.price_per_task_usd),
        "price_per_shot_usd": float(d.price_per_shot_usd),
        "min_shots": d.min_shots, "max_shots": d.max_shots,
        "supports_program_sets": d.supports_program_sets, "status": d.status,
        "successor": d.successor, "default_profile": d.default_profile,
    }


def cmd_devices(args: argparse.Namespace) -> int:
    """``qml-ops devices``: the catalogue as a table or JSON."""
    devs = catalogue.list_devices()
    if args.json:
        print(json.dumps([_device_dict(d) for d in devs], indent=2))
        return 0
    rows = []
    for d in devs:
        status = d.status if not d.successor else f"{d.status} {d.retired_on} → {d.successor}"
        rows.append([
            d.id, d.name, str(d.n_qubits), ",".join(d.native_gates) or "-",
            f"${d.price_per_task_usd}", f"${d.price_per_shot_usd}", d.shots_range_text,
            "yes" if d.supports_program_sets else "no", status,
        ])
    _print_table(rows, ["id", "name", "qubits", "native gates", "$/task", "$/shot",
                        "shots", "program sets", "status"])
    return 0


def _median(values) -> float | None:
    values = list(values)
    return round(statistics.median(values), 6) if values else None


def profile_summary(profile: profiles.Profile) -> dict:
    """Key figures of a profile: medians of 1q, 2q (native gate) and readout fidelity."""
    uncal = sorted(q for q, f in profile.one_qubit_fidelity.items() if f <= UNCALIBRATED_FIDELITY)
    return {
        "device": profile.device_id,
        "snapshot_date": profile.snapshot_date,
        "source": profile.source,
        "n_qubits": profile.n_qubits,
        "qubit_labels": [min(profile.qubits), max(profile.qubits)],
        "n_edges": len(profile.edges),
        "fully_connected": profile.fully_connected,
        "native_gates": list(profile.native_gates),
        "median_one_qubit_fidelity": _median(profile.one_qubit_fidelity.values()),
        "median_two_qubit_fidelity": _median(profile.two_qubit_native_fidelity().values()),
        "median_readout_fidelity": _median(profile.readout_fidelity.values()),
        "uncalibrated_qubits": uncal,
    }


def cmd_profile(args: argparse.Namespace) -> int:
    """``qml-ops devices profile DEVICE``: summary of a calibration profile."""
    summary = profile_summary(profiles.load_profile(args.device))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    s = summary
    conn = "all-to-all" if s["fully_connected"] else f"{s['n_edges']} couplers"
    lo, hi = s["qubit_labels"]
    lines = [
        ("device", s["device"]),
        ("snapshot", f"{s['snapshot_date']} (from {s['source']})"),
        ("qubits", f"{s['n_qubits']} (labels {lo}..{hi}), {conn}"),
        ("native gates", ", ".join(s["native_gates"])),
        ("median 1q fidelity", s["median_one_qubit_fidelity"]),
        ("median 2q fidelity", s["median_two_qubit_fidelity"]),
        ("median readout", s["median_readout_fidelity"]),
        ("uncalibrated qubits", ", ".join(map(str, s["uncalibrated_qubits"])) or "none"),
    ]
    for key, value in lines:
        print(f"{key + ':':21s}{value}")
    return 0


def _save_derived(profile: profiles.Profile, out: str | None) -> Path:
    device = catalogue.get_device(profile.device_id, allow_retired=True)
    if device.provider != profile.provider:
        raise HardwareError(
            f"{profile.source}: a {profile.provider} snapshot cannot be a profile of "
            f"{device.id} ({device.provider})"
        )
    path = Path(out) if out else profiles.default_profile_path(profile.device_id)
    if path.is_file():
        try:
            old = profiles.load_profile(path)
            if old.snapshot_date > profile.snapshot_date:
                _warn(f"replacing {path} (snapshot {old.snapshot_date}) with an older "
                      f"snapshot ({profile.snapshot_date})")
        except HardwareError:
            pass
    path = profiles.save_profile(profile, path)
    print(f"wrote {path}: {profile.device_id}, snapshot {profile.snapshot_date}, "
          f"{profile.n_qubits} qubits, {len(profile.edges)} couplers")
    return path


def cmd_derive(args: argparse.Namespace) -> int:
    """``qml-ops devices derive [SNAPSHOT]``: write profiles derived from snapshots.

    With a SNAPSHOT file, one profile; without, one per device from its newest
    document in ``profiles/snapshots/`` (only ``--device``'s with that option).
    """
    if args.device:
        catalogue.get_device(args.device, allow_retired=True)
    if args.snapshot:
        snapshots = [Path(args.snapshot)]
    elif args.device:
        snapshots = [profiles.newest_snapshot(args.device)]
    else:
        snapshots = list(profiles.newest_snapshots().values())
        if not snapshots:
            raise HardwareError(
                f"no device documents in {profiles.snapshots_dir()}; pass a SNAPSHOT.json file"
            )
        if args.out:
            raise HardwareError(
                f"--out names one file, but {len(snapshots)} profiles would be derived; "
                "add --device ID or a SNAPSHOT.json file"
            )
    for path in snapshots:
        _save_derived(profiles.read_snapshot(path, device_id=args.device), args.out)
    return 0


def fetch_properties_json(device: catalogue.Device) -> str:
    """Live device properties as JSON text, via ``AwsDevice(arn).properties``.

    Raises:
        HardwareError: without AWS credentials, network or permission (the
            message never includes credential values).
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise HardwareError("fetching live properties needs boto3 (pip install boto3)") from None
    session = boto3.Session(region_name=device.region)
    if session.get_credentials() is None:
        raise HardwareError(
            f"no AWS credentials found, cannot fetch the properties of {device.id}; configure "
            "credentials (AWS_PROFILE, ~/.aws/credentials or an instance role) and retry"
        )
    try:
        from braket.aws import AwsDevice, AwsSession

        aws_device = AwsDevice(device.arn, aws_session=AwsSession(boto_session=session))
        return aws_device.properties.json()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise HardwareError(
            f"AWS refused to describe {device.id} ({device.arn}): "
            f"{err.get('Code', 'error')}: {err.get('Message', '')}"
        ) from None
    except BotoCoreError as exc:
        raise HardwareError(
            f"cannot reach AWS for {device.id} ({type(exc).__name__}: {exc})"
        ) from None


def cmd_snapshot(args: argparse.Namespace) -> int:
    """``qml-ops devices snapshot DEVICE``: fetch live properties into a new profile."""
    device = catalogue.get_device(args.device)
    if not device.is_qpu:
        raise HardwareError(f"device {device.id!r} is a local simulator: it has no calibration")
    text = fetch_properties_json(device)
    profile = profiles.parse_device_properties(
        text, device_id=device.id, source=f"{device.id}_live.json"
    )
    _save_derived(profile, args.out)
    return 0


# ---------------------------------------------------------------- hardware


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_estimate(args: argparse.Namespace) -> int:
    """``qml-ops hardware estimate``: cost, tasks and expected time per device."""
    estimates = []
    for device_id in args.device:
        device = catalogue.get_device(device_id, allow_retired=True)
        if device.status == catalogue.RETIRED:
            _warn(f"device {device.id!r} was retired in {device.retired_on}; "
                  f"its successor is {device.successor!r} (estimate only)")
        estimates.append(
            estimate(device, args.samples, args.shots, args.one_task_per_inference)
        )
    if args.json:
        docs = [e.to_dict() for e in estimates]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return 0
    from qml_ops.hardware.drift import profile_date

    rows = [
        [e.device, str(e.tasks), f"{e.executables_per_task}",
         f"{e.shots_total:,}", usd(e.cost_usd), f"${e.per_task_usd}",
         f"${e.per_shot_usd}", "yes" if e.program_sets else "no",
         _duration(e.expected_latency_s), profile_date(e.device) or "-"]
        for e in estimates
    ]
    print(f"{args.samples} samples x {args.shots} shots")
    _print_table(rows, ["device", "tasks", "per task", "shots", "cost", "$/task",
                        "$/shot", "program sets", "expected time", "profile date"])
    print("expected time: mean time per inference in the reference case study (PSC webinar "
          "'Quantum Machine Learning Workflows', 3 April 2026; one task per inference) "
          "x samples; queue time not included")
    return 0
