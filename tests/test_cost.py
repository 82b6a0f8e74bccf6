"""Cost estimates: the published prices to the cent, program sets, shot ranges."""

from decimal import Decimal

import pytest

from qml_ops.cost import Estimate, estimate
from qml_ops.errors import ConfigError
from qml_ops.hardware.devices import get_device, with_prices

# 48 inferences, one task each, at 512 and 1024 shots: $0.30 per task plus the per-shot
# price of the Braket pricing page (https://aws.amazon.com/braket/pricing/).
PRICED_RUNS = [
    ("rigetti-ankaa-3", 512, "36.52"),
    ("rigetti-ankaa-3", 1024, "58.64"),
    ("iqm-emerald", 512, "53.72"),
    ("iqm-emerald", 1024, "93.04"),
    ("iqm-garnet", 512, "50.04"),
    ("iqm-garnet", 1024, "85.67"),
    ("ionq-forte-enterprise-1", 512, "1980.48"),
    ("ionq-forte-enterprise-1", 1024, "3946.56"),
]


def dev(device_id):
    return get_device(device_id, allow_retired=True)


@pytest.mark.parametrize("device_id, shots, expected", PRICED_RUNS)
def test_reproduces_the_published_prices(device_id, shots, expected):
    e = estimate(dev(device_id), 48, shots, one_task_per_inference=True)
    assert e.cost_usd == Decimal(expected)
    assert (e.tasks, e.shots_total, e.program_sets) == (48, 48 * shots, False)
    assert e.executables_per_task == 1


@pytest.mark.parametrize("device_id, per_inference", [
    ("rigetti-ankaa-3", "0.76"), ("iqm-emerald", "1.12"),
    ("iqm-garnet", "1.04"), ("ionq-forte-enterprise-1", "41.26"),
])
def test_cost_per_inference_of_the_case_study(device_id, per_inference):
    assert estimate(dev(device_id), 1, 512).cost_usd == Decimal(per_inference)


def test_program_sets_pay_the_fee_once_per_task():
    e = estimate(dev("iqm-emerald"), 48, 512)
    assert (e.tasks, e.program_sets, e.executables_per_task) == (1, True, 100)
    assert e.cost_usd == Decimal("39.62")  # 0.30 + 24576 x 0.0016 = 39.6216
    assert estimate(dev("iqm-emerald"), 250, 512).tasks == 3  # 100 + 100 + 50


def test_a_program_set_holds_no_more_shots_than_the_device_takes():
    """Garnet's shotsRange ends at 20,000: a program set there holds at most
    20,000 shots in total (39 x 512), though the program-set limit is 200,000."""
    e = estimate(dev("iqm-garnet"), 48, 512)
    assert (e.tasks, e.program_sets, e.executables_per_task) == (2, True, 39)
    assert e.cost_usd == Decimal("36.24")  # 2 x 0.30 + 24576 x 0.00145 = 36.2352
    assert estimate(dev("iqm-garnet"), 250, 512).tasks == 7  # 6 x 39 + 16
    e = estimate(dev("iqm-garnet"), 12, 20_000)  # one sample fills a task: no program sets
    assert (e.tasks, e.program_sets, e.executables_per_task) == (12, False, 1)
    e = estimate(dev("rigetti-cepheus-1-108q"), 250, 512)  # 50,000 // 512 = 97 per set
    assert (e.tasks, e.executables_per_task) == (3, 97)


def test_program_sets_respect_the_total_shots_limit():
    e = estimate(dev("iqm-emerald"), 100, 3000)  # 200000 // 3000 = 66 per task
    assert (e.executables_per_task, e.tasks) == (66, 2)
    e = estimate(dev("iqm-emerald"), 5, 200_000)
    assert (e.executables_per_task, e.tasks) == (1, 5)


def test_ionq_has_no_program_sets():
    e = estimate(dev("ionq-forte-enterprise-1"), 48, 512)
    assert (e.tasks, e.program_sets) == (48, False)


def test_one_task_per_inference_forces_one_task_per_sample():
    e = estimate(dev("rigetti-cepheus-1-108q"), 10, 100, one_task_per_inference=True)
    assert (e.tasks, e.program_sets) == (10, False)
    assert e.cost_usd == Decimal("3.43")  # 10 x 0.30 + 1000 x 0.000425


def test_local_is_free():
    e = estimate(dev("local"), 1000, 0)
    assert e.cost_usd == 0 and e.tasks == 10 and e.expected_latency_s is None


@pytest.mark.parametrize("device_id, shots, allowed", [
    ("ionq-forte-enterprise-1", 99, "100–5000"),
    ("ionq-forte-enterprise-1", 5001, "100–5000"),
    ("rigetti-cepheus-1-108q", 5, "10–50000"),
    ("iqm-garnet", 20001, "1–20000"),
    ("iqm-garnet", 0, "1–20000"),
])
def test_shots_outside_range(device_id, shots, allowed):
    with pytest.raises(ConfigError) as err:
        estimate(dev(device_id), 48, shots)
    message = str(err.value)
    assert device_id in message and f"shots={shots}" in message and allowed in message


@pytest.mark.parametrize("samples", [0, -3, 2.5, True])
def test_bad_sample_counts(samples):
    with pytest.raises(ConfigError, match="samples"):
        estimate(dev("iqm-garnet"), samples, 100)


def test_rounds_half_up_to_the_cent():
    device = with_prices(dev("iqm-garnet"), per_task=0, per_shot="0.005")
    assert estimate(device, 1, 1).cost_usd == Decimal("0.01")  # bankers' rounding gives 0.00
    device = with_prices(dev("iqm-garnet"), per_task=0, per_shot="0.0049")
    assert estimate(device, 1, 1).cost_usd == Decimal("0.00")


def test_price_overrides_apply():
    device = with_prices(dev("ionq-forte-enterprise-1"), per_shot="0.03")
    assert estimate(device, 48, 512, True).cost_usd == Decimal("751.68")  # 14.40 + 737.28


def test_expected_latency_from_case_study():
    assert estimate(dev("rigetti-ankaa-3"), 48, 512).expected_latency_s == pytest.approx(23.76)
    assert estimate(dev("rigetti-cepheus-1-108q"), 48, 512).expected_latency_s is None


def test_to_dict():
    e = estimate(dev("iqm-garnet"), 48, 512, one_task_per_inference=True)
    assert isinstance(e, Estimate)
    assert e.to_dict() == {
        "device": "iqm-garnet", "tasks": 48, "shots_total": 24576, "cost_usd": 50.04,
        "per_task_usd": 0.3, "per_shot_usd": 0.00145, "program_sets": False,
    }
