"""``seqlab sweep``: one scenario over parameter values × designs × seeds.

Every run is identified by a stable id (a hash of its parameters, design and seed),
executed by an executor (inline, process pool, Ray) through a function that catches
its own errors, and written to the sweep's DuckDB store the moment it finishes — one
row, one committed statement, by the parent process only. A sweep killed at any point
therefore leaves only whole runs behind, and ``--resume`` runs exactly the ones
missing: every run is present once, none lost, none duplicated.

Parameter values: ``key=v1,v2,v3`` (literal values, durations as "250ms"),
``key=lo:hi:n`` (n evenly spaced numbers) or ``key=~lo:hi:n`` (n uniform random
samples, drawn from the scenario's seed). Instead of a grid, explicit points:
``--point "key=v,key2=w"`` (repeatable), each one set of settings run as it is.

Every point is validated before the first run (a bad key or value is one error line),
and a store remembers a fingerprint of the sweep's definition (scenario, designs,
points, seeds) so ``--resume`` cannot mix runs of two different sweeps.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.experiments.executors import make_executor, release_run
from seqlab.kernel import make_rng
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario, load_scenario, parse_scenario
from seqlab.sequencing import check_design

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


def parse_point(text: str) -> dict[str, Any]:
    """``key=v,key2=w`` → ``{"key": v, "key2": w}``: one explicit point of a sweep."""
    point: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or key in point:
            raise SeqlabError(f"{text!r} is not a point", field="--point",
                              allowed="key=v,key2=w with each key once")
        point[key] = parse_literal(value)
    return point


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


def grid_points(params: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of parameter values, as points."""
    keys = list(params)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(params[k] for k in keys))]


def check_points(loaded: LoadedScenario, points: list[dict[str, Any]], design: str) -> None:
    """Validate every point as a whole scenario before anything runs: a bad key or value
    is one ``SeqlabError`` naming the point, not a sweep of failed runs."""
    data = loaded.scenario.model_dump(mode="python")
    for point in points:
        changed = copy.deepcopy(data)
        try:
            for key, value in point.items():
                set_dotted(changed, key, value)
            set_dotted(changed, "sequencer.design", design)
            parse_scenario(changed, loaded.source, loaded.base_dir)
        except SeqlabError as exc:
            shown = ",".join(f"{k}={v}" for k, v in point.items())
            raise SeqlabError(f"point {shown}: {exc.line()}", field="--param/--point") from None


def fingerprint(loaded: LoadedScenario, designs: list[str], points: list[dict[str, Any]],
                seeds: int) -> str:
    """What makes two sweeps the same sweep: scenario, designs, points and seeds."""
    blob = json.dumps({"scenario": loaded.scenario.model_dump(mode="json"), "designs": designs,
                       "points": points, "seeds": seeds}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_runs(loaded: LoadedScenario, designs: list[str], seeds: int,
              params: dict[str, list[Any]] | list[dict[str, Any]]) -> list[RunSpec]:
    """Every point (a grid's combinations, or explicit points) × designs × seeds."""
    data = loaded.scenario.model_dump(mode="python")
    base_dir = str(loaded.base_dir) if loaded.base_dir else None
    points = grid_points(params) if isinstance(params, dict) else params
    out = []
    for values in points:
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
    finally:
        release_run()
    record["wall_s"] = round(time.perf_counter() - start, 4)
    return record


# the sweep ----------------------------------------------------------------------------
def sweep(scenario: str | Path | LoadedScenario | None = None,
          designs: list[str] | None = None, seeds: int | None = None,
          params: dict[str, list[Any]] | list[str] | None = None, backend: str = "process",
          workers: int | None = None, store: str | Path | None = None,
          resume: bool = False, address: str | None = None, report: bool = True,
          progress: Progress | None = None,
          points: list[dict[str, Any]] | list[str] | None = None) -> Result:
    """Run the grid (or the explicit ``points``), store every run as it finishes, return
    a Result of all stored runs. Everything a user can get wrong fails before the store
    is created or any run starts."""
    from seqlab.experiments.sweep_store import SweepStore

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    cfg = loaded.scenario.sweep
    designs = list(dict.fromkeys(designs or cfg.designs or ["honest"]))
    for name in designs:
        check_design(name, "--designs")
    if points and params:
        raise SeqlabError("give either a grid (--param) or explicit points (--point), "
                          "not both", field="--point")
    if points:
        plan = [parse_point(p) if isinstance(p, str) else dict(p) for p in points]
        keys = list(dict.fromkeys(k for p in plan for k in p))
    else:
        grid = dict(cfg.params)
        if isinstance(params, list):
            grid.update(parse_param(p, loaded.scenario.seed) for p in params)
        elif params:
            grid.update(params)
        plan, keys = grid_points(grid), list(grid)
    seeds = seeds or cfg.seeds
    if not 1 <= seeds <= 10_000:
        raise SeqlabError(f"{seeds} seeds", field="--seeds", allowed="1 to 10,000")
    check_points(loaded, plan, designs[0])
    path = Path(store or Path("runs") / f"{loaded.scenario.name}-sweep" / "sweep.duckdb")
    specs = plan_runs(loaded, designs, seeds, plan)
    executor = make_executor(backend, workers, address)
    executor.start()  # a backend that cannot start leaves no store behind
    start = time.perf_counter()
    try:
        with SweepStore(path, resume) as db:
            db.check_fingerprint(fingerprint(loaded, designs, plan, seeds))
            db.describe(loaded.scenario.name, designs, keys, seeds)
            done = db.done_ids()
            todo = [s for s in specs if s.run_id not in done]
            _execute(todo, db, executor, len(specs), progress)
            result = db.result(DEFAULT_METRICS)
            db.export_parquet(path.with_suffix(".parquet"))
    finally:
        executor.close()
    result.summary.update(wall_s=round(time.perf_counter() - start, 3), store=str(path),
                          backend=backend, planned=len(specs))
    if report:
        from seqlab.report import write_sweep_report

        write_sweep_report(result, path.with_name("sweep.html"))
        result.summary["report"] = str(path.with_name("sweep.html"))
    return result


def _execute(todo: list[RunSpec], db, executor, total: int,
             progress: Progress | None) -> None:
    """Run ``todo``, storing each record; SIGTERM stops the sweep like Ctrl-C does, with
    the pool's workers ended, not orphaned."""
    done_before = total - len(todo)
    failed = 0
    with _sigterm_as_interrupt():
        try:
            for n, (_, record) in enumerate(executor.imap(execute_run, todo), start=1):
                db.add(record)
                failed += record["status"] != "ok"
                if progress is not None:
                    progress(done_before + n, total, failed)
        except KeyboardInterrupt:
            executor.close()
            raise


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
