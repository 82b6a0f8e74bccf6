"""Simulation speed: forward + backward samples/s and peak memory, per engine and device.

Circuit: SU(4) QCNN (ansatz 9), angle encoding, loss = sum of ⟨Z⟩, gradient
w.r.t. the weights. Engines:

* ``pennylane-broadcast``: default.qubit, torch interface, backprop, parameter
  broadcasting (the whole batch in one call);
* ``pennylane-lightning-adjoint`` (CPU): lightning.qubit, adjoint
  differentiation. Lightning runs one circuit per sample, so its rate does not
  depend on the batch: it is timed on ``batch`` samples per call (about a
  second of work), ``repeats`` calls, and reported once per register size;
* ``plain-torch``: a straightforward complex64 state-vector implementation of
  the same circuit in torch (one ``einsum`` per gate, autograd), the baseline on
  GPU (:func:`plain_torch_qnode`; checked against qml-ops before timing);
* ``qml-ops``: :class:`qml_ops.simulation.engine.BatchedSimulator`, complex64.

Each configuration runs in a fresh subprocess (its peak memory is its own:
``peak_mem_mb`` = peak RSS (``ru_maxrss``) minus the RSS before the first call
on CPU, ``torch.cuda.max_memory_allocated`` on CUDA). Within a process the
figure is the median over timed calls (after one warm-up call) in ``--budget``
seconds (garbage collector off during a call, as in ``timeit``). The machine
may be shared, so the whole table is run ``--rounds`` times and each row
reports the median over rounds (the per-round figures are in ``runs``). The
ratios come from paired runs: in each round, qml-ops and the PennyLane option
it is compared with run in one process, in alternating blocks of calls of
about 0.5 s, so that both see the same load; the ratio is the median over
rounds.
Configurations whose estimated memory exceeds ``--mem-limit-gb`` are skipped
(default.qubit backprop: ~340 states of 2**n complex128 per sample, in line
with the peak memory measured here).

On CPU, ``qml-ops`` at 16 qubits is also run with ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:
glibc.malloc.trim_threshold=4000000000`` (``qml-ops+glibc``): the malloc tuning
earlier versions needed; with reused buffers it no longer changes the figure.

On CUDA (``--device cuda``): 16 qubits batch 256 for qml-ops, plain torch and
PennyLane broadcasting (batch reduced until it fits), 20 qubits batch 32, and
the largest register that trains (forward + backward) at batch 32, 8 or 1.
Register sizes other than 4, 8, 16 use :class:`ScaledQCNN` (the same layout
rule on any size). Rows carry the device and the GPU model; a CUDA run
replaces the CUDA rows of the results file and keeps the CPU rows (and the
other way round).

Usage::

    .venv/bin/python benchmarks/bench_sim.py                      # CPU, 1 and 2 threads, ~15 min
    .venv/bin/python benchmarks/bench_sim.py --threads 1 --rounds 1
    .venv/bin/python benchmarks/bench_sim.py --device cuda        # see benchmarks/gpu_sim.sh

Writes ``benchmarks/results/sim.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GLIBC = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000"
RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"
STATES_PER_SAMPLE = 340  # default.qubit backprop, states per sample (see the docstring)
LIGHTNING_SAMPLES = {8: 32, 16: 4}  # samples per timed lightning call (~1 s of work)
GPU_COMPARE = (16, 256)  # qml-ops, plain torch and PennyLane on the GPU
GPU_MORE = [(8, 4096), (20, 32)]  # more qml-ops rows on the GPU
GPU_SCAN_BATCHES = (32, 8, 1)  # tried in turn for each register of --scan-qubits


def _spec(n: int):
    from qml_ops.circuits.qcnn import N_QUBITS, QCNNSpec

    if n in N_QUBITS:
        return QCNNSpec(n_qubits=n, ansatz=9, encoding="angle")

    @dataclass(frozen=True)
    class ScaledQCNN(QCNNSpec):
        """The QCNN layout rule on any register size (the product accepts 4, 8, 16):
        one layer per halving of the active wires, rounded up."""

        def __post_init__(self) -> None:
            pass

        @property
        def n_layers(self) -> int:
            return len(self.layers)

    return ScaledQCNN(n_qubits=n, ansatz=9, encoding="angle")


def plain_torch_qnode(spec, device):
    """``f(weights, features) -> ⟨Z⟩``: every gate of ``spec.gates()`` applied with
    ``torch.einsum`` to a ``(batch, 2, …, 2)`` complex64 state; autograd backward."""
    import torch

    from qml_ops.circuits.gates import gate_matrix

    n = spec.n_qubits
    letters = "abcdefghijklmnopqrstuvwxyz"
    state_idx = "Z" + letters[:n]

    def spec_for(gate, batched):
        new = "".join("ABCD"[i] for i in range(len(gate.wires)))
        old = "".join(letters[w] for w in gate.wires)
        out = state_idx
        for w, c in zip(gate.wires, new):
            out = out.replace(letters[w], c)
        return f"{'Z' if batched else ''}{new}{old},{state_idx}->{out}"

    gates = spec.gates()

    def f(weights, features):
        batch = features.shape[0]
        psi = torch.zeros(batch, 2**n, dtype=torch.complex64, device=device)
        psi[:, 0] = 1
        psi = psi.view((batch,) + (2,) * n)
        for gate in gates:
            angles = [weights[int(v)] if k == "w" else features[:, int(v)] if k == "x" else v
                      for k, v in gate.params]
            batched = any(k == "x" for k, _ in gate.params)
            if angles:
                if batched:
                    angles = [a if torch.is_tensor(a) and a.dim() else torch.full((batch,), float(a), device=device)
                              for a in angles]
                m = gate_matrix(gate.name, *angles, dtype=torch.complex64)
            else:
                m = gate_matrix(gate.name, dtype=torch.complex64, device=device)
            d = len(gate.wires)
            m = m.reshape(m.shape[:-2] + (2,) * (2 * d))
            psi = torch.einsum(spec_for(gate, batched), m, psi)
        probs = (psi.abs() ** 2).movedim(1 + spec.readout_wire, 1).reshape(batch, 2, -1).sum(-1)
        return probs[:, 0] - probs[:, 1]

    return f


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        return f"{names[0]} ({len(names)} cores)"
    except (OSError, IndexError):
        return platform.machine()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _engine(engine: str, n: int, batch: int, device: str):
    """``(step, min_repeats)`` for one engine: ``step()`` runs forward + backward once."""
    import torch

    spec = _spec(n)
    cuda = device.startswith("cuda")
    gen = torch.Generator().manual_seed(0)
    min_repeats = 1
    real = torch.float32 if engine in ("qml-ops", "plain-torch") else torch.float64
    w = torch.randn(spec.n_weights, generator=gen, dtype=real).to(device).requires_grad_(True)
    x = (torch.pi * torch.rand(batch, n, generator=gen, dtype=real)).to(device)
    if engine == "qml-ops":
        from qml_ops.simulation.engine import BatchedSimulator

        f = BatchedSimulator(spec, device=device)
    elif engine == "plain-torch":
        f = plain_torch_qnode(spec, device)
        if n <= 20:  # same circuit as qml-ops (a few samples, complex64 tolerance)
            from qml_ops.simulation.engine import BatchedSimulator

            with torch.no_grad():
                ref = BatchedSimulator(spec, device=device)(w.detach(), x[:4])
                got = f(w.detach(), x[:4])
            assert torch.allclose(got, ref, atol=1e-4), (got, ref)
    else:
        from qml_ops.circuits.reference import build_qnode

        if engine == "pennylane-broadcast":
            f = build_qnode(spec)
        else:  # lightning adjoint: one circuit per sample
            f = build_qnode(spec, device_name="lightning.qubit", diff_method="adjoint")
            min_repeats = 3

    def step():
        w.grad = None
        f(w, x).sum().backward()
        if cuda:
            torch.cuda.synchronize()

    return step, min_repeats


def _call(step) -> float:
    gc.disable()  # as in timeit
    t = time.perf_counter()
    step()
    elapsed = time.perf_counter() - t
    gc.enable()
    return elapsed


def _time(steps: list, budget_s: float, min_repeats: int, block_s: float = 0.0) -> list[list[float]]:
    """Seconds per call of each step, the garbage collector off during a call.

    One step: calls until ``budget_s`` (at least ``min_repeats``, at most 50).
    Several (a paired run): blocks of calls taking turns, each about ``block_s``
    seconds long; the first call of a block re-warms the caches the other step
    used, and is not counted when the block has more than one.
    """
    times: list[list[float]] = [[] for _ in steps]
    if len(steps) == 1:
        start = time.perf_counter()
        while len(times[0]) < min_repeats or (time.perf_counter() - start < budget_s and len(times[0]) < 50):
            times[0].append(_call(steps[0]))
        return times
    estimate = [_call(step) for step in steps]
    start = time.perf_counter()
    rounds = 0
    while rounds < min_repeats or time.perf_counter() - start < budget_s:
        for i, step in enumerate(steps):
            calls = max(1, min(200, round(block_s / max(estimate[i], 1e-6))))
            block = [_call(step) for _ in range(calls + (calls > 1))]
            times[i] += block[1:] if calls > 1 else block
        rounds += 1
    return times


def worker(engine: str, n: int, batch: int, threads: int, budget_s: float, device: str) -> dict:
    """Measure one configuration in this process; returns a result row."""
    import torch

    torch.set_num_threads(threads)
    cuda = device.startswith("cuda")
    step, min_repeats = _engine(engine, n, batch, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rss0 = _rss_mb()
    step()  # warm-up (caches, buffers, PennyLane's first-call costs)
    (times,) = _time([step], budget_s, min_repeats)
    median = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_mb() - rss0
    return {
        "engine": engine,
        "n_qubits": n,
        "batch": batch,
        "samples_per_s": round(batch / median, 2),
        "peak_mem_mb": round(peak, 1),
        "repeats": len(times),
        "threads": threads,
        "device": "cuda" if cuda else "cpu",
        "device_model": torch.cuda.get_device_name() if cuda else _cpu_model(),
    }


def paired_worker(n: int, batch: int, other: str, other_batch: int, threads: int, budget_s: float,
                  device: str) -> dict:
    """qml-ops and another engine in one process, in alternating blocks of calls
    (about 0.5 s each), so both see the same load: the ratio of their medians is
    robust on a shared machine."""
    import torch

    torch.set_num_threads(threads)
    ours, _ = _engine("qml-ops", n, batch, device)
    theirs, min_repeats = _engine(other, n, other_batch, device)
    ours(), theirs()  # warm-up
    t_ours, t_theirs = _time([ours, theirs], budget_s, max(3, min_repeats), block_s=0.5)
    sps_ours = batch / statistics.median(t_ours)
    sps_theirs = other_batch / statistics.median(t_theirs)
    return {"n_qubits": n, "batch": batch, "other": other, "other_batch": other_batch,
            "qml_ops_samples_per_s": round(sps_ours, 2), "other_samples_per_s": round(sps_theirs, 2),
            "ratio": round(sps_ours / sps_theirs, 2), "calls": [len(t_ours), len(t_theirs)], "threads": threads}


def _run(engine: str, n: int, batch: int, args, threads: int, glibc: bool = False, pair=None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if glibc:
        env["GLIBC_TUNABLES"] = GLIBC
    cmd = [sys.executable, __file__, "--worker", engine, str(n), str(batch), "--threads", str(threads),
           "--budget", str(args.budget), "--device", args.device]
    if pair:
        cmd += ["--pair", pair[0], str(pair[1])]
    base = {"engine": engine + ("+glibc" if glibc else ""), "n_qubits": n, "batch": batch,
            "samples_per_s": None, "peak_mem_mb": None, "threads": threads, "device": args.device}
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return dict(base, note=f"timed out after {args.timeout:g} s")
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        oom = any("out of memory" in line.lower() for line in lines)
        return dict(base, note="out of memory" if oom else f"failed: {lines[-1:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if not pair:
        row["engine"] = base["engine"]
    return row


def _estimate_gb(n: int, batch: int) -> float:
    return STATES_PER_SAMPLE * 2**n * 16 * batch / 1e9


def _median_row(runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("samples_per_s")]
    if not ok:
        return runs[-1]
    row = dict(ok[0])
    row["samples_per_s"] = round(statistics.median(r["samples_per_s"] for r in ok), 2)
    row["peak_mem_mb"] = round(statistics.median(r["peak_mem_mb"] for r in ok), 1)
    row["runs"] = [r["samples_per_s"] for r in ok]
    return row


def _print(row: dict) -> None:
    sps = row.get("samples_per_s")
    runs = row.get("runs")
    print(f"{row['engine']:<28} {row['n_qubits']:>3} {row['batch']:>6} {row.get('threads', '-'):>3} "
          f"{'-' if sps is None else f'{sps:,.1f}':>12} "
          f"{'-' if row.get('peak_mem_mb') is None else row['peak_mem_mb']:>10}  "
          f"{'' if not runs else 'runs ' + str(runs)} {row.get('note', '')}", flush=True)


def cpu_table(args) -> tuple[list[dict], dict]:
    """PennyLane and qml-ops on CPU, interleaved, ``args.rounds`` times per thread count."""
    configs = []  # (engine, n, batch, glibc)
    for n in args.qubits:
        pl_batches = list(args.batches)
        if n >= 16 and args.pl_small_batch not in pl_batches:
            pl_batches = [args.pl_small_batch] + pl_batches
        for batch in pl_batches:
            configs.append(("pennylane-broadcast", n, batch, False))
        configs.append(("pennylane-lightning-adjoint", n, LIGHTNING_SAMPLES.get(n, 4), False))
        for batch in args.batches:
            configs.append(("qml-ops", n, batch, False))
            if n >= 16:
                configs.append(("qml-ops", n, batch, True))
    rows, ratios, pairs = [], {}, []
    for threads in args.threads:
        runs: dict[tuple, list[dict]] = {c: [] for c in configs}
        paired: dict[tuple, list[float]] = {}
        for r in range(args.rounds):
            print(f"-- round {r + 1}/{args.rounds}, {threads} thread(s)", flush=True)
            for engine, n, batch, glibc in configs:
                if engine == "pennylane-broadcast" and _estimate_gb(n, batch) > args.mem_limit_gb:
                    row = {"engine": engine, "n_qubits": n, "batch": batch, "samples_per_s": None,
                           "peak_mem_mb": None, "threads": threads, "device": "cpu",
                           "note": f"skipped: needs ~{_estimate_gb(n, batch):.0f} GB > {args.mem_limit_gb:g} GB"}
                else:
                    row = _run(engine, n, batch, args, threads, glibc)
                runs[(engine, n, batch, glibc)].append(row)
                _print(row)
            # Ratios: qml-ops and the fastest PennyLane option that fits (this round), in one process.
            for n in args.qubits:
                this_round = [runs[c][-1] for c in configs if c[1] == n and c[0].startswith("pennylane")]
                options = [(row["samples_per_s"], row["engine"], row["batch"]) for row in this_round
                           if row.get("samples_per_s")]
                for batch in args.batches:
                    same_batch = [o for o in options if o[1] == "pennylane-broadcast" and o[2] == batch]
                    if n < 16 and same_batch:
                        other = same_batch[0]
                    elif n >= 16 and options:
                        other = max(options)
                    else:
                        continue
                    pair = _run("qml-ops", n, batch, args, threads, pair=(other[1], other[2]))
                    if pair.get("ratio"):
                        pairs.append(pair)
                        paired.setdefault((n, batch), []).append(pair["ratio"])
                        print(f"paired: qml-ops {n} q batch {batch} {pair['qml_ops_samples_per_s']:,.1f}/s vs "
                              f"{other[1]} batch {other[2]} {pair['other_samples_per_s']:,.2f}/s: "
                              f"{pair['ratio']:.1f}x", flush=True)
        table = [_median_row(v) for v in runs.values()]
        print(f"-- medians over {args.rounds} round(s), {threads} thread(s)")
        for row in table:
            _print(row)
        rows += table
        for (n, batch), values in paired.items():
            ratios[f"{n}q_b{batch}_{threads}t"] = round(statistics.median(values), 1)
    return rows, ratios, pairs


def cuda_table(args) -> tuple[list[dict], dict]:
    """qml-ops, plain torch and PennyLane on one GPU; 20 qubits; the largest trainable register."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    rows, ratios = [], {}
    total_gb = torch.cuda.get_device_properties(0).total_memory / 1e9

    def record(row):
        rows.append(row)
        _print(row)
        return row

    n, batch = GPU_COMPARE
    ours = record(_run("qml-ops", n, batch, args, 1))
    plain = record(_run("plain-torch", n, batch, args, 1))
    pl_batch = batch
    while pl_batch > 1 and _estimate_gb(n, pl_batch) > 0.8 * total_gb:
        pl_batch //= 2
    pl = record(_run("pennylane-broadcast", n, pl_batch, args, 1))
    if ours.get("samples_per_s"):
        for other, name in ((plain, "plain_torch"), (pl, "pennylane_broadcast")):
            if other.get("samples_per_s"):
                ratios[f"{n}q_b{batch}_vs_{name}"] = round(ours["samples_per_s"] / other["samples_per_s"], 1)
    for n, batch in GPU_MORE:
        record(_run("qml-ops", n, batch, args, 1))
    largest = None
    for n in args.scan_qubits:
        row = None
        for batch in GPU_SCAN_BATCHES:
            row = record(_run("qml-ops", n, batch, args, 1))
            if row.get("samples_per_s"):
                largest = {"n_qubits": n, "batch": batch, "samples_per_s": row["samples_per_s"],
                           "peak_mem_mb": row["peak_mem_mb"]}
                break
        if not (row and row.get("samples_per_s")):
            break
    if largest:
        ratios["largest_trainable"] = largest
    return rows, ratios, []


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads, one table each (CPU)")
    p.add_argument("--rounds", type=int, default=3, help="times the whole CPU table is run (medians reported)")
    p.add_argument("--budget", type=float, default=3.0, help="seconds of timed repeats per config")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a config is abandoned")
    p.add_argument("--mem-limit-gb", type=float, default=12.0, help="skip PennyLane configs estimated above this (CPU)")
    p.add_argument("--qubits", type=int, nargs="+", default=[8, 16])
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    p.add_argument("--pl-small-batch", type=int, default=4,
                   help="extra PennyLane-broadcast batch at 16 qubits, where 64 does not fit")
    p.add_argument("--scan-qubits", type=int, nargs="+", default=[22, 24, 26, 28],
                   help="CUDA: registers tried in turn for the largest trainable one")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--worker", nargs=3, metavar=("ENGINE", "N", "BATCH"), help=argparse.SUPPRESS)
    p.add_argument("--pair", nargs=2, metavar=("ENGINE", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        engine, n, batch = args.worker
        if args.pair:
            row = paired_worker(int(n), int(batch), args.pair[0], int(args.pair[1]), args.threads[0],
                                args.budget, args.device)
        else:
            row = worker(engine, int(n), int(batch), args.threads[0], args.budget, args.device)
        print(json.dumps(row))
        return 0

    print(f"{'engine':<28} {'n':>3} {'batch':>6} {'thr':>3} {'samples/s':>12} {'peak MB':>10}")
    cuda = args.device.startswith("cuda")
    rows, ratios, pairs = cuda_table(args) if cuda else cpu_table(args)
    kind = "cuda" if cuda else "cpu"
    notes = [
        "samples_per_s: forward + backward (sum of <Z>, grad w.r.t. the weights), median over timed calls in a "
        "fresh process, then median over rounds (runs: the per-round figures)",
        "peak_mem_mb: CPU: ru_maxrss of the worker minus its RSS before the first call; "
        "CUDA: torch.cuda.max_memory_allocated",
        "pennylane-lightning-adjoint: one circuit per sample, timed on `batch` samples per call "
        "(at least 3 calls), so its rate holds for any batch",
        "ratio (CPU): median over rounds of a paired measurement: qml-ops and PennyLane (broadcasting at the "
        "same batch for 8 qubits; the fastest option that fits, from that round's rows, for 16) in one process, "
        "in alternating blocks of calls of about 0.5 s (paired: the per-round measurements)",
        f"qml-ops+glibc: GLIBC_TUNABLES={GLIBC}",
        "registers other than 4, 8, 16 qubits: the same QCNN layout rule on that size (bench_sim.ScaledQCNN)",
    ]
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    kept = [r for r in old.get("rows", []) if r.get("device", "cpu") != kind] if old.get("rows") else []
    result = {
        "rows": kept + rows,
        "ratio": {**{k: v for k, v in old.get("ratio", {}).items() if k.startswith("cuda:") != cuda},
                  **({f"cuda:{k}": v for k, v in ratios.items()} if cuda else ratios)},
        "paired": pairs if not cuda else old.get("paired", []),
        "notes": notes,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("ratio:", json.dumps(ratios))
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
