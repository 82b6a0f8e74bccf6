"""Run compiled circuits on a real Braket QPU: estimated, approved, ledgered, resumable.

:func:`run_on_qpu` is the only way qml-ops creates QPU tasks. In order:

1. **Plan** the tasks exactly as the cost estimate did (program sets of up to
   ``estimate.executables_per_task`` samples where the device supports them,
   else one task per sample) and refuse unless the plan has ``estimate.tasks``
   tasks and the estimate is for this device, sample count and shots.
2. **Pre-flight** (only when some task still has to be created): shots within
   the device's range, every circuit passes the device emulator's validation,
   the spend gate (``check_spend("qpu", estimate, max_budget_usd, approve_usd)``),
   AWS credentials (standard chain, region from the device ARN), and a live
   ``GetDevice``: status ``ONLINE``, inside an execution window, program sets
   and shots accepted; the queue depth is logged.
3. **Ledger first**: each task's row (run key, sample indices, program hash,
   deterministic ``clientToken``, tags ``qml-ops-run``/``qml-ops-task``/
   ``qml-ops-token``) is written *before* ``create_quantum_task`` and updated with
   the ARN right after it returns. Creates go through the raw Braket client with
   that ``clientToken`` (never ``AwsDevice.run_batch``, whose retries create new
   tasks); a transient error is retried with the same token only.
4. **Resume**: rows with an ARN are reconnected (``GetQuantumTask``), never
   re-created; rows without one (a crash between ledger write and create) are
   reconciled first with ``SearchQuantumTasks`` on the run tag and matched by
   the client-token tag; only a task that is not found is created, with the
   same token (Braket's idempotency protects even a search that lags).
5. **Poll** until every task is terminal or ``poll_timeout_s`` passes (then the
   result is ``pending``, nothing is failed or cancelled). Completed tasks'
   ``results.json`` is read from S3 (gate-model or program-set format, inline
   or with relative paths) and turned into per-sample counts of the readout
   qubit, stored in the ledger so a later run does not read them again.

Failed or cancelled tasks are recorded with Braket's ``failureReason`` and
**never resubmitted automatically**. To pay for them again the caller passes
``resubmit_failed=True`` *and* a new approval ``approve_resubmit_usd`` covering
the extra cost; the gate then checks that extra cost against what is left of
``max_budget_usd`` after everything already created. A resubmission is a new
attempt with a new client token (the old one would return the failed task).

One module per concern:

* ``planning``: the tasks of a run, exactly as the approved estimate priced them;
* ``device_parameters``: a one-circuit task's deviceParameters, from public SDK schemas;
* ``aws``: Braket/S3 clients, bounded retries, transient-error classification;
* ``clock``: sleep, monotonic time and UTC now (what tests replace);
* ``windows``: execution windows: inside one now? when does the next open?
* ``preflight``: checks before spending: inputs, circuit validation, the live device;
* ``rows``: the ledger row of a planned task; does a stored row match the plan?
* ``recovery``: finding tasks created before a crash (``SearchQuantumTasks``);
* ``results``: ``results.json`` to per-sample counts; the run's :class:`QpuResult`;
* ``submit``: :func:`run_on_qpu`: create, resume, poll.

Example:
    >>> result = run_on_qpu(                                     # doctest: +SKIP
    ...     get_device("iqm-garnet"), compiled, 512, sample_indices=list(range(48)),
    ...     estimate=estimate(get_device("iqm-garnet"), 48, 512), approve_usd=60,
    ...     max_budget_usd=100, ledger_path=default_ledger_path(), run_key="val-2026-05-06",
    ...     model_version="qcnn/3", s3_bucket="amazon-braket-my-bucket", s3_prefix="qml-ops")
    >>> result.pending, result.cost_usd, result.counts.shape     # doctest: +SKIP
    (False, Decimal('36.42'), (48, 2))
"""

from qml_ops.hardware.qpu.aws import braket_clients
from qml_ops.hardware.qpu.planning import PlannedTask, plan_tasks
from qml_ops.hardware.qpu.results import QpuResult, read_task_results
from qml_ops.hardware.qpu.submit import run_on_qpu
from qml_ops.hardware.qpu.windows import execution_window_status

__all__ = ["QpuResult", "PlannedTask", "plan_tasks", "run_on_qpu", "execution_window_status",
           "braket_clients", "read_task_results"]
