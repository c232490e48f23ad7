"""``seqlab run`` as a function: load a scenario, run it, store and report the result."""
from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.experiments import store
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario, load_scenario
from seqlab.cluster import make_world
from seqlab.world import Progress

RUN_FILES = ("results.duckdb", "summary.json", "report.html")


def check_seed(seed: int | None, field: str = "--seed") -> None:
    """A seed given on the command line obeys the scenario's bounds."""
    from seqlab.scenario.schema import MAX_SEED

    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise SeqlabError(f"{seed} is out of range", field=field,
                          allowed=f"0 to {MAX_SEED:,} (seeds are 32-bit)")


def run(scenario: str | Path | LoadedScenario | None = None, seed: int | None = None,
        out: str | Path | None = None, report: bool = True,
        progress: Progress | None = None, design: str | None = None) -> Result:
    """Run one scenario; with ``out``, write ``results.duckdb``, ``summary.json`` and
    ``report.html`` there. Returns the Result (its summary gains the file paths).

    ``design`` overrides the scenario's ``sequencer.design`` (any ``seqlab compare`` row,
    e.g. ``extractive`` or ``fcfs@shared``)."""
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if design is not None:
        loaded = with_checked_design(loaded, design)
    check_seed(seed)
    if out is not None:
        store.check_out(Path(out), RUN_FILES)  # before the run, not after
    result = make_world(loaded, seed).run(progress)
    if out is not None:
        save(result, Path(out), report=report)
    return result


def with_checked_design(loaded: LoadedScenario, design: str,
                        field: str = "--design") -> LoadedScenario:
    """``loaded`` run under ``design``; an unknown design fails before anything runs."""
    from seqlab.experiments.compare import variant, with_design
    from seqlab.sequencing import check_design

    check_design(variant(design)[0], field)
    return with_design(loaded, design)


def save(result: Result, out: Path, report: bool = True) -> None:
    """``results.duckdb``, ``summary.json`` and ``report.html`` in ``out``."""
    from seqlab.report import write_report

    store.save(result, out, RUN_FILES, write_report if report else None)
