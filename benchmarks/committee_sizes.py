"""Latency and liveness of the committee design against committee size.

Runs the default scenario under ``committee`` with 4, 16, 64 and 128 nodes (and the
centralized FCFS sequencer for reference) and prints p50/p99 inclusion latency and
blocks per minute. Usage, from the repository root:

    .venv/bin/python benchmarks/committee_sizes.py [--duration 1h] [--rate 100] [--json]
"""
from __future__ import annotations

import argparse
import json
import time

from seqlab.scenario import load_scenario, parse_scenario
from seqlab.world import World


def run(nodes: int | None, duration: str, rate: float) -> dict:
    data = load_scenario("default").scenario.model_dump(mode="python")
    data["duration"] = duration
    data["agents"]["traders"]["rate_per_s"] = rate
    data["sequencer"]["design"] = "committee" if nodes else "honest"
    if nodes:
        data["sequencer"]["committee"]["nodes"] = nodes
    start = time.perf_counter()
    s = World(parse_scenario(data, "committee-sizes")).run().summary
    return {"nodes": nodes or 1, "design": s["design"], "txs": s["txs"],
            "p50_ms": s["latency_ms"]["p50"], "p99_ms": s["latency_ms"]["p99"],
            "blocks_per_min": s.get("blocks_per_min", round(s["blocks"] / (s["sim_duration_s"] / 60), 3)),
            "max_block_gap_ms": s.get("max_block_gap_ms"), "ledger_residual": s["ledger_residual"],
            "wall_s": round(time.perf_counter() - start, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="1h")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--sizes", default="4,16,64,128")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [run(None, args.duration, args.rate)]
    rows += [run(int(n), args.duration, args.rate) for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'design':>10} {'nodes':>5} {'txs':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'blocks/min':>10} {'max gap ms':>10} {'wall s':>7}")
    for r in rows:
        print(f"{r['design']:>10} {r['nodes']:>5} {r['txs']:>8} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['blocks_per_min']:>10.1f} "
              f"{(r['max_block_gap_ms'] or 0):>10.1f} {r['wall_s']:>7.1f}")


if __name__ == "__main__":
    main()
