"""Write a Result to disk: DuckDB tables, a JSON summary, all atomically.

A result folder (run, compare, price) is written whole into a temporary sibling folder
and renamed into place, replacing an earlier folder of the same command as a whole; a
crash or Ctrl-C never leaves a half-written folder, and temporaries left by a killed
process are removed by the next write beside them. Single files are written under a
temporary name and moved into place with ``os.replace``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from seqlab.errors import SeqlabError
from seqlab.result import ENUMS, Result

_TMP, _OLD = ".tmp-", ".old-"  # markers of our temporary sibling folders


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


def check_out(out: Path, names: tuple[str, ...]) -> None:
    """Fail before any work when ``out`` cannot become a result folder: it is a file, or
    a folder holding files this command does not write (which it would replace)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeqlabError("exists and is not a folder", file=str(out), field="--out",
                          allowed="a new or existing results folder")
    if out.is_dir() and out.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise SeqlabError("is the current folder or holds it, and a result folder is "
                          "replaced as a whole", file=str(out), field="--out",
                          allowed="a folder other than the one you are in")
    if out.is_dir():
        ours = set(names) | {f"{n}.wal" for n in names}
        foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if foreign:
            raise SeqlabError(f"folder holds files seqlab would not write here "
                              f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''})",
                              file=str(out), field="--out",
                              allowed=f"an empty folder, a new path, or one holding only "
                                      f"{', '.join(names)}")


def clean_stale(out: Path) -> None:
    """Remove temporary siblings of ``out`` left by a killed write."""
    if not out.parent.is_dir():
        return
    for prefix in (f".{out.name}{_TMP}", f".{out.name}{_OLD}"):
        for stale in out.parent.glob(f"{prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def atomic_folder(out: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``out`` as a whole."""
    check_out(Path(out), names)
    out = Path(out).resolve()  # a real name and parent, also for "dir/.."
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{_TMP}", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD}", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save(result: Result, out: Path, names: tuple[str, str, str],
         report: Callable[[Result, Path], object] | None = None) -> None:
    """Write ``result`` into folder ``out`` as (database, json, html) named by ``names``,
    the folder as a whole atomically. The summary gains the paths it was written to."""
    db, js, html = names
    with atomic_folder(out, names) as tmp:
        write_duckdb(result, tmp / db)
        if report is not None:
            report(result, tmp / html)
            result.summary["report"] = str(out / html)
        result.summary["store"] = str(out / db)
        write_json(result.summary, tmp / js)


def read_table(path: Path, name: str) -> dict[str, np.ndarray]:
    """Read one stored table back as numpy columns."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        arrow = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
    finally:
        con.close()
    return {c: arrow.column(c).to_numpy(zero_copy_only=False) for c in arrow.column_names}
