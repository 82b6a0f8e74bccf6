"""Simulation speed: forward + backward samples/s and peak memory, per engine.

Circuit: SU(4) QCNN (ansatz 9), angle encoding, loss = sum of ⟨Z⟩, gradient
w.r.t. the weights. Engines:

* ``pennylane-broadcast``: default.qubit, torch interface, backprop, parameter
  broadcasting (the whole batch in one call);
* ``pennylane-lightning-adjoint``: lightning.qubit, adjoint differentiation, the
  batch passed in one call (lightning splits it into one circuit per sample);
* ``qml-ops``: :class:`qml_ops.simulation.engine.BatchedSimulator`, complex64.

Each configuration runs in a fresh subprocess, so its peak memory is its own:
``peak_mem_mb`` = peak RSS of that process (``ru_maxrss``) minus its RSS just
before the first timed call (after imports and input creation).
Configurations whose estimated memory exceeds ``--mem-limit-gb`` are skipped
(estimate for default.qubit backprop: ~340 states of 2**n complex128 per
sample, in line with the pennylane-broadcast peak memory in ``results/sim.json``:
250–530 states per sample). Slow engines are time-boxed: lightning is measured on a few
samples and samples/s extrapolated (``extrapolated_from`` says on how many).

``qml-ops`` is also run with ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:
glibc.malloc.trim_threshold=4000000000`` (glibc hands every allocation of
32 MB or more fresh pages, so each large temporary pays page faults; the
tunables keep freed memory in the process), reported as
``qml-ops+glibc``; the ratios use plain ``qml-ops``.

Usage::

    .venv/bin/python benchmarks/bench_sim.py            # full table, ~5 min
    .venv/bin/python benchmarks/bench_sim.py --threads 2

Writes ``benchmarks/results/sim.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

GLIBC = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000"
RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"
STATES_PER_SAMPLE = 340  # default.qubit backprop, states per sample (see the docstring)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, n: int, batch: int, threads: int, budget_s: float) -> dict:
    """Measure one configuration in this process; returns a result row."""
    import torch

    torch.set_num_threads(threads)
    from qml_ops.circuits.qcnn import QCNNSpec

    spec = QCNNSpec(n_qubits=n, ansatz=9, encoding="angle")
    gen = torch.Generator().manual_seed(0)
    extrapolated = None
    if engine == "qml-ops":
        from qml_ops.simulation.engine import BatchedSimulator

        sim = BatchedSimulator(spec)
        w = torch.randn(spec.n_weights, generator=gen).requires_grad_(True)
        x = torch.pi * torch.rand(batch, n, generator=gen)
        run_batch = batch

        def step():
            w.grad = None
            sim.expval(w, x).sum().backward()

    else:
        from qml_ops.circuits.reference import build_qnode

        if engine == "pennylane-broadcast":
            f = build_qnode(spec)
            run_batch = batch
        else:  # lightning adjoint, time-boxed on a few samples
            f = build_qnode(spec, device_name="lightning.qubit", diff_method="adjoint")
            run_batch = min(batch, 8 if n <= 8 else 2)
            extrapolated = run_batch
        w = torch.randn(spec.n_weights, dtype=torch.float64, generator=gen).requires_grad_(True)
        x = torch.pi * torch.rand(run_batch, n, dtype=torch.float64, generator=gen)

        def step():
            w.grad = None
            f(w, x).sum().backward()

    rss0 = _rss_mb()
    step()  # warm-up (caches, buffers, PennyLane's first-call costs)
    times = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < budget_s and len(times) < 50):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    best = sorted(times)[len(times) // 2]  # median
    return {
        "engine": engine,
        "n_qubits": n,
        "batch": batch,
        "samples_per_s": round(run_batch / best, 2),
        "peak_mem_mb": round(_peak_mb() - rss0, 1),
        "repeats": len(times),
        "extrapolated_from": extrapolated,
        "threads": threads,
    }


def _run(engine: str, n: int, batch: int, args, glibc: bool = False) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if glibc:
        env["GLIBC_TUNABLES"] = GLIBC
    cmd = [sys.executable, __file__, "--worker", engine, str(n), str(batch), "--threads",
           str(args.threads), "--budget", str(args.budget)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "n_qubits": n, "batch": batch, "samples_per_s": None,
                "peak_mem_mb": None, "note": f"timed out after {args.timeout} s"}
    if out.returncode != 0:
        return {"engine": engine, "n_qubits": n, "batch": batch, "samples_per_s": None,
                "peak_mem_mb": None, "note": f"failed: {out.stderr.strip().splitlines()[-1:]}"}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if glibc:
        row["engine"] += "+glibc"
    return row


def _estimate_gb(n: int, batch: int) -> float:
    return STATES_PER_SAMPLE * 2**n * 16 * batch / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads per run (default 1)")
    p.add_argument("--budget", type=float, default=3.0, help="seconds of timed repeats per config")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a config is abandoned")
    p.add_argument("--mem-limit-gb", type=float, default=12.0, help="skip configs estimated above this")
    p.add_argument("--qubits", type=int, nargs="+", default=[8, 16])
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    p.add_argument("--pl-small-batch", type=int, default=4,
                   help="extra PennyLane-broadcast batch at 16 qubits, where 64 does not fit")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--worker", nargs=3, metavar=("ENGINE", "N", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        engine, n, batch = args.worker
        print(json.dumps(worker(engine, int(n), int(batch), args.threads, args.budget)))
        return 0

    rows = []

    def record(row):
        rows.append(row)
        sps = row["samples_per_s"]
        print(f"{row['engine']:<30} {row['n_qubits']:>3} {row['batch']:>6} "
              f"{'-' if sps is None else f'{sps:,.1f}':>12} "
              f"{'-' if row['peak_mem_mb'] is None else row['peak_mem_mb']:>10}  {row.get('note', '')}",
              flush=True)

    print(f"{'engine':<30} {'n':>3} {'batch':>6} {'samples/s':>12} {'peak MB':>10}")
    for n in args.qubits:
        pl_batches = list(args.batches)
        if n >= 16 and args.pl_small_batch not in pl_batches:
            pl_batches = [args.pl_small_batch] + pl_batches
        for batch in pl_batches:
            est = _estimate_gb(n, batch)
            if est > args.mem_limit_gb:
                record({"engine": "pennylane-broadcast", "n_qubits": n, "batch": batch,
                        "samples_per_s": None, "peak_mem_mb": None,
                        "note": f"skipped: needs ~{est:.0f} GB > {args.mem_limit_gb:g} GB"})
            else:
                record(_run("pennylane-broadcast", n, batch, args))
        for batch in args.batches:
            record(_run("pennylane-lightning-adjoint", n, batch, args))
            record(_run("qml-ops", n, batch, args))
            record(_run("qml-ops", n, batch, args, glibc=True))

    def sps(engine, n, batch=None):
        vals = [r["samples_per_s"] for r in rows if r["engine"] == engine and r["n_qubits"] == n
                and (batch is None or r["batch"] == batch) and r["samples_per_s"]]
        return max(vals) if vals else None

    ratio, notes = {}, []
    if sps("qml-ops", 8, 256) and sps("pennylane-broadcast", 8, 256):
        ratio["8q_b256"] = round(sps("qml-ops", 8, 256) / sps("pennylane-broadcast", 8, 256), 1)
    pl16 = [(r["samples_per_s"], r["engine"], r["batch"]) for r in rows
            if r["n_qubits"] == 16 and r["engine"].startswith("pennylane") and r["samples_per_s"]]
    if pl16 and sps("qml-ops", 16, 64):
        best = max(pl16)
        ratio["16q"] = round(sps("qml-ops", 16, 64) / best[0], 1)
        notes.append(f"16q ratio: qml-ops batch 64 over the fastest PennyLane option that fits, "
                     f"{best[1]} batch {best[2]} ({best[0]} samples/s)")
    notes += [
        "samples_per_s: median over repeats of forward + backward (sum of <Z>, grad w.r.t. weights)",
        "peak_mem_mb: ru_maxrss of the fresh worker process minus its RSS before the first call",
        "pennylane-lightning-adjoint: measured on extrapolated_from samples, samples/s extrapolated",
        f"qml-ops+glibc: GLIBC_TUNABLES={GLIBC}",
        f"threads per run: {args.threads}",
    ]
    result = {"rows": rows, "ratio": ratio, "notes": notes, "machine": platform.platform(),
              "cpu_count": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("ratio:", json.dumps(ratio))
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
