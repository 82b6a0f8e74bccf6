"""Calibration profiles: the project's own compact record of a device's calibration.

A :class:`Profile` is derived from a Braket device-properties snapshot
(``AwsDevice(arn).properties``, saved as JSON; some saved files are JSON encoded
twice) and keeps what the noise model and the compiler need: physical qubit
labels, connectivity, native gates, and 1-qubit, readout and 2-qubit
fidelities. It selects fidelities the way Braket's ``LocalEmulator`` does
(1-qubit: RANDOMIZED_BENCHMARKING, else SIMULTANEOUS_RANDOMIZED_BENCHMARKING;
readout: READOUT; IonQ: the device-wide ``provider.fidelity`` averages applied
to every qubit and pair), so :func:`to_device_properties` rebuilds a document
from which ``LocalEmulator`` builds the same noise model as from the snapshot.

The project keeps the Braket device documents its profiles come from in
``profiles/snapshots/<device_id>_<date>.json`` (public data, as ``GetDevice``
returned them, byte for byte, several dates per device); the profile in use,
``profiles/<device_id>.json`` (format ``qml-ops-profile/1``), is derived from
the newest snapshot of each device (``qml-ops devices derive``).

Example:
    >>> from qml_ops.hardware.profiles import load_profile, build_local_emulator
    >>> profile = load_profile("iqm-garnet")          # doctest: +SKIP
    >>> emulator = build_local_emulator(profile)      # doctest: +SKIP
    >>> newest_snapshot("iqm-garnet").name            # doctest: +SKIP
    'iqm-garnet_2026-05-05.json'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qml_ops import project
from qml_ops.project import find_root
from qml_ops.errors import HardwareError

FORMAT = "qml-ops-profile/1"
PROFILES_DIR = project.PROFILES_DIR.as_posix()
#: Braket device documents the profiles are derived from, under the project root.
SNAPSHOTS_DIR = project.SNAPSHOTS_DIR.as_posix()
ONE_QUBIT_RB_TYPES = ("RANDOMIZED_BENCHMARKING", "SIMULTANEOUS_RANDOMIZED_BENCHMARKING")
#: Native two-qubit gate names (Braket spelling) used to name IonQ's 2Q average.
TWO_QUBIT_GATES = frozenset(
    "cz cnot cy ecr iswap pswap swap xy xx yy zz ms cphaseshift cphaseshift00 "
    "cphaseshift01 cphaseshift10 cv".split()
)
_PROVIDER_RE = re.compile(r"braket\.device_schema\.(\w+)\.\w+_device_capabilities")
_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Profile:
    """A device's calibration, keyed by the physical qubit labels it uses.

    ``edges`` holds each coupled pair once (``directed`` False) or each directed
    coupling as the snapshot lists it (``directed`` True); ``two_qubit_fidelity``
    maps ``"a-b"`` (as in the snapshot) to ``{gate_name: fidelity}`` with gate
    names in lower case. ``t1_s``/``t2_s`` are coherence times in seconds.
    """

    device_id: str
    snapshot_date: str
    source: str
    provider: str
    native_gates: list[str]
    qubits: list[int]
    edges: list[list[int]]
    one_qubit_fidelity: dict[int, float]
    readout_fidelity: dict[int, float]
    two_qubit_fidelity: dict[str, dict[str, float]]
    t1_s: dict[int, float] = field(default_factory=dict)
    t2_s: dict[int, float] = field(default_factory=dict)
    fully_connected: bool = False
    directed: bool = False
    one_qubit_fidelity_type: str = "RANDOMIZED_BENCHMARKING"
    shots_range: list[int] | None = None
    program_set: dict[str, int] | None = None

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    def two_qubit_native_fidelity(self) -> dict[str, float]:
        """Per edge, the fidelity of its native 2-qubit gate (first native match)."""
        out = {}
        for edge, gates in self.two_qubit_fidelity.items():
            native = [g for g in self.native_gates if g in gates]
            if native:
                out[edge] = gates[native[0]]
        return out


# --------------------------------------------------------------------- parsing


def decode_json_document(data: str | bytes | dict, source: str = "<document>") -> dict:
    """A JSON object from a dict or JSON text, decoding repeatedly where needed.

    Braket returns some documents (``GetDevice``'s ``deviceCapabilities``, saved
    device properties) as a JSON string holding JSON: this decodes up to four
    levels until it reaches an object.

    Args:
        data: a dict (returned as is), or JSON text as ``str`` or UTF-8 ``bytes``.
        source: what the document is (a file name), used in errors.

    Raises:
        HardwareError: naming ``source``, for text that is not JSON or a
            document that is not a JSON object.

    Example:
        >>> twice = json.dumps(json.dumps({"a": 1}))  # JSON text of JSON text
        >>> decode_json_document(twice)
        {'a': 1}
    """
    for _ in range(4):
        if isinstance(data, dict):
            return data
        if isinstance(data, (bytes, bytearray)):
            data = data.decode("utf-8")
        if not isinstance(data, str):
            break
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise HardwareError(f"{source}: not valid JSON ({exc})") from None
    raise HardwareError(f"{source}: the document must be a JSON object, got {type(data).__name__}")


def _get(doc: dict, path: str, source: str) -> Any:
    node: Any = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node or node[key] is None:
            raise HardwareError(f"{source}: missing {path!r} in the device properties")
        node = node[key]
    return node


def _provider(doc: dict, source: str) -> str:
    header = doc.get("braketSchemaHeader") or {}
    match = _PROVIDER_RE.fullmatch(str(header.get("name", "")))
    if not match:
        raise HardwareError(
            f"{source}: braketSchemaHeader.name {header.get('name')!r} is not a "
            "QPU's device capabilities (expected braket.device_schema.<provider>.…)"
        )
    return match.group(1)


def _snapshot_date(doc: dict, source: str) -> str:
    for value in (
        (doc.get("service") or {}).get("updatedAt"),
        (doc.get("standardized") or {}).get("updatedAt"),
        source,
    ):
        match = _DATE_RE.search(str(value or ""))
        if match:
            return match.group(1)
    raise HardwareError(f"{source}: no date in service.updatedAt or the file name")


def _infer_device_id(provider: str, qubit_count: int, source: str) -> str:
    from qml_ops.hardware.devices import DEVICES

    stem = Path(source).name.split("_")[0]
    if stem in DEVICES:
        return stem
    matches = [
        d.id
        for d in DEVICES.values()
        if d.provider == provider and d.n_qubits == qubit_count
    ]
    if len(matches) == 1:
        return matches[0]
    raise HardwareError(
        f"{source}: cannot tell which device this is ({provider}, {qubit_count} qubits); "
        f"pass the device id (--device), one of: {', '.join(DEVICES)}"
    )


def _all_pairs(qubits: list[int]) -> list[list[int]]:
    return [[a, b] for i, a in enumerate(qubits) for b in qubits[i + 1 :]]


def _connectivity(paradigm: dict, qubits: list[int], source: str):
    """Return (edges, fully_connected, directed) from ``paradigm.connectivity``."""
    conn = paradigm.get("connectivity") or {}
    graph = conn.get("connectivityGraph") or {}
    if conn.get("fullyConnected") or not graph:
        if not conn.get("fullyConnected"):
            raise HardwareError(
                f"{source}: paradigm.connectivity has no connectivityGraph "
                "and is not fullyConnected"
            )
        return _all_pairs(qubits), True, False
    arcs = [(int(a), int(b)) for a, nbrs in graph.items() for b in nbrs]
    arc_set = set(arcs)
    directed = any((b, a) not in arc_set for a, b in arcs)
    if directed:
        return [list(arc) for arc in sorted(arc_set)], False, True
    return [list(pair) for pair in sorted({tuple(sorted(a)) for a in arcs})], False, False


def _one_qubit(standardized: dict, source: str):
    props = standardized.get("oneQubitProperties")
    if not props:
        raise HardwareError(f"{source}: missing 'standardized.oneQubitProperties'")
    fid, readout, t1, t2, used = {}, {}, {}, {}, set()
    for label, entry in props.items():
        q = int(label)
        by_type = {
            f["fidelityType"]["name"]: f["fidelity"] for f in entry.get("oneQubitFidelity") or []
        }
        rb = next((t for t in ONE_QUBIT_RB_TYPES if t in by_type), None)
        if rb is None:
            raise HardwareError(
                f"{source}: qubit {label} has no {' or '.join(ONE_QUBIT_RB_TYPES)} fidelity "
                f"in standardized.oneQubitProperties[{label!r}].oneQubitFidelity"
            )
        if "READOUT" not in by_type:
            raise HardwareError(
                f"{source}: qubit {label} has no READOUT fidelity "
                f"in standardized.oneQubitProperties[{label!r}].oneQubitFidelity"
            )
        fid[q], readout[q] = by_type[rb], by_type["READOUT"]
        used.add(rb)
        for key, target in (("T1", t1), ("T2", t2)):
            if isinstance(entry.get(key), dict) and entry[key].get("value") is not None:
                target[q] = entry[key]["value"]
    kind = used.pop() if len(used) == 1 else "MIXED"
    return fid, readout, t1, t2, kind


def _two_qubit(standardized: dict, qubits: set[int], source: str) -> dict:
    out: dict[str, dict[str, float]] = {}
    for edge, entry in (standardized.get("twoQubitProperties") or {}).items():
        ends = edge.split("-")
        if len(ends) != 2 or not all(int(e) in qubits for e in ends):
            raise HardwareError(
                f"{source}: twoQubitProperties edge {edge!r} does not join two known qubits"
            )
        gates = {}
        for f in entry.get("twoQubitGateFidelity") or []:
            gates[str(f["gateName"]).lower()] = f["fidelity"]  # last one wins, as in Braket
        if not gates:
            raise HardwareError(
                f"{source}: edge {edge!r} has no twoQubitGateFidelity entries"
            )
        out[edge] = gates
    return out


def _action_extras(doc: dict) -> tuple[list[int] | None, dict | None]:
    shots = (doc.get("service") or {}).get("shotsRange")
    pset = (doc.get("action") or {}).get("braket.ir.openqasm.program_set")
    program_set = None
    if pset:
        program_set = {
            "max_executables": pset.get("maximumExecutables"),
            "max_total_shots": pset.get("maximumTotalShots"),
        }
    return (list(shots) if shots else None), program_set


def parse_device_properties(
    data: str | bytes | dict,
    device_id: str | None = None,
    source: str | None = None,
) -> Profile:
    """Derive a :class:`Profile` from a Braket device-properties document.

    Args:
        data: the document as a dict or JSON text (JSON encoded twice is fine).
        device_id: the qml-ops device id; inferred from the file name
            (``<device_id>_<date>.json``) or provider and qubit count if omitted.
        source: the file name, recorded in the profile and used in errors.

    Raises:
        HardwareError: naming the file and the missing or bad entry.
    """
    source = Path(source).name if source else "<device properties>"
    doc = decode_json_document(data, source)
    provider = _provider(doc, source)
    paradigm = _get(doc, "paradigm", source)
    qubit_count = int(_get(doc, "paradigm.qubitCount", source))
    native = [str(g).lower() for g in _get(doc, "paradigm.nativeGateSet", source)]
    device_id = device_id or _infer_device_id(provider, qubit_count, source)
    shots_range, program_set = _action_extras(doc)
    common = dict(
        device_id=device_id,
        snapshot_date=_snapshot_date(doc, source),
        source=source,
        provider=provider,
        native_gates=native,
        shots_range=shots_range,
        program_set=program_set,
    )
    if provider == "ionq":
        return _ionq_profile(doc, paradigm, qubit_count, native, source, common)

    standardized = _get(doc, "standardized", source)
    fid, readout, t1, t2, kind = _one_qubit(standardized, source)
    qubits = sorted(fid)
    if len(qubits) != qubit_count:
        raise HardwareError(
            f"{source}: paradigm.qubitCount is {qubit_count} but "
            f"standardized.oneQubitProperties has {len(qubits)} qubits"
        )
    edges, fully, directed = _connectivity(paradigm, qubits, source)
    two_q = _two_qubit(standardized, set(qubits), source)
    if not two_q:
        raise HardwareError(f"{source}: missing 'standardized.twoQubitProperties'")
    return Profile(
        qubits=qubits,
        edges=edges,
        one_qubit_fidelity=fid,
        readout_fidelity=readout,
        two_qubit_fidelity=two_q,
        t1_s=t1,
        t2_s=t2,
        fully_connected=fully,
        directed=directed,
        one_qubit_fidelity_type=kind,
        **common,
    )


def _ionq_profile(doc, paradigm, qubit_count, native, source, common) -> Profile:
    """IonQ: device-wide averages under provider.fidelity, all-to-all, qubits 0..n-1."""
    f1 = _get(doc, "provider.fidelity.1Q.mean", source)
    f2 = _get(doc, "provider.fidelity.2Q.mean", source)
    spam = _get(doc, "provider.fidelity.spam.mean", source)
    t1 = _get(doc, "provider.timing.T1", source)
    t2 = _get(doc, "provider.timing.T2", source)
    gate2 = next((g for g in native if g in TWO_QUBIT_GATES), None)
    if gate2 is None:
        raise HardwareError(f"{source}: no two-qubit gate in paradigm.nativeGateSet {native}")
    qubits = list(range(qubit_count))  # the labels Braket's emulator gives IonQ
    edges, fully, directed = _connectivity(paradigm, qubits, source)
    return Profile(
        qubits=qubits,
        edges=edges,
        one_qubit_fidelity=dict.fromkeys(qubits, f1),
        readout_fidelity=dict.fromkeys(qubits, spam),
        two_qubit_fidelity={f"{a}-{b}": {gate2: f2} for a, b in _all_pairs(qubits)},
        t1_s=dict.fromkeys(qubits, t1),
        t2_s=dict.fromkeys(qubits, t2),
        fully_connected=fully,
        directed=directed,
        one_qubit_fidelity_type="DEVICE_AVERAGE",
        **common,
    )


def read_snapshot(path: str | os.PathLike, device_id: str | None = None) -> Profile:
    """Read a device-properties snapshot file and derive its profile."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HardwareError(f"cannot read snapshot {path}: {exc.strerror}") from None
    return parse_device_properties(text, device_id=device_id, source=path.name)


# ------------------------------------------------------------ the snapshot folder

_SNAPSHOT_NAME_RE = re.compile(r"(?P<device>[A-Za-z0-9][A-Za-z0-9.-]*)_(?P<date>\d{4}-\d{2}-\d{2})\.json")


def snapshots_dir(root: str | os.PathLike | None = None) -> Path:
    """``profiles/snapshots`` under ``root`` (default: the project root)."""
    return Path(root if root is not None else find_root()) / SNAPSHOTS_DIR


def list_snapshots(
    device_id: str | None = None, root: str | os.PathLike | None = None
) -> list[Path]:
    """The device documents in :func:`snapshots_dir`, by device then date.

    Only files named ``<device_id>_<YYYY-MM-DD>.json`` count.

    Args:
        device_id: keep this device's snapshots only.
        root: the project root (default: found from the working directory).
    """
    folder = snapshots_dir(root)
    found = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        match = _SNAPSHOT_NAME_RE.fullmatch(path.name)
        if match and device_id in (None, match["device"]):
            found.append((match["device"], match["date"], path))
    return [path for _, _, path in sorted(found)]


def newest_snapshots(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Device id -> its newest snapshot in :func:`snapshots_dir`."""
    newest: dict[str, Path] = {}
    for path in list_snapshots(root=root):  # sorted by date within a device
        newest[_SNAPSHOT_NAME_RE.fullmatch(path.name)["device"]] = path
    return newest


def snapshot_profiles(device_id: str, root: str | os.PathLike | None = None) -> list[Profile]:
    """A :class:`Profile` from each snapshot of ``device_id``, oldest first (see :func:`list_snapshots`)."""
    return [read_snapshot(path, device_id=device_id) for path in list_snapshots(device_id, root)]


def newest_snapshot(device_id: str, root: str | os.PathLike | None = None) -> Path:
    """The newest snapshot of ``device_id``.

    Raises:
        HardwareError: naming the folder, when it holds no snapshot of the device.
    """
    found = list_snapshots(device_id, root)
    if not found:
        raise HardwareError(
            f"no snapshot of {device_id} in {snapshots_dir(root)} (files named "
            f"{device_id}_YYYY-MM-DD.json, the device's Braket properties document)"
        )
    return found[-1]


# --------------------------------------------------------------- save and load


def default_profile_path(device_id: str) -> Path:
    """``profiles/<device_id>.json`` under the project root."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", device_id):
        raise HardwareError(f"device id {device_id!r} is not a valid profile name")
    return find_root() / PROFILES_DIR / f"{device_id}.json"


def _order(key) -> tuple[int, ...]:
    """Numeric sort key for a qubit (``7``) or an edge (``"7-12"``)."""
    return tuple(int(part) for part in str(key).split("-"))


def _pack(values: dict, keys: list) -> dict:
    """``{"*": v}`` when ``values`` maps exactly ``keys`` to one value, else every
    entry (string keys, numeric order)."""
    uniq = {json.dumps(v, sort_keys=True) for v in values.values()}
    if len(uniq) == 1 and set(values) == set(keys):
        return {"*": next(iter(values.values()))}
    return {str(k): values[k] for k in sorted(values, key=_order)}


def _unpack(values: dict, keys: list, convert) -> dict:
    if set(values) == {"*"}:
        return dict.fromkeys(keys, values["*"]) if not isinstance(values["*"], dict) else {
            k: dict(values["*"]) for k in keys
        }
    return {convert(k): v for k, v in values.items()}


def profile_to_dict(profile: Profile) -> dict:
    """The saved form of ``profile`` (format ``qml-ops-profile/1``)."""
    q = profile.qubits
    pairs = [f"{a}-{b}" for a, b in _all_pairs(q)] if profile.fully_connected else []
    all_edges = profile.fully_connected and profile.edges == _all_pairs(q)
    two_q = _pack(profile.two_qubit_fidelity, pairs if profile.fully_connected else [None])
    return {
        "format": FORMAT,
        "device_id": profile.device_id,
        "snapshot_date": profile.snapshot_date,
        "source": profile.source,
        "provider": profile.provider,
        "native_gates": list(profile.native_gates),
        "qubits": list(q),
        "fully_connected": profile.fully_connected,
        "directed": profile.directed,
        "edges": "all" if all_edges else [list(e) for e in profile.edges],
        "shots_range": profile.shots_range,
        "program_set": profile.program_set,
        "one_qubit_fidelity_type": profile.one_qubit_fidelity_type,
        "one_qubit_fidelity": _pack(profile.one_qubit_fidelity, q),
        "readout_fidelity": _pack(profile.readout_fidelity, q),
        "t1_s": _pack(profile.t1_s, q),
        "t2_s": _pack(profile.t2_s, q),
        "two_qubit_fidelity": two_q,
    }


def profile_from_dict(doc: dict, source: str = "<profile>") -> Profile:
    """Inverse of :func:`profile_to_dict`; checks the ``format`` field.

    Raises:
        HardwareError: for another format or a missing key (named).
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise HardwareError(f"{source}: format {got!r} is not supported (expected {FORMAT!r})")
    required = ("device_id", "snapshot_date", "source", "provider", "native_gates", "qubits",
                "edges", "one_qubit_fidelity", "readout_fidelity", "two_qubit_fidelity")
    missing = [k for k in required if k not in doc]
    if missing:
        raise HardwareError(f"{source}: profile is missing {', '.join(missing)}")
    qubits = [int(x) for x in doc["qubits"]]
    fully = bool(doc.get("fully_connected", False))
    pairs = [f"{a}-{b}" for a, b in _all_pairs(qubits)]
    edges = _all_pairs(qubits) if doc["edges"] == "all" else [
        [int(a), int(b)] for a, b in doc["edges"]
    ]
    return Profile(
        device_id=doc["device_id"],
        snapshot_date=doc["snapshot_date"],
        source=doc["source"],
        provider=doc["provider"],
        native_gates=list(doc["native_gates"]),
        qubits=qubits,
        edges=edges,
        one_qubit_fidelity=_unpack(doc["one_qubit_fidelity"], qubits, int),
        readout_fidelity=_unpack(doc["readout_fidelity"], qubits, int),
        two_qubit_fidelity=_unpack(doc["two_qubit_fidelity"], pairs, str),
        t1_s=_unpack(doc.get("t1_s") or {}, qubits, int),
        t2_s=_unpack(doc.get("t2_s") or {}, qubits, int),
        fully_connected=fully,
        directed=bool(doc.get("directed", False)),
        one_qubit_fidelity_type=doc.get("one_qubit_fidelity_type", "RANDOMIZED_BENCHMARKING"),
        shots_range=doc.get("shots_range"),
        program_set=doc.get("program_set"),
    )


def _dumps_compact(doc: dict) -> str:
    """JSON with one top-level key per line and one map entry per line (diff-friendly)."""

    def dump(value) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = []
    for key, value in doc.items():
        if isinstance(value, dict) and len(value) > 1:
            inner = ",\n".join(f"  {dump(k)}: {dump(v)}" for k, v in value.items())
            lines.append(f" {dump(key)}: {{\n{inner}\n }}")
        else:
            lines.append(f" {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def save_profile(profile: Profile, path: str | os.PathLike | None = None) -> Path:
    """Write ``profile`` as JSON (default: :func:`default_profile_path`); returns the path."""
    path = Path(path) if path is not None else default_profile_path(profile.device_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _dumps_compact(profile_to_dict(profile))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_profile(path_or_device_id: str | os.PathLike) -> Profile:
    """Load a saved profile from a file, or a device's default profile by its id.

    Raises:
        HardwareError: if the file is missing or not a valid profile.
    """
    arg = str(path_or_device_id)
    is_path = isinstance(path_or_device_id, Path) or arg.endswith(".json") or os.sep in arg
    path = Path(arg) if is_path else default_profile_path(arg)
    if not path.is_file():
        hint = "" if is_path else (
            f"; derive one with: qml-ops devices derive SNAPSHOT.json --device {arg}"
        )
        raise HardwareError(f"no calibration profile at {path}{hint}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HardwareError(f"cannot read profile {path}: {exc}") from None
    return profile_from_dict(doc, source=str(path))


# ------------------------------------------------- Braket device properties

_HEADERS = {
    "rigetti": ("braket.device_schema.rigetti.rigetti_device_capabilities", "2"),
    "iqm": ("braket.device_schema.iqm.iqm_device_capabilities", "1"),
    "ionq": ("braket.device_schema.ionq.ionq_device_capabilities", "1"),
}
_RESULT_TYPES = ("Sample", "Expectation", "Variance", "Probability")
_TWO_QUBIT_TYPE = "RANDOMIZED_BENCHMARKING"  # not kept in profiles; Braket ignores it


def _header(name: str, version: str = "1") -> dict:
    return {"name": name, "version": version}


def _graph(profile: Profile) -> dict[str, list[str]]:
    graph: dict[int, set[int]] = {}
    for a, b in profile.edges:
        graph.setdefault(a, set()).add(b)
        if not profile.directed:
            graph.setdefault(b, set()).add(a)
    return {str(a): [str(b) for b in sorted(nbrs)] for a, nbrs in sorted(graph.items())}


def _shots_range(profile: Profile) -> list[int]:
    if profile.shots_range:
        return list(profile.shots_range)
    from qml_ops.hardware.devices import get_device

    device = get_device(profile.device_id, allow_retired=True)
    return [device.min_shots, device.max_shots or 2**31 - 1]


def _action(profile: Profile, shots: list[int]) -> dict:
    result_types = []
    for name in _RESULT_TYPES:
        entry: dict[str, Any] = {"name": name, "minShots": shots[0], "maxShots": shots[1]}
        if name != "Probability":
            entry["observables"] = ["x", "y", "z", "h", "i"]
        result_types.append(entry)
    action = {
        "braket.ir.openqasm.program": {
            "version": ["1.0"],
            "actionType": "braket.ir.openqasm.program",
            "supportedOperations": list(profile.native_gates),
            "supportedModifiers": [],
            "supportedPragmas": ["verbatim"]
            + [f"braket_result_type_{n.lower()}" for n in _RESULT_TYPES],
            "supportPhysicalQubits": True,
            "supportsPartialVerbatimBox": True,
            "requiresAllQubitsMeasurement": False,
            "supportedResultTypes": result_types,
        }
    }
    if profile.program_set:
        action["braket.ir.openqasm.program_set"] = {
            "version": ["1"],
            "actionType": "braket.ir.openqasm.program_set",
            "maximumExecutables": profile.program_set["max_executables"],
            "maximumTotalShots": profile.program_set["max_total_shots"],
        }
    return action


def _coherence(values: dict[int, float], q: int, name: str, profile: Profile) -> dict:
    if q not in values:
        raise HardwareError(
            f"profile {profile.device_id} ({profile.source}) has no {name} for qubit {q}"
        )
    return {"value": values[q], "standardError": None, "unit": "S"}


def _standardized(profile: Profile) -> dict:
    kind = profile.one_qubit_fidelity_type
    kind = kind if kind in ONE_QUBIT_RB_TYPES else "RANDOMIZED_BENCHMARKING"
    one_q = {
        str(q): {
            "T1": _coherence(profile.t1_s, q, "T1", profile),
            "T2": _coherence(profile.t2_s, q, "T2", profile),
            "oneQubitFidelity": [
                {"fidelityType": {"name": kind}, "fidelity": profile.one_qubit_fidelity[q]},
                {"fidelityType": {"name": "READOUT"}, "fidelity": profile.readout_fidelity[q]},
            ],
        }
        for q in profile.qubits
    }
    two_q = {
        edge: {
            "twoQubitGateFidelity": [
                {"gateName": gate, "fidelity": f, "fidelityType": {"name": _TWO_QUBIT_TYPE}}
                for gate, f in gates.items()
            ]
        }
        for edge, gates in profile.two_qubit_fidelity.items()
    }
    return {
        "braketSchemaHeader": _header(
            "braket.device_schema.standardized_gate_model_qpu_device_properties"
        ),
        "oneQubitProperties": one_q,
        "twoQubitProperties": two_q,
    }


def _uniform(values: dict, what: str, profile: Profile):
    distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
    if len(distinct) != 1:
        raise HardwareError(
            f"profile {profile.device_id}: IonQ device properties hold one device-wide "
            f"{what}, but the profile has {len(distinct)} different values"
        )
    return next(iter(values.values()))


def _ionq_provider(profile: Profile) -> dict:
    gates = _uniform(profile.two_qubit_fidelity, "2-qubit fidelity", profile)
    if profile.qubits != list(range(len(profile.qubits))):
        raise HardwareError(f"profile {profile.device_id}: IonQ qubits must be 0..n-1")
    return {
        "braketSchemaHeader": _header("braket.device_schema.ionq.ionq_provider_properties"),
        "fidelity": {
            "1Q": {"mean": _uniform(profile.one_qubit_fidelity, "1-qubit fidelity", profile)},
            "2Q": {"mean": next(iter(gates.values()))},
            "spam": {"mean": _uniform(profile.readout_fidelity, "readout fidelity", profile)},
        },
        "timing": {
            "T1": _uniform(profile.t1_s, "T1", profile),
            "T2": _uniform(profile.t2_s, "T2", profile),
        },
    }


def to_device_properties(profile: Profile) -> dict:
    """Rebuild a minimal Braket device-properties document from ``profile``.

    It holds what ``LocalEmulator`` reads: ``paradigm`` (qubit count, native
    gates, connectivity), ``standardized`` per-qubit and per-edge fidelities (for
    IonQ, ``provider.fidelity``/``timing`` device-wide averages instead), and an
    ``action`` declaring the native gates, verbatim boxes, result types and,
    where the snapshot had it, program sets.

    Raises:
        HardwareError: for a provider other than rigetti, iqm or ionq, or data
            that the provider's schema cannot express.
    """
    if profile.provider not in _HEADERS:
        raise HardwareError(
            f"profile {profile.device_id}: provider {profile.provider!r} is not supported; "
            f"supported: {', '.join(_HEADERS)}"
        )
    shots = _shots_range(profile)
    doc: dict[str, Any] = {
        "braketSchemaHeader": _header(*_HEADERS[profile.provider]),
        "service": {
            "braketSchemaHeader": _header("braket.device_schema.device_service_properties"),
            "executionWindows": [],
            "shotsRange": shots,
            "deviceDocumentation": {
                "imageUrl": None,
                "externalDocumentationUrl": None,
                "summary": f"qml-ops profile of {profile.device_id}, from {profile.source}",
            },
            "updatedAt": f"{profile.snapshot_date}T00:00:00+00:00",
        },
        "action": _action(profile, shots),
        "deviceParameters": {},
        "paradigm": {
            "braketSchemaHeader": _header(
                "braket.device_schema.gate_model_qpu_paradigm_properties"
            ),
            "qubitCount": len(profile.qubits),
            "nativeGateSet": list(profile.native_gates),
            "connectivity": {
                "fullyConnected": profile.fully_connected,
                "connectivityGraph": _graph(profile),
            },
        },
    }
    if profile.provider == "ionq":
        doc["provider"] = _ionq_provider(profile)
    else:
        doc["standardized"] = _standardized(profile)
    return doc


def build_local_emulator(profile: Profile, backend: str = "braket_dm"):
    """A Braket ``LocalEmulator`` with ``profile``'s noise and validation rules.

    Raises:
        HardwareError: if Braket rejects the rebuilt device properties.
    """
    from braket.emulation.local_emulator import LocalEmulator

    try:
        return LocalEmulator.from_json(json.dumps(to_device_properties(profile)), backend=backend)
    except (ValueError, TypeError) as exc:
        raise HardwareError(
            f"cannot build an emulator from profile {profile.device_id} ({profile.source}): {exc}"
        ) from None
