"""``seqlab.load``: read back what a command wrote.

- a run folder (``results.duckdb`` + ``summary.json``) or a compare folder
  (``compare.duckdb`` + ``compare.json``): the Result, summary and tables, as the
  command returned it (``result.to_pandas()`` gives the tables as DataFrames);
- a sweep store (``sweep.duckdb``, or the folder holding it): a pandas DataFrame, one row
  per run (see :func:`seqlab.experiments.sweep_store.load`).
"""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

from seqlab.errors import SeqlabError
from seqlab.experiments.store import read_table
from seqlab.experiments.sweep_store import load as load_sweep
from seqlab.result import Result

# (database, summary) file pairs a folder can hold, as ``store.save`` names them.
FOLDERS = (("results.duckdb", "summary.json"), ("compare.duckdb", "compare.json"))


def load(path: str | Path):
    """A run or compare folder as a Result; a sweep store (file or folder) as a
    DataFrame; any other seqlab DuckDB file as the DataFrame of its main table."""
    path = Path(path)
    if not path.is_dir():
        return load_sweep(path)
    for db, js in FOLDERS:
        if (path / db).exists() and (path / js).exists():
            return load_result(path / db, path / js)
    if (path / "sweep.duckdb").exists():
        return load_sweep(path / "sweep.duckdb")
    raise SeqlabError("not a seqlab run, compare or sweep folder", file=str(path),
                      allowed="a folder with results.duckdb, compare.duckdb or sweep.duckdb")


def load_result(db: Path, summary: Path) -> Result:
    """The Result stored in ``db`` (every table) with the summary written beside it."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
    finally:
        con.close()
    tables = {name: read_table(db, name) for name in names if name != "summary"}
    return Result(json.loads(summary.read_text()), tables)
