"""The backend interface: torch emulator, Braket LocalEmulator and Braket QPU give the same DeviceRun.

The QPU runs against the Stubber-checked Braket client and moto S3 of
``qpu_fixtures``; its results are the torch emulator's counts for the same seed,
so the three runs are comparable sample by sample.
"""

import math
from dataclasses import fields
from decimal import Decimal

import numpy as np
import pytest

from qml_ops.cost import estimate
from qml_ops.errors import HardwareError
from qml_ops.hardware.backends import (
    Backend, BackendOptions, DeviceRun, QpuSettings, TorchEmulatorBackend, backend_for, backend_name,
    backend_names, register_backend,
)
from qml_ops.hardware.backends.braket_qpu import run_key_for
from qml_ops.hardware.backends import registry
from qml_ops.hardware.devices import get_device
from tests.hardware.qpu_fixtures import BUCKET, PREFIX, FakeBraket, record_approval
from tests.hardware.test_qpu import GARNET, IONQ, _s3, aws, compiled  # noqa: F401  (fixtures)

SEED = 7  # FakeBraket's results are the torch emulator's counts with this seed


def qpu_backend(device, profile, circuits, shots, est, ledger, **settings):
    fake = FakeBraket(device, circuits, shots, profile, per_task=est.executables_per_task if est.program_sets else 1,
                      program_set=est.program_sets, s3=_s3(device.region), seed=SEED,
                      run_key=run_key_for("qcnn-v1", circuits), model_version="1")
    record_approval(ledger, device, circuits, shots, est, fake.run_key, "1")  # `qml-ops hardware approve`
    settings = QpuSettings(approve_usd=est.cost_usd, max_budget_usd=100, ledger_path=ledger, run_key="qcnn-v1",
                           model_version="1", s3_bucket=BUCKET, s3_prefix=PREFIX, poll_interval_s=0,
                           total_budget_usd=100, braket_client=fake.client, s3_client=fake.s3, **settings)
    return backend_for("qpu", device, profile, BackendOptions(qpu=settings)), fake


def test_three_backends_return_the_same_device_run(compiled, aws):  # noqa: F811
    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    shots, indices = 100, [100, 101, 102]
    est = estimate(device, 3, shots)
    qpu, fake = qpu_backend(device, profile, circuits, shots, est, aws["ledger"])
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)
    for i in range(3):
        fake.expect_get_task(i, "COMPLETED")
    backends = {"torch": backend_for("torch", device, profile, BackendOptions(seed=SEED)),
                "braket": backend_for("braket", device, profile, BackendOptions(seed=SEED)),
                "qpu": qpu}
    runs = {name: b.run(circuits, shots, sample_indices=indices, estimate=est) for name, b in backends.items()}
    fake.done()
    assert len(fake.creates) == 3
    for name, run in runs.items():
        backend = backends[name]
        assert isinstance(backend, Backend) and backend.name == name and backend.device == device
        assert isinstance(run, DeviceRun)
        assert run.counts.shape == (3, 2) and run.counts.dtype == np.float64
        assert (run.counts.sum(axis=1) == shots).all() and run.done.all()
        assert run.sample_indices == (100, 101, 102) and run.shots == shots
        assert run.tasks == 3 and run.committed_usd == est.cost_usd == Decimal("24.90")
        assert not run.pending and run.failed_samples == () and run.resume_hint is None
        assert (run.provenance.backend, run.provenance.kind) == (name, backend.kind)
        assert run.provenance.device_id == IONQ and run.provenance.device_arn == device.arn
        assert run.provenance.profile_source == profile.source
        assert run.provenance.profile_date == profile.snapshot_date
        assert run.latency.wall_s >= 0 and run.latency.per_inference_s > 0
    torch_run, braket_run, qpu_run = runs["torch"], runs["braket"], runs["qpu"]
    # cost: emulators stand for the estimate and spend nothing; the QPU spent what it created
    assert torch_run.spent_usd == braket_run.spent_usd == Decimal(0)
    assert torch_run.cost_basis == braket_run.cost_basis == "estimate (emulated: nothing spent)"
    assert qpu_run.spent_usd == Decimal("24.90") and qpu_run.cost_basis == "price table (tasks created)"
    # exact probabilities only where the backend knows them
    p1 = torch_run.p1
    assert p1.shape == (3,) and ((0 <= p1) & (p1 <= 1)).all()
    assert braket_run.p1 is None and qpu_run.p1 is None
    # the same counts from the torch emulator and the (emulated) QPU; LocalEmulator within shot noise
    np.testing.assert_array_equal(torch_run.counts, qpu_run.counts)
    np.testing.assert_array_equal(qpu_run.counts, fake.expected_counts)
    sigma = np.sqrt(p1 * (1 - p1) / shots)
    assert (np.abs(braket_run.counts[:, 1] / shots - p1) <= 5 * sigma + 0.02).all()
    # tasks and timings: ledger rows and per-task latency for the QPU, none for emulators
    assert torch_run.task_rows == braket_run.task_rows == () and torch_run.latency.tasks == ()
    assert [r.state for r in qpu_run.task_rows] == ["COMPLETED"] * 3
    assert [r.arn for r in qpu_run.task_rows] == [fake.arn(i) for i in range(3)]
    assert [t.total_s for t in qpu_run.latency.tasks] == [30.0, 31.0, 32.0]
    assert qpu_run.latency.per_inference_s == 31.0
    assert qpu_run.provenance.run_key == fake.run_key
    assert qpu_run.provenance.ledger_path == str(aws["ledger"])
    assert torch_run.provenance.emulator == "torch" and braket_run.provenance.emulator == "braket"
    assert qpu_run.provenance.emulator is None and torch_run.provenance.ledger_path is None
    assert {f.name for f in fields(torch_run)} == {f.name for f in fields(qpu_run)}


def test_pending_qpu_run_says_how_to_collect_it(compiled, aws):  # noqa: F811
    device = get_device(GARNET)
    profile, circuits = compiled[GARNET]
    est = estimate(device, len(circuits), 100)
    qpu, fake = qpu_backend(device, profile, circuits, 100, est, aws["ledger"], poll_timeout_s=0)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "QUEUED")
    run = qpu.run(circuits, 100, sample_indices=range(len(circuits)), estimate=est)
    fake.done()
    assert run.pending and not run.done.any() and np.isnan(run.counts).all()
    assert run.tasks == 1 and run.committed_usd == run.spent_usd == Decimal("1.17")
    assert "tasks still pending after 0 s" in run.resume_hint and str(aws["ledger"]) in run.resume_hint


def test_an_estimate_for_another_run_is_refused(compiled):  # noqa: F811
    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    backend = TorchEmulatorBackend(device, profile, seed=0)
    with pytest.raises(HardwareError, match="the estimate is for ionq-forte-enterprise-1, 3 samples x 200 shots, "
                                            "but the run is ionq-forte-enterprise-1, 3 samples x 100 shots"):
        backend.run(circuits, 100, sample_indices=[0, 1, 2], estimate=estimate(device, 3, 200))
    with pytest.raises(HardwareError, match="sample_indices has 2 entries for 3 circuits"):
        backend.run(circuits, 100, sample_indices=[0, 1], estimate=estimate(device, 3, 100))


def test_registry_lookups_and_errors(compiled):  # noqa: F811
    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    assert backend_names() == ("torch", "braket", "qpu", "trajectories")
    assert backend_name("emulate", "braket") == "braket" and backend_name("qpu", "torch") == "qpu"
    with pytest.raises(HardwareError, match=r"hardware.mode 'off' runs no backend; modes that do: \['emulate', 'qpu'\]"):
        backend_name("off", "torch")
    with pytest.raises(HardwareError, match=r"backend must be one of \['braket', 'qpu', 'torch', 'trajectories'\], "
                                            r"but got backend='stabilizer'"):
        backend_for("stabilizer", device, profile)
    with pytest.raises(HardwareError, match="needs the QPU settings"):
        backend_for("qpu", device, profile, BackendOptions(seed=0))
    # a new backend plugs in with one registration
    try:
        register_backend("torch-unseeded", lambda d, p, o: TorchEmulatorBackend(d, p, seed=None))
        backend = backend_for("torch-unseeded", device, profile, BackendOptions(seed=3))
        assert isinstance(backend, TorchEmulatorBackend) and backend.seed is None
        run = backend.run(circuits, 100, sample_indices=[0, 1, 2], estimate=estimate(device, 3, 100))
        assert run.counts.shape == (3, 2) and math.isclose(run.counts.sum(), 300)
    finally:
        registry._FACTORIES.pop("torch-unseeded", None)
    assert "torch-unseeded" not in backend_names()


def test_trajectory_backend_reports_its_method_and_statistical_error(compiled):  # noqa: F811
    from qml_ops.hardware.backends import EmulatorSettings, TrajectoryEmulatorBackend

    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    est = estimate(device, 3, 100)
    options = BackendOptions(seed=SEED, emulator=EmulatorSettings(trajectories=8, device="cpu"))
    backend = backend_for("trajectories", device, profile, options)
    assert isinstance(backend, TrajectoryEmulatorBackend) and backend.settings.method == "trajectories"
    run = backend.run(circuits, 100, sample_indices=[0, 1, 2], estimate=est)
    assert run.provenance.emulator_method == "trajectories" and run.provenance.trajectories == 8
    assert run.provenance.backend == "trajectories" and run.provenance.emulator == "torch"
    assert run.p1_stderr.shape == (3,) and (run.p1_stderr > 0).all()
    assert (run.counts.sum(axis=1) == 100).all() and run.spent_usd == Decimal(0)
    # the torch backend with method auto runs these small circuits exactly
    exact = backend_for("torch", device, profile, options).run(circuits, 100, sample_indices=[0, 1, 2], estimate=est)
    assert exact.provenance.emulator_method == "density_matrix" and exact.provenance.trajectories is None
    assert (exact.p1_stderr == 0).all()
    assert (np.abs(run.p1 - exact.p1) < 5 * run.p1_stderr + 1e-9).all()


def test_emulators_say_what_they_cannot_run_at_their_configured_cost(compiled):  # noqa: F811
    from qml_ops.hardware.backends import EmulatorSettings

    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    n = len(circuits[0].qubits)
    assert backend_for("torch", device, profile).unsupported_reason(circuits) is None
    small = BackendOptions(emulator=EmulatorSettings(method="trajectories", max_qubits=n - 1))
    reason = backend_for("torch", device, profile, small).unsupported_reason(circuits)
    assert reason.startswith(f"the circuit uses {n} qubits; hardware.emulator_max_qubits is {n - 1}")
    assert backend_for("trajectories", device, profile, small).unsupported_reason(circuits) == reason
    # the density matrix at its own limit (13 qubits), whatever max_qubits says
    from qml_ops.hardware.emulator import unsupported_reason

    assert "density-matrix emulation (braket) handles <= 13" in unsupported_reason(16, "braket")
    assert unsupported_reason(13, "density_matrix") is None and unsupported_reason(22, "trajectories") is None


def test_cuda_without_a_gpu_is_a_clear_error(compiled):  # noqa: F811
    import torch

    from qml_ops.hardware.backends import EmulatorSettings

    if torch.cuda.is_available():
        assert EmulatorSettings(device="cuda").torch_device() == "cuda"
        assert EmulatorSettings().torch_device() == "cuda"
        return
    assert EmulatorSettings().torch_device() == "cpu"
    with pytest.raises(HardwareError, match="hardware.emulator_device is 'cuda', but torch sees no CUDA device"):
        EmulatorSettings(device="cuda").torch_device()
