"""SimPy reference model of the "fcfs-reference" benchmark workload.

This is the yardstick seqlab's own engine is measured against (throughput
ratio), so it is written the way a competent SimPy user would write it:
event-by-event, idiomatic, and without deliberate slowness or vectorised
shortcuts.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque

import simpy

__all__ = ["run_simpy_fcfs"]


def run_simpy_fcfs(
    n_txs: int,
    seed: int = 0,
    rate_per_s: float = 200.0,
    accounts: int = 1000,
    median_delay_s: float = 0.05,
    sigma: float = 0.5,
    block_time_s: float = 0.25,
    block_capacity: int = 100,
    fee_micro_usd: int = 10_000,
) -> dict:
    """Simulate the FCFS workload in SimPy and return throughput and checks.

    Transactions arrive as a Poisson process, reach the sequencer after a
    lognormal delay, and are packed FCFS into capacity-limited blocks on a
    fixed clock. ``wall_s`` covers environment setup plus ``env.run()`` only,
    so the comparison with seqlab measures simulation cost, not imports.
    Besides the documented keys, ``balance_total_micro_usd`` (accounts plus
    fee account) is returned so callers can check conservation.
    """
    if n_txs < 0:
        raise ValueError("n_txs must be non-negative")
    rng = random.Random(seed)
    mu = math.log(median_delay_s)
    initial_balance = 1_000_000_000

    t0 = time.perf_counter()
    env = simpy.Environment()
    queue: deque = deque()  # (submit_time, account, qty), in sequencer-arrival order
    positions = [0] * accounts
    balances = [initial_balance] * accounts
    stats = {"included": 0, "latency_sum": 0.0, "blocks": 0, "fees": 0}

    def on_arrival(event: simpy.events.Event) -> None:
        # Callbacks fire in arrival-time order, so appending keeps FCFS order.
        queue.append(event.value)

    def source(env: simpy.Environment):
        # Draw one by one, as a SimPy model naturally does.
        expovariate = rng.expovariate
        randrange = rng.randrange
        lognormvariate = rng.lognormvariate
        for _ in range(n_txs):
            yield env.timeout(expovariate(rate_per_s))
            tx = (env.now, randrange(accounts), randrange(-10, 11))
            # A bare timeout with a callback is cheaper than a process per tx.
            env.timeout(lognormvariate(mu, sigma), value=tx).callbacks.append(on_arrival)

    def sequencer(env: simpy.Environment):
        k = 0
        included = 0
        latency_sum = 0.0
        blocks = 0
        fees = 0
        while included < n_txs:
            k += 1
            # Schedule against k * block_time to avoid float drift in the clock.
            yield env.timeout(k * block_time_s - env.now)
            now = env.now
            take = min(block_capacity, len(queue))
            if take:
                blocks += 1
                popleft = queue.popleft
                for _ in range(take):
                    submit, acct, qty = popleft()
                    positions[acct] += qty
                    balances[acct] -= fee_micro_usd
                    fees += fee_micro_usd
                    latency_sum += now - submit
                included += take
        stats.update(included=included, latency_sum=latency_sum, blocks=blocks, fees=fees)

    env.process(source(env))
    done = env.process(sequencer(env))
    env.run(until=done)
    wall_s = time.perf_counter() - t0

    included = stats["included"]
    return {
        "txs": included,
        "wall_s": wall_s,
        "tx_per_s": included / wall_s if wall_s > 0 else float("inf"),
        "mean_latency_ms": 1000.0 * stats["latency_sum"] / included if included else 0.0,
        "blocks": stats["blocks"],
        "fees_micro_usd": stats["fees"],
        "position_sum": sum(positions),
        "balance_total_micro_usd": sum(balances) + stats["fees"],
    }


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(json.dumps(run_simpy_fcfs(n), indent=2))
