"""The device catalogue against the Braket pricing page and the device documents."""

from decimal import Decimal
from pathlib import Path

import pytest

from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware.devices import (
    DEVICES,
    PROGRAM_SET_MAX_EXECUTABLES,
    PROGRAM_SET_MAX_TOTAL_SHOTS,
    get_device,
    list_devices,
    region_from_arn,
    with_prices,
)
from qml_ops.hardware.profiles import decode_json_document, list_snapshots, newest_snapshots

REPO = Path(__file__).resolve().parents[2]
#: Entries of paradigm.nativeGateSet that are not gates a circuit is compiled to.
NOT_COMPILED_TO = {"barrier", "cc_prx", "measure_ff"}

# id: (region, qubits, native gates, $/shot, min shots, max shots, program sets), as the
# Braket pricing page (https://aws.amazon.com/braket/pricing/) and device pages list them
CATALOGUE = {
    "rigetti-ankaa-3": ("us-west-1", 82, ("rx", "rz", "iswap"), "0.0009", 10, 50000, True),
    "rigetti-cepheus-1-108q": ("us-west-1", 107, ("rx", "rz", "cz"), "0.000425", 10, 50000, True),
    "iqm-garnet": ("eu-north-1", 20, ("prx", "cz"), "0.00145", 1, 20000, True),
    "iqm-emerald": ("eu-north-1", 54, ("prx", "cz"), "0.0016", 1, 200000, True),
    "ionq-forte-enterprise-1": ("us-east-1", 36, ("gpi", "gpi2", "zz"), "0.08", 100, 5000, False),
}


def test_catalogue_ids():
    assert set(DEVICES) == set(CATALOGUE) | {"local"}
    assert [d.id for d in list_devices()] == list(DEVICES)


@pytest.mark.parametrize("device_id", sorted(CATALOGUE))
def test_qpu_figures_match_the_published_ones(device_id):
    region, qubits, gates, per_shot, lo, hi, sets = CATALOGUE[device_id]
    d = get_device(device_id, allow_retired=True)
    assert d.region == region
    assert d.arn.startswith(f"arn:aws:braket:{region}::device/qpu/{d.provider}/")
    assert d.n_qubits == qubits
    assert d.native_gates == gates
    assert d.price_per_task_usd == Decimal("0.30")
    assert d.price_per_shot_usd == Decimal(per_shot)
    assert (d.min_shots, d.max_shots) == (lo, hi)
    assert d.supports_program_sets is sets
    assert d.default_profile == device_id
    assert d.is_qpu


@pytest.mark.parametrize("device_id", sorted(CATALOGUE))
def test_catalogue_agrees_with_the_newest_device_document(device_id):
    """The figures the catalogue cites from profiles/snapshots/ are the documents' own."""
    doc = decode_json_document(newest_snapshots(REPO)[device_id].read_text())
    d = get_device(device_id, allow_retired=True)
    assert d.n_qubits == doc["paradigm"]["qubitCount"]
    native = {g.lower() for g in doc["paradigm"]["nativeGateSet"]} - NOT_COMPILED_TO
    assert set(d.native_gates) == native
    assert doc["service"]["deviceCost"]["unit"] == "shot"
    assert d.price_per_shot_usd == Decimal(str(doc["service"]["deviceCost"]["price"]))
    assert [d.min_shots, d.max_shots] == doc["service"]["shotsRange"]
    program_set = doc["action"].get("braket.ir.openqasm.program_set")
    assert d.supports_program_sets is (program_set is not None)


def test_program_set_limits_are_the_documents():
    limits = set()
    for path in list_snapshots(root=REPO):
        action = decode_json_document(path.read_text())["action"]
        program_set = action.get("braket.ir.openqasm.program_set")
        if program_set:
            limits.add((program_set["maximumExecutables"], program_set["maximumTotalShots"]))
    assert limits == {(PROGRAM_SET_MAX_EXECUTABLES, PROGRAM_SET_MAX_TOTAL_SHOTS)}


def test_statuses():
    assert get_device("rigetti-cepheus-1-108q").status == "ONLINE"
    ankaa = get_device("rigetti-ankaa-3", allow_retired=True)
    assert (ankaa.status, ankaa.successor) == ("RETIRED", "rigetti-cepheus-1-108q")
    local = get_device("local")
    assert local.status == "LOCAL" and not local.is_qpu
    assert local.price_per_task_usd == local.price_per_shot_usd == 0
    assert local.arn is None and local.region is None and local.default_profile is None


def test_unknown_device_lists_known_ids():
    with pytest.raises(HardwareError) as err:
        get_device("rigetti-ankaa-2")
    message = str(err.value)
    assert "'rigetti-ankaa-2'" in message
    for known in DEVICES:
        assert known in message


def test_retired_device_names_successor():
    with pytest.raises(HardwareError, match="retired.*rigetti-cepheus-1-108q"):
        get_device("rigetti-ankaa-3")


def test_with_prices_overrides_exactly():
    garnet = get_device("iqm-garnet")
    assert with_prices(garnet) is garnet
    cheaper = with_prices(garnet, per_shot=0.00145 / 2)
    assert cheaper.price_per_shot_usd == Decimal("0.000725")
    assert cheaper.price_per_task_usd == Decimal("0.30")
    both = with_prices(garnet, per_task="0.25", per_shot=Decimal("0.001"))
    assert (both.price_per_task_usd, both.price_per_shot_usd) == (Decimal("0.25"), Decimal("0.001"))
    assert garnet.price_per_shot_usd == Decimal("0.00145")  # original untouched


@pytest.mark.parametrize("bad", [-0.01, "abc", float("inf"), float("nan")])
def test_with_prices_rejects_bad_values(bad):
    with pytest.raises(ConfigError, match="iqm-garnet"):
        with_prices(get_device("iqm-garnet"), per_shot=bad)


def test_region_from_arn():
    assert region_from_arn("arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet") == "eu-north-1"
    with pytest.raises(HardwareError, match="no region"):
        region_from_arn("arn:aws:braket:::device/quantum-simulator/amazon/sv1")
