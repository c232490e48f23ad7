"""Benchmarks: fixed workloads through the normal code path, beside a SimPy reference.

Machines are noisy, so throughput is reported as a ratio against the SimPy model of the
same workload, run in the same process right after ours.
"""
from __future__ import annotations

import gc
import time
from pathlib import Path

from seqlab.consensus import Committee, reference_rounds
from seqlab.errors import SeqlabError
from seqlab.scenario.loader import LoadedScenario, parse_scenario
from seqlab.world import World


def fcfs_reference_scenario(txs: int, seed: int = 0) -> LoadedScenario:
    """The fixed ``fcfs-reference`` workload as an ordinary scenario.

    ``txs`` transactions, Poisson at 200 tx/s from 1,000 accounts; lognormal delay to the
    sequencer (median 50 ms, sigma 0.5); a block every 250 ms of at most 100 txs, FCFS;
    each tx adds a signed quantity to its sender's position and pays 0.01 USD.
    """
    data = {
        "name": "fcfs-reference", "seed": seed,
        "description": "Fixed benchmark workload", "duration": "1s",
        "oracle": {"enabled": False},
        "sequencer": {"design": "fcfs", "block_time": "250ms", "max_txs_per_block": 100},
        "protocol": {"kind": "positions", "positions": {"fee_usd": 0.01, "max_qty": 10}},
        "agents": {"traders": {"accounts": 1000, "rate_per_s": 200.0, "max_txs": txs,
                               "latency": {"median": "50ms", "sigma": 0.5}},
                   "liquidators": []},
    }
    return parse_scenario(data, "fcfs-reference")


def run_seqlab_fcfs(txs: int, seed: int = 0) -> dict:
    """Our engine on the workload: scenario → design → rollup execution → ledger."""
    start = time.perf_counter()
    result = World(fcfs_reference_scenario(txs, seed)).run()
    wall = time.perf_counter() - start
    s = result.summary
    return {"txs": s["included"], "wall_s": wall, "tx_per_s": s["included"] / wall,
            "mean_latency_ms": s["latency_ms"]["mean"], "digest": s["digest"],
            "ledger_residual": s["ledger_residual"]}


def bench_fcfs_reference(txs: int = 1_000_000, seed: int = 0) -> dict:
    """Run both models on the same workload; returns the figures ``seqlab bench`` prints."""
    if txs < 1:
        raise SeqlabError("must be at least 1", field="--txs")
    ours = run_seqlab_fcfs(txs, seed)
    from seqlab.reference.simpy_fcfs import run_simpy_fcfs

    ref = run_simpy_fcfs(txs, seed=seed)
    return {**_versus("fcfs-reference", ours, ref, "tx", "mean_latency_ms", "latency"),
            "txs": txs, "ledger_residual": ours["ledger_residual"]}


def _versus(benchmark: str, ours: dict, ref: dict, unit: str, metric: str,
            gap_name: str) -> dict:
    """The figures both benchmarks report: throughputs, their ratio, wall times, and the
    workload check (the two models' ``metric`` within 2 %)."""
    gap = abs(ours[metric] - ref[metric]) / ref[metric]
    rate = f"{unit}_per_s"
    return {
        "benchmark": benchmark,
        f"seqlab_{rate}": round(ours[rate], 3),
        f"simpy_{rate}": round(ref[rate], 3),
        "ratio": round(ours[rate] / ref[rate], 3),
        "seqlab_wall_s": round(ours["wall_s"], 4),
        "simpy_wall_s": round(ref["wall_s"], 4),
        f"seqlab_{metric}": round(ours[metric], 3),
        f"simpy_{metric}": round(ref[metric], 3),
        f"{gap_name}_gap": round(gap, 6),
        f"{gap_name}_match": bool(gap <= 0.02),
    }


def run_seqlab_committee(nodes: int, rounds: int, seed: int = 0) -> dict:
    """Our code path on the workload: ``reference_rounds`` → ``run_round`` per round."""
    start = time.perf_counter()
    starts = reference_rounds(Committee.round_robin(nodes), rounds, seed)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "rounds_per_s": rounds / wall,
            "mean_round_ms": float(starts[-1] - starts[0]) / rounds / 1000.0}


def bench_committee_reference(nodes: int = 128, rounds: int = 50, seed: int = 0) -> dict:
    """``committee-reference``: ``rounds`` fault-free consensus rounds of ``nodes`` nodes,
    through seqlab's vectorised rounds and through the message-by-message SimPy model.

    Both draw the same jitter factors, so their mean round times agree (to the whole-µs
    rounding of round starts in ``reference_rounds``); throughput is rounds per second.
    """
    if nodes < 4:
        raise SeqlabError("must be at least 4", field="--nodes", allowed="integers >= 4")
    if rounds < 1:
        raise SeqlabError("must be at least 1", field="--rounds", allowed="integers >= 1")
    ours = run_seqlab_committee(nodes, rounds, seed)
    from seqlab.reference.simpy_committee import run_simpy_committee

    ref = run_simpy_committee(nodes, rounds, seed=seed)
    return {**_versus("committee-reference", ours, ref, "rounds", "mean_round_ms",
                      "round_time"), "nodes": nodes, "rounds": rounds}


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (MB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


SWEEP_BENCH_SCENARIO = {
    "name": "sweep-bench", "seed": 1, "duration": "1min",
    "description": "One minute, 20 accounts: the sweep benchmark's unit of work",
    "market": {"volatility": 1.5, "jump_intensity": 400.0, "jump_mean": -0.03},
    "agents": {"traders": {"accounts": 20, "rate_per_s": 2.0}},
}


def bench_sweep(runs: int = 1000, workers: int | None = None) -> dict:
    """``runs`` runs of a tiny scenario (4 designs × runs/4 seeds), on the local process
    pool and in one process; the pool's speed-up is their wall-time ratio."""
    import tempfile

    from seqlab.experiments.sweep import sweep

    loaded = parse_scenario(SWEEP_BENCH_SCENARIO, "sweep-bench")
    designs = ["honest", "extractive", "priority", "batch-auction"]
    seeds = max(1, runs // len(designs))
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("process", "inline"):
            start = time.perf_counter()
            res = sweep(loaded, designs, seeds, backend=backend, workers=workers,
                        store=Path(tmp) / f"{backend}.duckdb", report=False)
            walls[backend] = time.perf_counter() - start
    return {"benchmark": "sweep", "runs": res.summary["runs"], "failed": res.summary["failed"],
            "pool_runs_per_s": round(res.summary["runs"] / walls["process"], 2),
            "inline_runs_per_s": round(res.summary["runs"] / walls["inline"], 2),
            "pool_speedup": round(walls["inline"] / walls["process"], 3),
            "pool_wall_s": round(walls["process"], 3), "inline_wall_s": round(walls["inline"], 3)}


REALISTIC_DESIGNS = ("honest", "extractive")
COMPARE_DESIGNS = ("honest", "extractive", "priority", "timeboost", "fair-ordering",
                   "encrypted", "batch-auction", "committee", "builders")


def bench_realistic(scenario: str = "default", designs: tuple[str, ...] = REALISTIC_DESIGNS,
                    seed: int = 1, simpy_txs: int = 200_000, repeat: int = 3) -> dict:
    """The path users run: a built-in scenario (agents, oracle, margin checks,
    liquidations) under each design, in transactions per second of the whole run (after
    a warm-up run of ``tiny``), beside the fcfs-reference SimPy model measured in this
    process (the ratio is what a noisy machine cannot blur). Each side is timed
    ``repeat`` times and its best kept (as ``timeit`` advises: the slower runs measure
    the machine's other work); every repeat of a design must give the same digest."""
    from seqlab.cluster import make_world
    from seqlab.experiments.compare import with_design
    from seqlab.scenario.loader import load_scenario

    if repeat < 1:
        raise SeqlabError("must be at least 1", field="--repeat", allowed="integers >= 1")
    loaded = load_scenario(scenario)
    warm = (load_scenario("tiny"), *_first_minutes(loaded, 10))
    rows = {}
    for design in designs:
        # ``tiny`` and the scenario's own first ten minutes first load the compiled
        # kernels the run meets (from numba's cache, once per process, ~0.2 s), which is
        # start-up, not the path's throughput
        for world in warm:
            make_world(with_design(world, design), seed).run()
        walls, summaries = [], []
        for _ in range(repeat):
            world = make_world(with_design(loaded, design), seed)
            start = time.perf_counter()
            summaries.append(world.run().summary)
            walls.append(round(time.perf_counter() - start, 3))
            del world  # one world alive at a time: the peak memory is one run's
            gc.collect()
        s = summaries[0]
        if any(other["digest"] != s["digest"] for other in summaries):
            raise RuntimeError(f"{design}: repeats of one run gave different digests")
        wall = min(walls)
        rows[design] = {"txs": s["txs"], "wall_s": wall, "wall_s_runs": walls,
                        "tx_per_s": round(s["txs"] / wall, 1), "digest": s["digest"],
                        "ledger_residual": s["ledger_residual"]}
    from seqlab.reference.simpy_fcfs import run_simpy_fcfs

    simpy = max(run_simpy_fcfs(simpy_txs, seed=0)["tx_per_s"] for _ in range(repeat))
    return {"benchmark": "realistic", "scenario": scenario, "repeat": repeat,
            "simpy_tx_per_s": round(simpy, 1),
            "designs": {d: {**r, "ratio": round(r["tx_per_s"] / simpy, 3)}
                        for d, r in rows.items()}}


def _first_minutes(loaded, minutes: int) -> tuple:
    """``loaded`` cut to its first ``minutes``, if it can be (one whose outages fall
    later cannot: then none)."""
    from seqlab.errors import SeqlabError
    from seqlab.experiments.sweep import set_dotted
    from seqlab.scenario.loader import parse_scenario

    data = loaded.scenario.model_dump(mode="python")
    set_dotted(data, "duration", f"{minutes}min")
    try:
        return (parse_scenario(data, loaded.source, loaded.base_dir),)
    except SeqlabError:
        return ()


def bench_compare(scenario: str = "default", designs: tuple[str, ...] = COMPARE_DESIGNS,
                  seeds: int = 4, workers: int = 2) -> dict:
    """``seqlab compare`` of ``designs`` × ``seeds`` on a process pool of ``workers``:
    wall time, and the peak memory of this process and of the largest worker."""
    import resource

    from seqlab.experiments.compare import compare

    start = time.perf_counter()
    compare(scenario, list(designs), seeds=seeds, backend="process", workers=workers,
            report=False)
    wall = time.perf_counter() - start
    _reap_workers()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"benchmark": "compare", "scenario": scenario, "designs": len(designs),
            "seeds": seeds, "workers": workers, "runs": len(designs) * seeds,
            "wall_s": round(wall, 2), "peak_memory_mb": peak_memory_mb(),
            "worker_peak_memory_mb": round(child, 1)}


def _reap_workers(timeout_s: float = 10.0) -> None:
    """Wait until the pool's workers have exited and been reaped: only then does the
    operating system count their peak memory among this process's children."""
    import multiprocessing

    deadline = time.perf_counter() + timeout_s
    while multiprocessing.active_children() and time.perf_counter() < deadline:
        time.sleep(0.05)


SUITE = {
    "fcfs-reference": lambda: bench_fcfs_reference(1_000_000),
    "committee-reference": lambda: bench_committee_reference(128, 50),
    "sweep": lambda: bench_sweep(1000),
    "realistic": bench_realistic,
    "compare": bench_compare,
}


def _suite_item(name: str) -> dict:
    """One suite benchmark, in a fresh process so its peak memory is its own."""
    out = SUITE[name]()
    out.setdefault("peak_memory_mb", peak_memory_mb())
    return out


def bench_suite() -> dict:
    """The fixed suite: fcfs-reference (1M txs) and committee-reference (128 nodes) against
    SimPy, a 1,000-run sweep on the local pool, the realistic path (``default`` under
    honest and extractive, against SimPy) and a compare of nine designs × 4 seeds on two
    workers; each in a fresh Python process, so the peak memory it reports is its own."""
    import json
    import subprocess
    import sys

    results = {}
    for name in SUITE:
        code = ("import json; from seqlab.experiments.bench import _suite_item; "
                f"print(json.dumps(_suite_item({name!r})))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"benchmark": "suite", "results": results}
