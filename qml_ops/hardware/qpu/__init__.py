"""Run compiled circuits on a real Braket QPU: estimated, approved, ledgered, resumable.

:func:`run_on_qpu` is the only way qml-ops creates QPU tasks. In order:

1. **Plan** the tasks exactly as the cost estimate did (program sets of up to
   ``estimate.executables_per_task`` samples where the device supports them,
   at most 100 executables and no more shots than the program-set limit and
   the device's shots range allow, each paying the task fee once; else one
   task per sample) and refuse unless the plan has ``estimate.tasks`` tasks and
   the estimate is for this device, sample count and shots.
2. **Creation gate** (only when some task still has to be created; it gates
   new creates only): every circuit passes the device emulator's validation;
   the spend gate (``check_spend("qpu", estimate, max_budget_usd, approve_usd)``:
   ceilings, not approvals); a **recorded approval** of exactly this run
   (:mod:`qml_ops.hardware.approvals`; a resumed run's rows carry theirs); the
   **total budget** of the period (:mod:`qml_ops.hardware.billing`); AWS
   credentials (standard chain, region from the device ARN); a live
   ``GetDevice``: status ``ONLINE``, the circuits against Braket's emulator of
   the live device document, program-set limits and shots accepted now; outside
   an execution window a warning with the next window and the wait (or a
   refusal with ``refuse_outside_window``); the device's **AWS spending limits**
   read and shown, and with ``enforce_spending_limit`` created or lowered to
   what is approved (:mod:`~qml_ops.hardware.qpu.spending_limits`).
3. **Never block collecting**: whatever the gate says, rows left by an
   interrupted create are reconciled and every task that exists is polled; a
   refusal is raised after that, and stops new creates only.
4. **Ledger first**: each task's row (run key, sample indices, program hash,
   deterministic ``clientToken``, tags ``qml-ops-run``/``qml-ops-task``/
   ``qml-ops-token``/``qml-ops-model``, prices, approval) is written *before*
   ``create_quantum_task`` (the first row of a run marks its approval used in the
   same write), the total budget is checked again, and the row is updated with
   the ARN right after. Creates go through the raw Braket client with that
   ``clientToken`` (never ``AwsDevice.run_batch``, whose retries create new
   tasks); a transient error is retried with the same token only. A rejected
   program set's ``programSetValidationFailures`` are reported by executable.
5. **Resume**: rows with an ARN are reconnected (``GetQuantumTask``), never
   re-created; rows without one (a crash after the create, or a create whose
   outcome is unknown) are reconciled first with ``SearchQuantumTasks`` by
   ``deviceArn`` and a ``createdAt`` window, paginated, matched by their run and
   client-token tags on the client side (:mod:`~qml_ops.hardware.qpu.recovery`);
   only a task that is not found is created, with the same token (Braket's
   idempotency protects even a search that lags).
6. **Poll** until every task is terminal or ``poll_timeout_s`` passes (then the
   result is ``pending``, nothing is failed or cancelled). Each poll records the
   state, ``numSuccessfulShots`` and what the task is billed (``spent_usd``),
   and its queue/execution/total seconds. Completed tasks' ``results.json`` is
   read from S3 (gate-model or program-set format, inline or with relative
   paths) and turned into per-sample counts of the readout qubit, stored in the
   ledger so a later run does not read them again. A ``CANCELLING`` task that
   ends ``COMPLETED`` is collected and billed like any completed task.

Failed or cancelled tasks are recorded with Braket's ``failureReason`` and
**never resubmitted automatically**. To pay for them again the caller passes
``resubmit_failed=True`` *and* a new approval ``approve_resubmit_usd`` covering
the extra cost; the gate then checks that extra cost against what is left of
``max_budget_usd`` after what the run has spent (failed and cancelled tasks are
not billed). A resubmission is a new attempt with a new client token (the old
one would return the failed task).

One module per concern:

* ``planning``: the tasks of a run, exactly as the approved estimate priced them;
* ``device_parameters``: a one-circuit task's deviceParameters, from public SDK schemas;
* ``aws``: Braket/S3 clients, bounded retries, transient-error classification;
* ``clock``: sleep, monotonic time and UTC now (what tests replace);
* ``windows``: execution windows: inside one now? when does the next open?
* ``preflight``: checks before spending: inputs, circuit validation, the live device, the bucket;
* ``spending_limits``: the device's AWS spending limits: read, check, enforce;
* ``rows``: the ledger row of a planned task; does a stored row match the plan?
* ``recovery``: finding tasks created before a crash (``SearchQuantumTasks``);
* ``results``: ``results.json`` to per-sample counts; the run's :class:`QpuResult`;
* ``submit``: :func:`run_on_qpu`: gate, create, resume, poll.

Example:
    >>> result = run_on_qpu(                                     # doctest: +SKIP
    ...     get_device("iqm-garnet"), compiled, 512, sample_indices=list(range(48)),
    ...     estimate=estimate(get_device("iqm-garnet"), 48, 512), approve_usd=60,
    ...     max_budget_usd=100, total_budget_usd=500, ledger_path=default_ledger_path(),
    ...     run_key="qcnn-v3-48x512-0123456789", model_version="3",
    ...     s3_bucket="amazon-braket-my-bucket", s3_prefix="qml-ops")
    >>> result.pending, result.cost_usd, result.spent_usd     # doctest: +SKIP
    (False, Decimal('36.2352'), Decimal('36.2352'))
"""

from qml_ops.hardware.qpu.aws import braket_clients
from qml_ops.hardware.qpu.planning import PlannedTask, plan_digest, plan_tasks
from qml_ops.hardware.qpu.results import QpuResult, read_task_results
from qml_ops.hardware.qpu.submit import run_on_qpu
from qml_ops.hardware.qpu.windows import execution_window_status

__all__ = ["QpuResult", "PlannedTask", "plan_tasks", "plan_digest", "run_on_qpu", "execution_window_status",
           "braket_clients", "read_task_results"]
