"""The realistic and compare benchmarks run the real path and report what they claim."""
import pytest

from seqlab.errors import SeqlabError
from seqlab.experiments.bench import bench_compare, bench_realistic
from seqlab.scenario.loader import load_scenario
from seqlab.cluster import make_world
from seqlab.experiments.compare import with_design


def test_realistic_bench_runs_each_design_and_the_simpy_model():
    out = bench_realistic("tiny", ("honest", "extractive"), simpy_txs=2_000, repeat=2)
    assert set(out["designs"]) == {"honest", "extractive"} and out["simpy_tx_per_s"] > 0
    loaded = load_scenario("tiny")
    for design, row in out["designs"].items():
        assert row["ledger_residual"] == 0
        assert row["digest"] == make_world(with_design(loaded, design), 1).run().summary["digest"]
        assert len(row["wall_s_runs"]) == 2 and row["wall_s"] == min(row["wall_s_runs"])
        assert abs(row["ratio"] - row["tx_per_s"] / out["simpy_tx_per_s"]) < 0.002


def test_a_realistic_bench_repeated_no_times_is_refused_before_any_work():
    with pytest.raises(SeqlabError, match="at least 1"):
        bench_realistic("no-such-scenario", repeat=0)


def test_compare_bench_reports_wall_time_and_memory():
    out = bench_compare("tiny", ("honest", "extractive"), seeds=2, workers=2)
    assert out["runs"] == 4 and out["wall_s"] > 0
    assert out["peak_memory_mb"] > 0 and out["worker_peak_memory_mb"] > 0
