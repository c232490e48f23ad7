"""``seqlab report DIR``: a report is a view of stored results, so it can be made again.

A run folder (``results.duckdb`` + ``summary.json``), a compare folder (``compare.duckdb``
+ ``compare.json``) or a sweep folder (``sweep.duckdb``) holds everything its report
shows; this reads the files back and writes the report beside them, atomically, without
running anything. A report made with an older seqlab, or lost, is one command away.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from seqlab.errors import SeqlabError
from seqlab.experiments.load import load_result
from seqlab.experiments.sweep import DEFAULT_METRICS
from seqlab.experiments.sweep_store import SweepStore
from seqlab.result import Result

ALLOWED = "a run, compare or sweep folder (results.duckdb, compare.duckdb or sweep.duckdb)"


def rerender(folder: str | Path) -> Path:
    """Write the report of the run, compare or sweep stored in ``folder``; its path."""
    from seqlab.report import write_compare_report, write_report, write_sweep_report

    folder = Path(folder)
    if not folder.is_dir():
        raise SeqlabError("not a folder", file=str(folder), allowed=ALLOWED)
    kinds = (("results.duckdb", "summary.json", "report.html", write_report),
             ("compare.duckdb", "compare.json", "compare.html", write_compare_report))
    for db, summary, page, write in kinds:
        if (folder / db).is_file() and (folder / summary).is_file():
            return write(load_result(folder / db, folder / summary), folder / page)
    if (folder / "sweep.duckdb").is_file():
        return write_sweep_report(sweep_result(folder / "sweep.duckdb"),
                                  folder / "sweep.html")
    raise SeqlabError("no stored results here", file=str(folder), allowed=ALLOWED)


def sweep_result(path: Path) -> Result:
    """A sweep store's runs as the Result its report is made from (read-only)."""
    with SweepStore(path, read_only=True) as db:
        try:
            return db.result(DEFAULT_METRICS)
        except duckdb.Error as exc:
            raise SeqlabError(f"not a sweep store ({exc})", file=str(path)) from None
