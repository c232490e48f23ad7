"""Sweeps: the grid, executors that agree, failures recorded, kill-and-resume."""
import json
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


def _fail_slow_blocks(monkeypatch):
    """Runs whose block time is 1s raise inside the run (after validation passed)."""
    import seqlab.cluster

    real = seqlab.cluster.make_world

    def make_world(loaded, seed=None):
        if loaded.scenario.sequencer.block_time == 1_000_000:
            raise RuntimeError("engine broke on purpose")
        return real(loaded, seed)

    monkeypatch.setattr(seqlab.cluster, "make_world", make_world)


def test_failing_runs_are_recorded_not_fatal(small, tmp_path, monkeypatch):
    _fail_slow_blocks(monkeypatch)
    res = sweep(str(small), ["honest"], 2, ["sequencer.block_time=250ms,1s"],
                backend="inline", store=tmp_path / "s.duckdb", report=False)
    runs = res.tables["runs"]
    assert res.summary["runs"] == 4 and res.summary["failed"] == 2
    bad = runs["status"] == "failed"
    assert all("engine broke on purpose" in e for e in runs["error"][bad])
    assert (runs["status"][~bad] == "ok").all()
    reasons = res.summary["failures"]
    assert len(reasons) == 2 and all(f["params"] == {"sequencer.block_time": "1s"}
                                     for f in reasons)


def test_store_refuses_to_overwrite_without_resume(small, tmp_path):
    store = tmp_path / "s.duckdb"
    sweep(str(small), ["honest"], 1, backend="inline", store=store, report=False)
    with pytest.raises(SeqlabError, match="--resume"):
        sweep(str(small), ["honest"], 1, backend="inline", store=store, report=False)
    again = sweep(str(small), ["honest"], 1, backend="inline", store=store, resume=True,
                  report=False)
    assert again.summary["runs"] == 1
    for other in ({"seeds": 2}, {"designs": ["honest", "fcfs"]},
                  {"params": ["oracle.nodes=5,7"]}):
        kwargs = {"designs": ["honest"], "seeds": 1, **other}
        with pytest.raises(SeqlabError, match="different sweep") as info:
            sweep(str(small), backend="inline", store=store, resume=True, report=False,
                  **kwargs)
        assert str(store) in info.value.line()


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


def _children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_pool_sweep_leaves_no_worker_behind(small, tmp_path, sig):
    store = tmp_path / "o.duckdb"
    cmd = [sys.executable, "-m", "seqlab.cli", "sweep", str(small), "--designs",
           ",".join(DESIGNS), "--seeds", "100", "--backend", "process", "--workers", "2",
           "--store", str(store), "--no-report", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: set[int] = set()
    while time.time() < deadline and not (store.exists() and len(workers) >= 2):
        workers |= _children(proc.pid)
        time.sleep(0.05)
    time.sleep(1.0)
    workers |= _children(proc.pid)
    assert proc.poll() is None and len(workers) >= 2, "no pool to interrupt"
    os.kill(proc.pid, sig)  # the parent only, as a service manager or kill(1) would
    assert proc.wait(timeout=30) != 0
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    orphans = [w for w in workers if _alive(w)]
    for w in orphans:
        os.kill(w, signal.SIGKILL)
    assert not orphans, "pool workers outlived the sweep"
    with SweepStore(store, resume=True) as db:
        assert len(db.done_ids()) > 0


def _broken_world(monkeypatch):
    import seqlab.cluster

    def make_world(loaded, seed=None):
        raise RuntimeError(f"no world for seed {seed}")

    monkeypatch.setattr(seqlab.cluster, "make_world", make_world)


def test_cli_reports_each_failure_and_exits_1_when_all_failed(small, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from seqlab.cli import app

    _broken_world(monkeypatch)
    args = ["sweep", str(small), "--designs", "honest", "--seeds", "2", "--backend",
            "inline", "--no-report"]
    res = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "a.duckdb"), "--json"])
    assert res.exit_code == 1, res.output
    figures = json.loads(res.stdout)
    assert figures["failed"] == figures["runs"] == 2
    assert sorted(f["error"] for f in figures["failures"]) == [
        "RuntimeError: no world for seed 1", "RuntimeError: no world for seed 2"]
    res = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "b.duckdb")])
    assert res.exit_code == 1
    assert "failed: honest seed 1 -: RuntimeError: no world for seed 1" in res.stdout


@pytest.mark.parametrize("spec,hint", [
    ("market.volatilty=0.5,1", "unknown key"),
    ("market.volatility=0.5,-1", "market.volatility"),
    ("oracle.noise_bps=1,inf", "finite"),
    ("sequencer.block_time=250ms,fast", "not a duration"),
    ("duration.x=1", "not a table"),
])
def test_invalid_param_fails_up_front_in_one_line(small, tmp_path, monkeypatch, spec, hint):
    from typer.testing import CliRunner

    from seqlab.cli import app

    _broken_world(monkeypatch)  # nothing may run
    store = tmp_path / "s.duckdb"
    res = CliRunner().invoke(app, ["sweep", str(small), "--param", spec, "--backend", "inline",
                                   "--store", str(store), "--no-report"])
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and hint in res.stderr and "--param" in res.stderr
    assert not store.exists()


def test_explicit_points(small, tmp_path):
    from typer.testing import CliRunner

    from seqlab.cli import app

    store = tmp_path / "p.duckdb"
    res = CliRunner().invoke(app, [
        "sweep", str(small), "--designs", "honest,extractive", "--backend", "inline",
        "--point", "oracle.nodes=5,sequencer.block_time=1s", "--point", "oracle.nodes=9",
        "--store", str(store), "--no-report", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["runs"] == 4
    df = seqlab.load(store)
    got = sorted(zip(df["design"], df["param.oracle.nodes"],
                     df["param.sequencer.block_time"].fillna("-")))
    assert got == [("extractive", 5, "1s"), ("extractive", 9, "-"), ("honest", 5, "1s"),
                   ("honest", 9, "-")]
    for bad in (["--point", "oracle.nodes"], ["--point", "a=1,a=2"],
                ["--point", "oracle.nodes=5", "--param", "oracle.nodes=5,7"]):
        res = CliRunner().invoke(app, ["sweep", str(small), "--backend", "inline",
                                       "--store", str(tmp_path / "x.duckdb"), *bad])
        assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert not (tmp_path / "x.duckdb").exists()


def test_ray_that_cannot_start_leaves_no_store(small, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")

    def refuse(*args, **kwargs):
        raise ConnectionError("Could not connect to cluster\nsecond line")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    store = tmp_path / "r" / "s.duckdb"
    with pytest.raises(SeqlabError, match="cannot start Ray") as info:
        sweep(str(small), ["honest"], 1, backend="ray", address="127.0.0.1:1", store=store,
              report=False)
    assert "\n" not in info.value.line()
    assert not store.exists()


def test_a_finished_process_sweep_prints_nothing_from_its_workers(tmp_path):
    """Workers end quietly when a sweep finishes: no traceback from a signal handler
    inherited by fork, and no stray output on stderr."""
    code = ("import seqlab; seqlab.sweep('tiny', ['honest'], seeds=2, backend='process', "
            f"workers=2, store={str(tmp_path / 's.duckdb')!r}, report=False)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
