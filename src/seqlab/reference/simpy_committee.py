"""SimPy reference model of the "committee-reference" benchmark workload.

The yardstick for ``seqlab.consensus.reference_rounds``: the same committee
consensus written the way a competent SimPy user would write it, message by
message. Every proposal, prevote and precommit is its own SimPy event (a
timeout whose callback delivers it); a driver process starts each round and
waits for the next leader to commit.

The jitter factors are drawn exactly as ``reference_rounds`` draws them (one
``rng.lognormal(0, sigma, size=(3, n, n))`` per round, at the round's start,
from ``np.random.Generator(np.random.PCG64(seed))``), so both models see the
same numbers and must give the same round times (up to the whole-µs rounding
``reference_rounds`` applies to each round start).
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from seqlab.consensus import REGION_LATENCY_MS

__all__ = ["run_simpy_committee"]


class _Round:
    """Per-round vote counts; messages carry their round, so a lagging node's
    late votes for round r never mix with round r+1."""

    __slots__ = ("factors", "prevotes", "precommits", "commit_s", "next_leader", "done")

    def __init__(self, factors: list, n: int, next_leader: int, done: simpy.Event) -> None:
        self.factors = factors            # [kind][sender][receiver] jitter factor
        self.prevotes = [0] * n           # prevotes held by each node
        self.precommits = [0] * n         # precommits held by each node
        self.commit_s = [None] * n        # when each node committed
        self.next_leader = next_leader
        self.done = done                  # succeeds when the next leader commits


def run_simpy_committee(nodes: int, rounds: int, seed: int = 0, sigma: float = 0.2) -> dict:
    """Simulate ``rounds`` consensus rounds of ``nodes`` nodes in SimPy.

    Nodes sit round-robin in the regions of ``REGION_LATENCY_MS``; a message from
    i to j takes base(i, j) × factor seconds (0 to itself); quorum is ceil((n+f+1)/2) with
    f = (n-1)//3; round r's leader is node r mod n. ``wall_s`` covers environment
    setup plus ``env.run()`` only. Besides the documented keys, ``round_starts_s``
    (start of each round and the end of the last) is returned for checks.
    """
    if nodes < 1:
        raise ValueError("nodes must be at least 1")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    n = nodes
    quorum = (n + (n - 1) // 3 + 2) // 2  # ceil((n+f+1)/2): two quorums share f+1
    rng = np.random.Generator(np.random.PCG64(seed))

    t0 = time.perf_counter()
    env = simpy.Environment()
    k = len(REGION_LATENCY_MS)
    base_ms = REGION_LATENCY_MS.tolist()
    # One-way base delay in seconds between nodes; a node's message to itself is instant.
    base_s = [[0.0 if i == j else base_ms[i % k][j % k] / 1000.0 for j in range(n)]
              for i in range(n)]
    starts = [0.0] * (rounds + 1)
    timeout = env.timeout

    def broadcast(rnd: _Round, kind: int, sender: int, deliver) -> None:
        """Send one message of ``kind`` (0 proposal, 1 prevote, 2 precommit) to every node."""
        jitter = rnd.factors[kind][sender]
        base = base_s[sender]
        for j in range(n):
            timeout(base[j] * jitter[j], value=(rnd, j)).callbacks.append(deliver)

    def on_proposal(event: simpy.events.Event) -> None:
        rnd, j = event.value
        broadcast(rnd, 1, j, on_prevote)

    def on_prevote(event: simpy.events.Event) -> None:
        rnd, j = event.value
        held = rnd.prevotes[j] + 1
        rnd.prevotes[j] = held
        if held == quorum:  # exactly once per node and round
            broadcast(rnd, 2, j, on_precommit)

    def on_precommit(event: simpy.events.Event) -> None:
        rnd, j = event.value
        held = rnd.precommits[j] + 1
        rnd.precommits[j] = held
        if held == quorum:  # commit, once
            rnd.commit_s[j] = env.now
            if j == rnd.next_leader:
                rnd.done.succeed()

    def driver(env: simpy.Environment):
        for r in range(rounds):
            starts[r] = env.now
            factors = rng.lognormal(0.0, sigma, size=(3, n, n)).tolist()
            rnd = _Round(factors, n, (r + 1) % n, env.event())
            broadcast(rnd, 0, r % n, on_proposal)
            yield rnd.done  # the next leader starts as soon as it has committed
        starts[rounds] = env.now

    env.run(until=env.process(driver(env)))
    wall_s = time.perf_counter() - t0

    return {
        "nodes": n,
        "rounds": rounds,
        "wall_s": wall_s,
        "rounds_per_s": rounds / wall_s if wall_s > 0 else float("inf"),
        "mean_round_ms": 1000.0 * (starts[rounds] - starts[0]) / rounds,
        "round_starts_s": starts,
    }


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    r = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    res = run_simpy_committee(n, r)
    res.pop("round_starts_s")
    print(json.dumps(res, indent=2))
