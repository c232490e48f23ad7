"""``seqlab sweep``: one scenario over parameter values × designs × seeds.

Every run is identified by a stable id (a hash of its parameters, design and seed),
executed by an executor (inline, process pool, Ray) through a function that catches
its own errors, and written to the sweep's DuckDB store the moment it finishes — one
row, one committed statement, by the parent process only. A sweep killed at any point
therefore leaves only whole runs behind, and ``--resume`` runs exactly the ones
missing: every run is present once, none lost, none duplicated.

Parameter values: ``key=v1,v2,v3`` (literal values, durations as "250ms"),
``key=lo:hi:n`` (n evenly spaced numbers) or ``key=~lo:hi:n`` (n uniform random
samples, drawn from the scenario's seed).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.experiments.executors import make_executor
from seqlab.kernel import make_rng
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario, load_scenario, parse_scenario
from seqlab.sequencing import DESIGNS

DEFAULT_METRICS = ("operator_profit_usd", "user_value_usd", "lp_value_usd", "liquidations",
                   "bad_debt_usd", "latency_ms.p50", "latency_ms.p99")
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what it needs to run anywhere (it pickles)."""

    run_id: str
    design: str
    seed: int
    params: dict[str, Any]
    scenario: dict[str, Any]
    source: str
    base_dir: str | None


# parameters ---------------------------------------------------------------------------
def parse_literal(text: str) -> Any:
    """``"3"`` → 3, ``"0.5"`` → 0.5, ``"true"`` → True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def parse_param(text: str, seed: int = 0) -> tuple[str, list[Any]]:
    """``key=v1,v2`` | ``key=lo:hi:n`` | ``key=~lo:hi:n`` → (key, values)."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise SeqlabError(f"'{text}' is not a parameter", field="--param",
                          allowed="key=v1,v2 | key=lo:hi:n | key=~lo:hi:n")
    if ":" in spec and "," not in spec:
        random = spec.startswith("~")
        parts = spec.lstrip("~").split(":")
        try:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise SeqlabError(f"bad range '{spec}'", field=f"--param {key}",
                              allowed="lo:hi:n or ~lo:hi:n with numbers") from None
        if n < 1 or len(parts) != 3:
            raise SeqlabError(f"bad range '{spec}'", field=f"--param {key}",
                              allowed="n >= 1")
        values = (np.sort(make_rng(seed, f"sweep/{key}").uniform(lo, hi, n)) if random
                  else np.linspace(lo, hi, n))
        return key, [round(float(v), 10) for v in values]
    return key, [parse_literal(v) for v in spec.split(",") if v.strip()]


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data["a"]["b"] = value`` for ``key = "a.b"`` (creating tables as needed)."""
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise SeqlabError(f"'{part}' is not a table", field=key)
    target[parts[-1]] = value


def run_id(design: str, seed: int, params: dict[str, Any]) -> str:
    blob = json.dumps({"design": design, "seed": seed, "params": params}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def plan_runs(loaded: LoadedScenario, designs: list[str], seeds: int,
              params: dict[str, list[Any]]) -> list[RunSpec]:
    """The grid: every combination of parameter values × designs × seeds."""
    data = loaded.scenario.model_dump(mode="python")
    keys = list(params)
    base_dir = str(loaded.base_dir) if loaded.base_dir else None
    out = []
    for combo in itertools.product(*(params[k] for k in keys)):
        values = dict(zip(keys, combo))
        for design in designs:
            for k in range(seeds):
                seed = loaded.scenario.seed + k
                out.append(RunSpec(run_id(design, seed, values), design, seed, values, data,
                                   loaded.source, base_dir))
    return out


# one run, anywhere --------------------------------------------------------------------
def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric summary entries, nested dicts as ``a.b``."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run one spec; never raises: an error becomes a failed record."""
    from seqlab.cluster import make_world

    start = time.perf_counter()
    record = {"run_id": spec.run_id, "design": spec.design, "seed": spec.seed,
              "params": spec.params, "status": "ok", "error": "", "digest": "",
              "metrics": {}}
    try:
        data = copy.deepcopy(spec.scenario)
        for key, value in spec.params.items():
            set_dotted(data, key, value)
        set_dotted(data, "sequencer.design", spec.design)
        loaded = parse_scenario(data, spec.source, Path(spec.base_dir) if spec.base_dir else None)
        summary = make_world(loaded, spec.seed).run().summary
        record["metrics"] = flatten(summary)
        record["digest"] = summary["digest"]
    except SeqlabError as exc:
        record.update(status="failed", error=exc.line())
    except Exception as exc:  # noqa: BLE001 - one bad run must not stop the sweep
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    record["wall_s"] = round(time.perf_counter() - start, 4)
    return record


# the sweep ----------------------------------------------------------------------------
def sweep(scenario: str | Path | LoadedScenario | None = None,
          designs: list[str] | None = None, seeds: int | None = None,
          params: dict[str, list[Any]] | list[str] | None = None, backend: str = "process",
          workers: int | None = None, store: str | Path | None = None,
          resume: bool = False, address: str | None = None, report: bool = True,
          progress: Progress | None = None) -> Result:
    """Run the grid, store every run as it finishes, return a Result of all stored runs."""
    from seqlab.experiments.sweep_store import SweepStore

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    cfg = loaded.scenario.sweep
    designs = list(dict.fromkeys(designs or cfg.designs or ["honest"]))
    for name in designs:
        if name not in DESIGNS:
            raise SeqlabError(f"unknown design '{name}'", field="--designs",
                              allowed=", ".join(sorted(DESIGNS)))
    grid = dict(cfg.params)
    if isinstance(params, list):
        grid.update(parse_param(p, loaded.scenario.seed) for p in params)
    elif params:
        grid.update(params)
    seeds = seeds or cfg.seeds
    if seeds < 1:
        raise SeqlabError("must be at least 1", field="--seeds")
    path = Path(store or Path("runs") / f"{loaded.scenario.name}-sweep" / "sweep.duckdb")
    specs = plan_runs(loaded, designs, seeds, grid)
    start = time.perf_counter()
    with SweepStore(path, resume) as db:
        db.describe(loaded.scenario.name, designs, list(grid), seeds)
        done = db.done_ids()
        todo = [s for s in specs if s.run_id not in done]
        _execute(todo, db, make_executor(backend, workers, address), len(specs), progress)
        result = db.result(DEFAULT_METRICS)
        db.export_parquet(path.with_suffix(".parquet"))
    result.summary.update(wall_s=round(time.perf_counter() - start, 3), store=str(path),
                          backend=backend, planned=len(specs))
    if report:
        from seqlab.report import write_sweep_report

        write_sweep_report(result, path.with_name("sweep.html"))
        result.summary["report"] = str(path.with_name("sweep.html"))
    return result


def _execute(todo: list[RunSpec], db, executor, total: int,
             progress: Progress | None) -> None:
    done_before = total - len(todo)
    failed = 0
    try:
        for n, (_, record) in enumerate(executor.imap(execute_run, todo), start=1):
            db.add(record)
            failed += record["status"] != "ok"
            if progress is not None:
                progress(done_before + n, total, failed)
    except KeyboardInterrupt:
        executor.close()
        raise
