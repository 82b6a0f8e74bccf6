"""The device catalogue: every target qml-ops can estimate, emulate or run on.

Sources: qubit counts, native gates, shot ranges, per-shot prices and
program-set limits are those of the Braket device documents kept in
``profiles/snapshots/`` (``AwsDevice(arn).properties``: ``paradigm``,
``service.shotsRange``, ``service.deviceCost``, the ``program_set`` action;
``tests/hardware/test_devices.py`` checks the catalogue against them); the
per-task fee is the Amazon Braket pricing page's
(https://aws.amazon.com/braket/pricing/): every QPU task costs a $0.30 fee plus
shots × the per-shot price; the local simulator is free. Per-inference times
are those measured in the reference case study: D. Justice, "Quantum Machine
Learning Workflows: What HPC Enables and What Quantum Hardware Delivers", PSC
webinar, 3 April 2026 (CMU SEI, approved for public release).

Example:
    >>> from qml_ops.hardware.devices import get_device, with_prices
    >>> dev = get_device("iqm-garnet")
    >>> dev.region, str(dev.price_per_shot_usd)
    ('eu-north-1', '0.00145')
    >>> str(with_prices(dev, per_shot="0.002").price_per_shot_usd)
    '0.002'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from qml_ops.errors import ConfigError, HardwareError

#: Braket's fee per QPU task, the same on every QPU (https://aws.amazon.com/braket/pricing/).
QPU_TASK_FEE_USD = Decimal("0.30")

#: Program-set limits per task (the ``braket.ir.openqasm.program_set`` action of the
#: device documents in ``profiles/snapshots/``: maximumExecutables, maximumTotalShots).
PROGRAM_SET_MAX_EXECUTABLES = 100
PROGRAM_SET_MAX_TOTAL_SHOTS = 200_000

ONLINE, RETIRED, LOCAL = "ONLINE", "RETIRED", "LOCAL"


@dataclass(frozen=True)
class Device:
    """One target in the catalogue.

    Prices are :class:`~decimal.Decimal` (exact cents); ``max_shots`` is ``None``
    where there is no limit (the local simulator). ``latency_per_inference_s`` is
    the mean time per inference observed in the reference case study (one task
    of 512 shots per inference; PSC webinar of 3 April 2026, see the module
    docstring), ``None`` where there is no basis.
    """

    id: str
    name: str
    provider: str
    arn: str | None
    n_qubits: int
    native_gates: tuple[str, ...]
    price_per_task_usd: Decimal
    price_per_shot_usd: Decimal
    min_shots: int
    max_shots: int | None
    supports_program_sets: bool
    status: str
    successor: str | None = None
    retired_on: str | None = None
    default_profile: str | None = None
    latency_per_inference_s: float | None = None
    notes: str = ""

    @property
    def region(self) -> str | None:
        """AWS region parsed from the ARN (``arn:aws:braket:<region>::device/...``)."""
        return region_from_arn(self.arn) if self.arn else None

    @property
    def is_qpu(self) -> bool:
        """True for a real (paid) QPU, retired or not."""
        return self.status != LOCAL

    @property
    def shots_range_text(self) -> str:
        """The allowed shots as text, e.g. ``10–50000``."""
        upper = "∞" if self.max_shots is None else str(self.max_shots)
        return f"{self.min_shots}–{upper}"


def region_from_arn(arn: str) -> str:
    """Return the region field of a Braket device ARN.

    Raises:
        HardwareError: if ``arn`` is not ``arn:aws:braket:<region>:...``.
    """
    parts = arn.split(":")
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "braket"] or not parts[3]:
        raise HardwareError(
            f"device ARN {arn!r} has no region: expected 'arn:aws:braket:<region>::device/...'"
        )
    return parts[3]


def _qpu(**fields) -> Device:
    return Device(
        price_per_task_usd=QPU_TASK_FEE_USD,
        status=fields.pop("status", ONLINE),
        default_profile=fields["id"],
        **fields,
    )


_CATALOGUE: tuple[Device, ...] = (
    _qpu(
        id="rigetti-ankaa-3",
        name="Rigetti Ankaa-3",
        provider="rigetti",
        arn="arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3",
        n_qubits=82,
        native_gates=("rx", "rz", "iswap"),
        price_per_shot_usd=Decimal("0.0009"),
        min_shots=10,
        max_shots=50_000,
        supports_program_sets=True,
        status=RETIRED,
        successor="rigetti-cepheus-1-108q",
        retired_on="2026-04",
        latency_per_inference_s=0.495,
    ),
    _qpu(
        id="rigetti-cepheus-1-108q",
        name="Rigetti Cepheus-1-108Q",
        provider="rigetti",
        arn="arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q",
        n_qubits=107,
        native_gates=("rx", "rz", "cz"),
        price_per_shot_usd=Decimal("0.000425"),
        min_shots=10,
        max_shots=50_000,
        supports_program_sets=True,
    ),
    _qpu(
        id="iqm-garnet",
        name="IQM Garnet",
        provider="iqm",
        arn="arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
        n_qubits=20,
        native_gates=("prx", "cz"),
        price_per_shot_usd=Decimal("0.00145"),
        min_shots=1,
        max_shots=20_000,
        supports_program_sets=True,
        latency_per_inference_s=1.166,
        notes="qubits labelled 1–20",
    ),
    _qpu(
        id="iqm-emerald",
        name="IQM Emerald",
        provider="iqm",
        arn="arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald",
        n_qubits=54,
        native_gates=("prx", "cz"),
        price_per_shot_usd=Decimal("0.0016"),
        min_shots=1,
        max_shots=200_000,
        supports_program_sets=True,
        latency_per_inference_s=1.294,
    ),
    _qpu(
        id="ionq-forte-enterprise-1",
        name="IonQ Forte Enterprise 1",
        provider="ionq",
        arn="arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
        n_qubits=36,
        native_gates=("gpi", "gpi2", "zz"),
        price_per_shot_usd=Decimal("0.08"),
        min_shots=100,
        max_shots=5_000,
        supports_program_sets=False,
        latency_per_inference_s=371.405,
        notes="all-to-all connectivity",
    ),
    Device(
        id="local",
        name="Braket local simulator (noiseless)",
        provider="amazon",
        arn=None,
        n_qubits=26,
        native_gates=(),
        price_per_task_usd=Decimal("0"),
        price_per_shot_usd=Decimal("0"),
        min_shots=0,
        max_shots=None,
        supports_program_sets=True,
        status=LOCAL,
        notes="free; shots=0 gives exact results",
    ),
)

DEVICES: dict[str, Device] = {d.id: d for d in _CATALOGUE}


def list_devices() -> list[Device]:
    """All catalogue entries, in catalogue order (retired ones included)."""
    return list(_CATALOGUE)


def get_device(device_id: str, allow_retired: bool = False) -> Device:
    """Look a device up by its qml-ops id.

    Args:
        device_id: a catalogue id such as ``"iqm-garnet"``.
        allow_retired: return a retired device instead of raising (estimates and
            emulation of old runs may use one; submission never should).

    Raises:
        HardwareError: for an unknown id (the message lists the known ids) or a
            retired device (the message names its successor).
    """
    device = DEVICES.get(device_id)
    if device is None:
        raise HardwareError(
            f"unknown device {device_id!r}; known devices: {', '.join(DEVICES)}"
        )
    if device.status == RETIRED and not allow_retired:
        raise HardwareError(
            f"device {device_id!r} ({device.name}) was retired in {device.retired_on}; "
            f"use its successor {device.successor!r}"
        )
    return device


def _price(value: object, what: str, device_id: str) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(
            f"{what} for device {device_id!r} must be a number, but got {value!r}"
        ) from None
    if not price.is_finite() or price < 0:
        raise ConfigError(
            f"{what} for device {device_id!r} must be a finite number >= 0, but got {value!r}"
        )
    return price


def with_prices(
    device: Device,
    per_task: Decimal | float | str | None = None,
    per_shot: Decimal | float | str | None = None,
) -> Device:
    """Return a copy of ``device`` with overridden prices (``None`` keeps a price).

    Floats are converted through ``str`` so ``0.00145`` stays exactly 0.00145.

    Raises:
        ConfigError: for a negative, infinite or non-numeric price.
    """
    changes = {}
    if per_task is not None:
        changes["price_per_task_usd"] = _price(per_task, "price per task (USD)", device.id)
    if per_shot is not None:
        changes["price_per_shot_usd"] = _price(per_shot, "price per shot (USD)", device.id)
    return dataclasses.replace(device, **changes) if changes else device
