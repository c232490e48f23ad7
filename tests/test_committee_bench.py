"""The committee-reference benchmark: the SimPy model agrees with seqlab's vectorised
rounds, both agree with a hand computation, and the API/CLI report the figures."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.consensus import Committee, reference_rounds, run_round
from seqlab.errors import SeqlabError
from seqlab.experiments.bench import bench_committee_reference
from seqlab.reference.simpy_committee import run_simpy_committee

KEYS = {"benchmark", "nodes", "rounds", "seqlab_rounds_per_s", "simpy_rounds_per_s", "ratio",
        "seqlab_mean_round_ms", "simpy_mean_round_ms", "round_time_gap", "round_time_match"}


@pytest.mark.parametrize("n", [4, 7, 16])
@pytest.mark.parametrize("seed", [0, 5])
def test_simpy_matches_reference_rounds(n, seed):
    rounds = 6
    sim = run_simpy_committee(n, rounds, seed=seed)
    ref = reference_rounds(Committee.round_robin(n), rounds, seed)
    ref_mean = (ref[-1] - ref[0]) / rounds / 1000.0
    assert sim["nodes"] == n and sim["rounds"] == rounds
    assert sim["mean_round_ms"] == pytest.approx(ref_mean, rel=0.005)
    # Same random numbers: the only difference is that reference_rounds rounds each
    # round's start up to a whole µs, so after r rounds it is 0..r µs later.
    for r, (s, t) in enumerate(zip(sim["round_starts_s"], ref)):
        assert -1e-6 <= t - s * 1e6 <= r + 1e-6


# n = 4: regions us-east, us-west, eu-west, ap-northeast; quorum 3 (f = 1).
# Base one-way ms: 0-1 32, 0-2 38, 0-3 80, 1-2 70, 1-3 55, 2-3 110.
def _hand_factors() -> np.ndarray:
    f = np.ones((3, 4, 4))
    f[0, 0, 3] = 0.5   # proposal 0 -> 3: 40 ms instead of 80
    f[1, 2, 1] = 0.5   # prevote 2 -> 1: 35 ms instead of 70
    f[2, 3, 0] = 0.25  # precommit 3 -> 0: 20 ms instead of 80
    f[2, 3, 1] = 0.5   # precommit 3 -> 1: 27.5 ms instead of 55
    return f


# Proposal (leader 0, t0 = 0) arrives at     [0, 32, 38, 40].
# Prevotes at node 0: 0, 32+32, 38+38, 40+80       -> 3rd smallest 76
#          at node 1: 0+32, 32, 38+35, 40+55       -> 73
#          at node 2: 0+38, 32+70, 38, 40+110      -> 102
#          at node 3: 0+80, 32+55, 38+110, 40      -> 87
# Precommits (sent at [76, 73, 102, 87]):
#          at node 0: 76, 73+32, 102+38, 87+20     -> 107
#          at node 1: 76+32, 73, 102+70, 87+27.5   -> 114.5
#          at node 2: 76+38, 73+70, 102, 87+110    -> 143
#          at node 3: 76+80, 73+55, 102+110, 87    -> 156
HAND_COMMIT_MS = [107.0, 114.5, 143.0, 156.0]


def test_run_round_by_hand():
    c = Committee.round_robin(4)
    out = run_round(0, 0, c.base_us(), _hand_factors(), np.ones(4, dtype=bool), 3)
    assert out.committed
    assert out.commit_us.tolist() == [int(ms * 1000) for ms in HAND_COMMIT_MS]


class _FixedGenerator:
    """Stands in for np.random.Generator: every round draws the hand factors."""

    def __init__(self, bit_generator):
        pass

    def lognormal(self, mean, sigma, size):
        assert (mean, sigma, size) == (0.0, 0.2, (3, 4, 4))
        return _hand_factors()


def test_one_round_by_hand_both_models(monkeypatch):
    monkeypatch.setattr(np.random, "Generator", _FixedGenerator)
    # Round 1 starts when its leader, node 1, commits round 0: at 114.5 ms.
    ref = reference_rounds(Committee.round_robin(4), 1, seed=0)
    assert ref.tolist() == [0, 114_500]
    sim = run_simpy_committee(4, 1, seed=0)
    assert sim["round_starts_s"] == pytest.approx([0.0, 0.1145], abs=1e-12)
    assert sim["mean_round_ms"] == pytest.approx(114.5, abs=1e-9)


def test_bench_committee_reference():
    res = bench_committee_reference(nodes=16, rounds=5)
    assert KEYS <= set(res)
    assert res["benchmark"] == "committee-reference"
    assert res["nodes"] == 16 and res["rounds"] == 5
    assert res["round_time_match"] is True
    assert res["round_time_gap"] < 1e-4
    assert res["seqlab_rounds_per_s"] > 0 and res["simpy_rounds_per_s"] > 0


@pytest.mark.parametrize("kwargs,field", [({"nodes": 3}, "--nodes"), ({"rounds": 0}, "--rounds")])
def test_bench_committee_reference_validates(kwargs, field):
    with pytest.raises(SeqlabError) as exc:
        bench_committee_reference(**kwargs)
    assert exc.value.field == field
    assert exc.value.allowed


def test_cli_committee_reference_json():
    result = CliRunner().invoke(app, ["bench", "committee-reference", "--nodes", "7",
                                      "--rounds", "3", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert KEYS <= set(figures)
    assert figures["nodes"] == 7 and figures["rounds"] == 3
    assert figures["round_time_match"] is True


def test_cli_committee_reference_too_few_nodes():
    result = CliRunner().invoke(app, ["bench", "committee-reference", "--nodes", "2", "--json"])
    assert result.exit_code == 2
    assert "--nodes" in result.output


def test_cli_unknown_benchmark_lists_both():
    result = CliRunner().invoke(app, ["bench", "nope", "--json"])
    assert result.exit_code == 2
    assert "fcfs-reference" in result.output and "committee-reference" in result.output
