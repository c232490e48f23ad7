"""Write a Result to disk: DuckDB tables, a JSON summary, all atomically.

Each file is written under a temporary name in the same folder and moved into place
with ``os.replace``, so a crash never leaves a half-written result behind.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from seqlab.result import ENUMS, Result


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # duckdb wants to create the file itself
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def write_json(obj: dict, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    return path


def _arrow(name: str, table: dict[str, np.ndarray]) -> pa.Table:
    """Columns to Arrow; coded columns become dictionary (enum) columns with their names."""
    cols = {}
    for col, values in table.items():
        names = ENUMS.get((name, col))
        if names is not None:
            cols[col] = pa.DictionaryArray.from_arrays(pa.array(values), pa.array(names))
        else:
            cols[col] = pa.array(np.asarray(values))
    return pa.table(cols)


def write_duckdb(result: Result, path: Path) -> Path:
    """All tables of ``result`` plus a one-row-per-key ``summary`` table."""
    with atomic_path(path) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            for name, table in result.tables.items():
                arrow = _arrow(name, table)  # noqa: F841  (read by name in the SQL below)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM arrow')
            rows = [(k, json.dumps(v)) for k, v in sorted(result.summary.items())]
            con.execute("CREATE TABLE summary (key VARCHAR, value JSON)")
            if rows:
                con.executemany("INSERT INTO summary VALUES (?, ?)", rows)
        finally:
            con.close()
    return path


def save(result: Result, out: Path, names: tuple[str, str, str],
         report: Callable[[Result, Path], object] | None = None) -> None:
    """Write ``result`` into folder ``out`` as (database, json, html) named by ``names``;
    each file atomically. The summary gains the paths it was written to."""
    db, js, html = names
    out.mkdir(parents=True, exist_ok=True)
    write_duckdb(result, out / db)
    if report is not None:
        report(result, out / html)
        result.summary["report"] = str(out / html)
    result.summary["store"] = str(out / db)
    write_json(result.summary, out / js)


def read_table(path: Path, name: str) -> dict[str, np.ndarray]:
    """Read one stored table back as numpy columns."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        arrow = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
    finally:
        con.close()
    return {c: arrow.column(c).to_numpy(zero_copy_only=False) for c in arrow.column_names}
