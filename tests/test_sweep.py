"""Sweeps: the grid, executors that agree, failures recorded, kill-and-resume."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import seqlab
from seqlab.errors import SeqlabError
from seqlab.experiments.sweep import parse_param, plan_runs, sweep
from seqlab.experiments.sweep_store import SweepStore
from seqlab.scenario import load_scenario

SMALL = """
name = "small"
description = "Two minutes, 40 accounts: a sweep workload"
seed = 1
duration = "2min"
[market]
volatility = 1.5
jump_intensity = 400.0
jump_mean = -0.03
[agents.traders]
accounts = 40
rate_per_s = 3.0
"""
DESIGNS = ["honest", "extractive", "priority", "batch-auction"]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.toml"
    path.write_text(SMALL)
    return path


def digests(result):
    runs = result.tables["runs"]
    return dict(zip(runs["run_id"].tolist(), runs["digest"].tolist()))


def test_parse_param_forms():
    assert parse_param("sequencer.block_time=100ms,250ms,1s") == (
        "sequencer.block_time", ["100ms", "250ms", "1s"])
    assert parse_param("a.b=1,2.5,true,x") == ("a.b", [1, 2.5, True, "x"])
    assert parse_param("a=0:1:3") == ("a", [0.0, 0.5, 1.0])
    key, values = parse_param("a=~0:1:4", seed=3)
    assert key == "a" and len(values) == 4 and values == sorted(values)
    assert values == parse_param("a=~0:1:4", seed=3)[1]
    for bad in ("noequals", "a=", "a=1:x:3", "a=0:1:0"):
        with pytest.raises(SeqlabError):
            parse_param(bad)


def test_plan_is_the_full_grid_with_stable_ids(small):
    loaded = load_scenario(str(small))
    specs = plan_runs(loaded, ["honest", "extractive"], 3, {"a.b": [1, 2], "c": ["x", "y", "z"]})
    assert len(specs) == 2 * 3 * 2 * 3
    assert len({s.run_id for s in specs}) == len(specs)
    again = plan_runs(loaded, ["honest", "extractive"], 3, {"a.b": [1, 2], "c": ["x", "y", "z"]})
    assert [s.run_id for s in specs] == [s.run_id for s in again]


def test_failing_runs_are_recorded_not_fatal(small, tmp_path):
    res = sweep(str(small), ["honest"], 2, ["sequencer.block_time=250ms,fast"],
                backend="inline", store=tmp_path / "s.duckdb", report=False)
    runs = res.tables["runs"]
    assert res.summary["runs"] == 4 and res.summary["failed"] == 2
    bad = runs["status"] == "failed"
    assert all("sequencer.block_time" in e for e in runs["error"][bad])
    assert (runs["status"][~bad] == "ok").all()


def test_store_refuses_to_overwrite_without_resume(small, tmp_path):
    store = tmp_path / "s.duckdb"
    sweep(str(small), ["honest"], 1, backend="inline", store=store, report=False)
    with pytest.raises(SeqlabError, match="--resume"):
        sweep(str(small), ["honest"], 1, backend="inline", store=store, report=False)
    again = sweep(str(small), ["honest"], 2, backend="inline", store=store, resume=True,
                  report=False)
    assert again.summary["runs"] == 2


def test_executors_give_identical_runs(small, tmp_path):
    """200 runs (4 designs × 50 seeds) inline, on the process pool and on Ray."""
    inline = sweep(str(small), DESIGNS, 50, backend="inline", store=tmp_path / "i.duckdb",
                   report=False)
    pool = sweep(str(small), DESIGNS, 50, backend="process", workers=2,
                 store=tmp_path / "p.duckdb", report=False)
    assert inline.summary["runs"] == pool.summary["runs"] == 200
    assert inline.summary["failed"] == 0
    assert digests(inline) == digests(pool)
    pytest.importorskip("ray")
    ray = sweep(str(small), DESIGNS, 50, backend="ray", workers=2,
                store=tmp_path / "r.duckdb", report=False)
    assert digests(ray) == digests(inline)


def test_killed_sweep_resumes_every_run_exactly_once(small, tmp_path):
    store = tmp_path / "k.duckdb"
    cmd = [sys.executable, "-m", "seqlab.cli", "sweep", str(small), "--designs",
           ",".join(DESIGNS), "--seeds", "100", "--backend", "inline", "--store", str(store),
           "--no-report", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not store.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)  # some runs finish, then the process dies mid-sweep
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with SweepStore(store, resume=True) as db:
        before = len(db.done_ids())
    assert 0 < before < 400
    resumed = sweep(str(small), DESIGNS, 100, backend="process", workers=2, store=store,
                    resume=True, report=False)
    runs = resumed.tables["runs"]
    assert resumed.summary["runs"] == 400 and len(set(runs["run_id"])) == 400
    fresh = sweep(str(small), DESIGNS, 100, backend="process", workers=2,
                  store=tmp_path / "f.duckdb", report=False)
    assert digests(resumed) == digests(fresh)


def test_load_gives_a_dataframe(small, tmp_path):
    store = tmp_path / "l.duckdb"
    sweep(str(small), ["honest", "extractive"], 2, ["protocol.perps.liquidation_bonus=0.02,0.05"],
          backend="inline", store=store, report=False)
    df = seqlab.load(store)
    assert len(df) == 8
    assert {"design", "seed", "param.protocol.perps.liquidation_bonus", "operator_profit_usd",
            "latency_ms.p50"} <= set(df.columns)
    assert (df.loc[df.design == "honest", "operator_profit_usd"] == 0).all()
    assert np.isfinite(df["latency_ms.p50"]).all()
