"""Checks that the SimPy yardstick model is correct, so throughput ratios mean something."""

import math

import pytest

from seqlab.reference.simpy_fcfs import run_simpy_fcfs

N = 20_000


@pytest.fixture(scope="module")
def base():
    return run_simpy_fcfs(N, seed=1)


def test_all_included_and_fees(base):
    assert base["txs"] == N
    assert base["fees_micro_usd"] == N * 10_000
    assert base["balance_total_micro_usd"] == 1000 * 1_000_000_000
    # 200 tx/s for 100 s, 4 blocks/s: nearly every block is non-empty.
    assert 390 <= base["blocks"] <= 410


def test_mean_latency_matches_analytic(base):
    # Capacity (400 tx/s) is not binding at 200 tx/s, so latency is the
    # delivery delay plus on average half a block interval.
    expected_ms = 1000 * (0.05 * math.exp(0.5**2 / 2) + 0.25 / 2)  # ~181.7 ms
    assert base["mean_latency_ms"] == pytest.approx(expected_ms, rel=0.03)


def test_overload_queues():
    r = run_simpy_fcfs(N, seed=1, rate_per_s=600.0)
    assert r["txs"] == N
    assert r["fees_micro_usd"] == N * 10_000
    # Backlog grows at ~200 tx/s, so waits reach seconds; blocks are full.
    assert r["mean_latency_ms"] > 1000.0
    assert r["blocks"] == math.ceil(N / 100)


def test_deterministic(base):
    again = run_simpy_fcfs(N, seed=1)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("wall_s", "tx_per_s")}  # noqa: E731
    assert strip(again) == strip(base)
    other = run_simpy_fcfs(N, seed=2)
    assert strip(other) != strip(base)
