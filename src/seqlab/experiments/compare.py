"""``seqlab compare``: one world under several designs, paired by seed.

Every design runs the same scenario with the same seed, so prices, order flow and every
random decision a design does not change are identical; the difference between a
design's outcome and the baseline's is therefore what the design did, not noise. With
several seeds each metric gets a mean and a 95 % confidence interval (Student t).

The headline harm is the direct ordering cost (:mod:`seqlab.experiments.paired`), split by
who pays, with the final-value difference beside it. A yearly premium needs stress events
and a calendar to annualise them: that is ``seqlab price``, not compare.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from seqlab.errors import SeqlabError
from seqlab.experiments.executors import Executor, make_executor, release_run
from seqlab.experiments.pairing import pair_all
from seqlab.experiments.paired import RunView, direct_harm, payer_harm, who_pays
from seqlab.experiments.stats import domain_of, mean_ci, significance
from seqlab.metrics.contagion import contagion_metrics
from seqlab.seqmarket.concentration import market_metrics
from seqlab.metrics.costs import cost_events, liquidation_times, trade_fills
from seqlab.metrics.oracle_error import oracle_error_metrics
from seqlab.metrics.perps import PROFIT_SOURCES
from seqlab.metrics.recourse import recourse_metrics
from seqlab.result import Result
from seqlab.experiments.sweep import parse_literal, set_dotted
from seqlab.scenario.loader import LoadedScenario, load_scenario, parse_scenario
from seqlab.sequencing import ROLLUP_DESIGNS, check_design, relative_cost
from seqlab.cluster import make_world

# Metrics of one design (vs the baseline) in one seed; the JSON and table carry these.
METRICS = ("operator_profit_usd", "ordering_cost_usd", "ordering_cost_bps",
           "final_value_difference_usd", "forced_liquidations", "liquidations",
           "operator_bonus_share", "same_block_liquidation_share", "oracle_to_liquidation_ms",
           "liquidation_within_1s_share", "liquidation_within_12s_share",
           "liquidation_gap_p50_s", "liquidation_gap_p90_s", "latency_p50_ms",
           "latency_p99_ms", "max_censorship_delay_ms", "vol_distortion")

Progress = Callable[[int, int, str], None]


COMPARE_FILES = ("compare.duckdb", "compare.json", "compare.html")


def variant(spec: str) -> tuple[str, dict[str, object]]:
    """``DESIGN[@shared|@isolated][@dotted.key=value…]`` → (design, settings to change);
    ``@NAME`` is any registered design for several rollups (``[rollups] sequencing``).

    A row of a comparison is a design, optionally with the way several rollups are
    sequenced and any scenario settings changed, so one paired run can compare, say, a
    protocol with and without a grace period: ``fcfs,fcfs@protocol.perps.grace_period=1h``.
    """
    name, *parts = spec.split("@")
    changes: dict[str, object] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if eq:
            changes[key.strip()] = parse_literal(value)
        elif part in ROLLUP_DESIGNS:
            changes["rollups.sequencing"] = part
        else:
            raise SeqlabError(f"'{part}' in '{spec}' is neither a sequencing mode nor a "
                              "setting", field="--designs",
                              allowed="DESIGN@isolated, DESIGN@shared, DESIGN@dotted.key=value")
    return name.strip(), changes


def with_design(loaded: LoadedScenario, design: str) -> LoadedScenario:
    """The same scenario as ``design`` (a ``variant`` spec) would have it."""
    name, changes = variant(design)
    data = loaded.scenario.model_dump(mode="python")
    for key, value in {**changes, "sequencer.design": name}.items():
        set_dotted(data, key, value)
    return parse_scenario(data, loaded.source, loaded.base_dir)


def run_one(loaded: LoadedScenario, design: str, seed: int) -> RunView:
    world = make_world(with_design(loaded, design), seed)
    result = world.run()
    s, t = result.summary, result.tables
    options, ref = getattr(world, "options", None), getattr(world, "reference", None)
    prices = t.get("prices", {"t_s": np.zeros(0), "reference": np.zeros(0)})
    txs = t["txs"]
    done = txs["included_us"] >= 0
    lat = (txs["included_us"][done] - txs["submit_us"][done]) / 1000.0
    q = np.quantile(lat, np.linspace(0, 1, 201)) if len(lat) else np.zeros(201)
    return RunView(s, t["accounts"]["value_usd"], t["accounts"]["managed"], t["accounts"],
                   {k: t[k] for k in ("option_writers", "option_buyers") if k in t},
                   np.unique(t["liquidations"]["account"]),
                   s["liquidation_bonus_by_liquidator"], q, trade_fills(txs, t["accounts"]),
                   cost_events(t, options, ref.at if ref is not None else None),
                   ((prices["t_s"] * 1e6).round().astype(np.int64), prices["reference"]),
                   int(loaded.scenario.duration), liquidation_times(t, options))


def gap_metrics(s: dict) -> dict[str, float]:
    """How soon liquidations follow the oracle update that enabled them (a run's
    ``liquidation_gap``), under the names compare carries."""
    gap = s.get("liquidation_gap") or {}
    return {"liquidation_within_1s_share": gap.get("within_1s_share", 0.0),
            "liquidation_within_12s_share": gap.get("within_12s_share", 0.0),
            "liquidation_gap_p50_s": gap.get("p50_s", 0.0),
            "liquidation_gap_p90_s": gap.get("p90_s", 0.0)}


def paired_metrics(run: RunView, base: RunView,
                   payers: dict[str, tuple[float, float]]) -> dict[str, float]:
    """One design against the baseline, same seed; ``payers`` is the pair's
    :func:`~seqlab.experiments.paired.payer_harm`, whose sums are the headline harm: the
    direct ordering cost and, beside it, the final-value difference (which also carries
    what later trading does once paths diverge)."""
    s, b = run.summary, base.summary
    cost = sum(direct for direct, _ in payers.values())
    notional = b["traded_notional_usd"]
    return {
        "operator_profit_usd": s["operator_profit_usd"],
        "ordering_cost_usd": round(cost, 2),
        "ordering_cost_bps": round(cost / notional * 1e4, 4) if notional else 0.0,
        "final_value_difference_usd": round(sum(total for _, total in payers.values()), 2),
        "forced_liquidations": int(len(np.setdiff1d(run.liquidated, base.liquidated))),
        "liquidations": s["liquidations"],
        "operator_bonus_share": s["operator_bonus_share"],
        "same_block_liquidation_share": s["same_block_liquidation_share"],
        "oracle_to_liquidation_ms": s["oracle_to_liquidation_ms"],
        **gap_metrics(s),
        "latency_p50_ms": s["latency_ms"]["p50"],
        "latency_p99_ms": s["latency_ms"]["p99"],
        "max_censorship_delay_ms": s["max_censorship_delay_ms"],
        "vol_distortion": s.get("vol_distortion", 0.0),
        **contagion_metrics(s),
        **market_metrics(s),
        **recourse_metrics(s),
        **oracle_error_metrics(s),
    }


def _check_designs(loaded: LoadedScenario, designs: list[str], baseline: str) -> None:
    """Every row must name a design and settings the scenario accepts: fail before any
    run starts, not halfway through."""
    for spec in [*designs, baseline]:
        check_design(variant(spec)[0], "--designs")
        with_design(loaded, spec)


@dataclass(frozen=True)
class CompareRun:
    """One design on one seed of a comparison: what it needs to run anywhere (it
    pickles, so a process pool or a Ray cluster can run it)."""

    design: str
    seed: int
    scenario: dict
    source: str
    base_dir: str | None


def execute_compare_run(spec: CompareRun) -> RunView | str:
    """Run one spec; a user error comes back as its one line, not as an exception, so
    one bad run is reported by the parent with its reason."""
    try:
        loaded = parse_scenario(spec.scenario, spec.source,
                                Path(spec.base_dir) if spec.base_dir else None)
        return run_one(loaded, spec.design, spec.seed)
    except SeqlabError as exc:
        return exc.line()
    finally:
        release_run()


def compare(scenario: str | Path | LoadedScenario | None = None,
            designs: list[str] | None = None, baseline: str | None = None, seeds: int = 1,
            out: str | Path | None = None, report: bool = True,
            progress: Progress | None = None, backend: str = "inline",
            workers: int | None = None, address: str | None = None) -> Result:
    """Run every design on every seed; return per-design metrics against the baseline.

    The runs go to an executor (``backend``: inline, process, ray) like a sweep's; each
    is independent and deterministic, so every backend gives the same digests.
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    designs = list(dict.fromkeys(designs or ["honest", "extractive"]))
    baseline = baseline or designs[0]
    if out is not None:
        from seqlab.experiments import store

        store.check_out(Path(out), COMPARE_FILES)
    seed_list, finished = run_stream(loaded, designs, baseline, seeds, progress, backend,
                                     workers, address)
    pairs = pair_all(finished, designs, baseline, seed_list, pair_runs)
    result = _assemble(loaded, designs, baseline, seed_list, pairs)
    if out is not None:
        save_compare(result, Path(out), report)
    return result


def run_stream(loaded: LoadedScenario, designs: list[str], baseline: str, seeds: int,
               progress: Progress | None = None, backend: str = "inline",
               workers: int | None = None, address: str | None = None
               ) -> tuple[list[int], Iterator[tuple[str, int, RunView]]]:
    """Every design (and the baseline) on every seed, checked before anything runs: the
    seeds, and an iterator that runs them on an executor and yields ``(design, seed,
    view)`` as each finishes. Seed by seed, the baseline first (its pairs can then be
    made, and its runs let go, as the others finish), then the costliest designs, so a
    pool does not end on a long run."""
    if not 1 <= seeds <= 10_000:
        raise SeqlabError(f"{seeds} seeds", field="--seeds", allowed="1 to 10,000")
    _check_designs(loaded, designs, baseline)
    executor = make_executor(backend, workers, address)
    others = sorted((d for d in designs if d != baseline), key=lambda d: -relative_cost(d))
    seed_list = [loaded.scenario.seed + k for k in range(seeds)]
    data = loaded.scenario.model_dump(mode="python")
    base_dir = str(loaded.base_dir) if loaded.base_dir else None
    specs = [CompareRun(design, seed, data, loaded.source, base_dir)
             for seed in seed_list for design in (baseline, *others)]
    return seed_list, _finished(executor, specs, progress)


def _finished(executor: Executor, specs: list[CompareRun], progress: Progress | None
              ) -> Iterator[tuple[str, int, RunView]]:
    """``specs`` run on ``executor``, as they finish."""
    if progress is not None:
        progress(0, len(specs), f"{specs[0].design} seed {specs[0].seed}")
    try:
        for done, (i, view) in enumerate(executor.imap(execute_compare_run, specs), 1):
            spec = specs[i]
            if isinstance(view, str):
                raise SeqlabError(f"{spec.design} seed {spec.seed}: {view}")
            if progress is not None:
                progress(done, len(specs), f"{spec.design} seed {spec.seed}")
            yield spec.design, spec.seed, view
    finally:
        executor.close()


def run_views(loaded: LoadedScenario, designs: list[str], baseline: str, seeds: int,
              progress: Progress | None = None, backend: str = "inline",
              workers: int | None = None, address: str | None = None
              ) -> tuple[list[int], dict[tuple[str, int], RunView]]:
    """``run_stream`` with every view kept, by (design, seed): whole runs to read at
    leisure (a few seeds; compare and price pair them as they finish instead)."""
    seed_list, finished = run_stream(loaded, designs, baseline, seeds, progress, backend,
                                     workers, address)
    return seed_list, {(design, seed): view for design, seed, view in finished}


@dataclass(frozen=True)
class Paired:
    """What a comparison keeps of one design's run on one seed, against that seed's
    baseline: the run's summary, latency quantiles and bonuses, who paid, the paired
    metrics, and per user account the direct ordering cost and the final-value
    difference."""

    summary: dict
    latency_ms: np.ndarray
    bonus: dict[str, float]
    payers: dict[str, tuple[float, float]]
    metrics: dict[str, float]
    ordering_cost: np.ndarray
    value_difference: np.ndarray


def pair_runs(run: RunView, base: RunView) -> Paired:
    """``run`` against ``base`` (the same seed under the baseline)."""
    direct = direct_harm(run, base)
    payers = payer_harm(run, base, direct)
    return Paired(run.summary, run.latency_ms, run.bonus, payers,
                  paired_metrics(run, base, payers), direct["accounts"],
                  base.values - run.values)


def _assemble(loaded: LoadedScenario, designs: list[str], baseline: str, seeds: list[int],
              pairs: dict[tuple[str, int], Paired]) -> Result:
    first = pairs[(baseline, seeds[0])].summary
    keys = METRICS + tuple(contagion_metrics(first)) + tuple(market_metrics(first)) \
        + tuple(recourse_metrics(first)) + tuple(oracle_error_metrics(first))
    rows: dict[str, list] = {k: [] for k in ("design", "seed", *keys, "digest",
                                             *(f"profit_{s}" for s in PROFIT_SOURCES))}
    harm: dict[str, list] = {"design": [], "seed": [], "account": [], "ordering_cost_usd": [],
                             "final_value_difference_usd": []}
    bonus = {"design": [], "seed": [], "liquidator": [], "bonus_usd": []}
    per_design: dict[str, dict] = {}
    for design in designs:
        samples, payers = [], []
        for seed in seeds:
            paired = pairs[(design, seed)]
            payers.append(paired.payers)
            m = paired.metrics
            samples.append(m)
            rows["design"].append(design)
            rows["seed"].append(seed)
            for k in keys:
                rows[k].append(m[k])
            rows["digest"].append(paired.summary["digest"])
            for s in PROFIT_SOURCES:
                rows[f"profit_{s}"].append(paired.summary["operator_profit_by_strategy"][s])
            diff = paired.value_difference
            harm["design"] += [design] * len(diff)
            harm["seed"] += [seed] * len(diff)
            harm["account"].append(np.arange(len(diff)))
            harm["ordering_cost_usd"].append(paired.ordering_cost)
            harm["final_value_difference_usd"].append(diff)
            for name, usd in paired.bonus.items():
                bonus["design"].append(design)
                bonus["seed"].append(seed)
                bonus["liquidator"].append(name)
                bonus["bonus_usd"].append(usd)
        per_design[design] = _design_entry(design, seeds, samples, pairs, keys)
        per_design[design]["who_pays"] = who_pays(payers)
    summary = {"scenario": loaded.scenario.name, "baseline": baseline, "seeds": seeds,
               "designs": per_design}
    tables = {
        "runs": {k: np.asarray(v) for k, v in rows.items()},
        "harm": {"design": np.asarray(harm["design"]), "seed": np.asarray(harm["seed"]),
                 **{k: np.concatenate(harm[k]) for k in ("account", "ordering_cost_usd",
                                                          "final_value_difference_usd")}},
        "bonus": {k: np.asarray(v) for k, v in bonus.items()},
        "latency_quantiles": {
            "design": np.repeat(designs, 201),
            "q": np.tile(np.linspace(0, 1, 201), len(designs)),
            "latency_ms": np.concatenate([pairs[(d, seeds[0])].latency_ms for d in designs])},
    }
    return Result(summary, tables)


def _design_entry(design: str, seeds: list[int], samples: list[dict],
                  views: dict[tuple[str, int], Paired], keys: tuple[str, ...]) -> dict:
    """Means over seeds (and 95 % intervals when there are several)."""
    entry: dict = {}
    ci: dict[str, list[float]] = {}
    for k in keys:
        mean, interval = mean_ci([m[k] for m in samples], domain_of(k))
        entry[k] = round(mean, 4)
        if len(samples) > 1:
            ci[k] = [round(x, 4) for x in interval]
    entry["latency_ms"] = {"p50": entry.pop("latency_p50_ms"),
                           "p99": entry.pop("latency_p99_ms")}
    profits = [views[(design, s)].summary["operator_profit_by_strategy"] for s in seeds]
    entry["operator_profit_by_strategy"] = {
        k: round(float(np.mean([p[k] for p in profits])), 2) for k in PROFIT_SOURCES}
    auctions = [views[(design, s)].summary.get("auction") for s in seeds]
    if all(auctions):  # Dutch auctions: how they cleared, averaged over seeds
        entry["auction"] = {k: round(float(np.mean([a[k] for a in auctions])), 4)
                            for k in auctions[0]}
    entry["digest"] = views[(design, seeds[0])].summary["digest"]
    entry["digests"] = [views[(design, s)].summary["digest"] for s in seeds]
    extra = {str(s): views[(design, s)].summary["design_metrics"] for s in seeds
             if "design_metrics" in views[(design, s)].summary}
    if extra:  # a design's own figures, per seed, as it reported them
        entry["design_metrics"] = extra
    if ci:
        entry["ci95"] = ci
        entry["significance"] = {k: significance(entry.get(k, 0.0), v, len(samples))
                                 for k, v in ci.items() if k in entry}
    return entry


def save_compare(result: Result, out: Path, report: bool = True) -> None:
    """``compare.duckdb``, ``compare.json`` and ``compare.html`` in ``out``."""
    from seqlab.experiments import store
    from seqlab.report import write_compare_report

    store.save(result, out, COMPARE_FILES, write_compare_report if report else None)
