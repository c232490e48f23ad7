"""seqlab's committee rounds against the published Espresso HotShot benchmarks.

Espresso published view times and latencies of HotShot at 10 to 1,000 nodes
(docs.espressosys.com, "Cappuccino testnet release — Benchmarks", HotShot 0.5.63, 5 MB
blocks; and "Doppio testnet release — Benchmarks"). All nodes ran in one AWS region
(us-east-2) and reached each other through a CDN of relay servers with up to 12.5 Gbit/s
each. Views stay about 1 s from 10 to 1,000 nodes while the data goes to a 10-node DA
committee only (Doppio); once every node also gets its part of each 5 MB block
(Cappuccino), views grow with the committee: 0.85 s at 100 nodes, 5.56 s at 1,000.

seqlab models that data-availability cost the way its ``committee`` design does: the
leader's block reaches node i after (i+1) full copies have gone out at the upload
bandwidth (``seqlab.consensus.proposal_serialization_us``), so a quorum holds it after
about two-thirds of n copies. Two constants are fitted to the five Cappuccino view times
(least squares on the log ratio, over a 250 Mbit/s × 10 ms grid): the relay's effective
upload, ``RELAY_MBPS`` (below the CDN's 12.5 Gbit/s), and a fixed per-view time,
``VIEW_OVERHEAD_S`` (block building, signatures: what a Doppio view of about 1 s spends
with no per-node data), which seqlab's rounds, run back to back, do not have. The
published latency counts more than a view: a transaction waits on average half a view
for the next proposal, and a chained-HotStuff protocol such as HotShot decides a block
once three views have certified it (the three-chain rule, Yin et al., "HotStuff", PODC
2019), so seqlab's latency to compare is 3.5 views.

``python -m seqlab.experiments.hotshot`` prints the table (a few seconds).
"""
from __future__ import annotations

import numpy as np

from seqlab.consensus import Committee, reference_rounds

# (nodes, average view time s, average latency s) with 5 MB blocks: Cappuccino benchmarks.
CAPPUCCINO_5MB = ((10, 1.08, 3.0), (100, 0.85, 2.0), (200, 1.21, 4.0), (500, 1.97, 9.0),
                  (1000, 5.56, 21.0))
# (nodes, average view time s), data to a 10-node DA committee only: Doppio benchmarks.
DOPPIO = ((10, 0.97), (100, 1.10), (500, 1.18), (1000, 1.10))
BLOCK_BYTES = 5_000_000
RELAY_MBPS = 8250.0
VIEW_OVERHEAD_S = 0.77
VIEWS_PER_DECISION = 3.5  # half a view's wait for a proposal + the three-chain
ONE_REGION_MS = np.array([[1.0]])  # nodes in one region, as in the benchmarks


def view_time_s(nodes: int, block_bytes: float, relay_mbps: float = RELAY_MBPS,
                overhead_s: float = VIEW_OVERHEAD_S, rounds: int = 3, seed: int = 0) -> float:
    """Mean view time of seqlab's rounds for ``nodes`` in one region, blocks of
    ``block_bytes`` uploaded at ``relay_mbps``, plus the fixed per-view time."""
    starts = reference_rounds(Committee.round_robin(nodes, ONE_REGION_MS), rounds, seed,
                              block_bytes, relay_mbps)
    return float(starts[-1] - starts[0]) / rounds / 1e6 + overhead_s


def hotshot_table(relay_mbps: float = RELAY_MBPS, overhead_s: float = VIEW_OVERHEAD_S) -> list[dict]:
    """Published vs seqlab, one row per committee size of the Cappuccino benchmarks."""
    rows = []
    for nodes, view, latency in CAPPUCCINO_5MB:
        ours = view_time_s(nodes, BLOCK_BYTES, relay_mbps, overhead_s)
        rows.append({"nodes": nodes, "block_mb": BLOCK_BYTES / 1e6,
                     "published_view_s": view, "seqlab_view_s": round(ours, 2),
                     "published_latency_s": latency,
                     "seqlab_latency_s": round(VIEWS_PER_DECISION * ours, 1)})
    return rows


def log_error(relay_mbps: float, overhead_s: float) -> float:
    """The fit's objective: squared log ratios of seqlab's to the published view times."""
    return float(sum(np.log(view_time_s(nodes, BLOCK_BYTES, relay_mbps, overhead_s) / view) ** 2
                     for nodes, view, _ in CAPPUCCINO_5MB))


def markdown(rows: list[dict]) -> str:
    """The table as docs/designs/committee.md shows it."""
    lines = ["| nodes | published view (s) | seqlab view (s) | published latency (s) | "
             "seqlab latency (s) |", "|---|---|---|---|---|"]
    lines += [f"| {r['nodes']} | {r['published_view_s']} | {r['seqlab_view_s']} | "
              f"{r['published_latency_s']:g} | {r['seqlab_latency_s']} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(hotshot_table()))
    print()
    print("small blocks (50 KB), Doppio view times:")
    for nodes, view in DOPPIO:
        print(f"  {nodes:>5} nodes: published {view} s, seqlab {view_time_s(nodes, 50_000):.2f} s")
