"""The sweep's DuckDB store: one row per finished run, safe against being killed.

Only the parent process writes. Each run is one ``INSERT`` (DuckDB commits it to its
write-ahead log at once), keyed by the run's id, so a crash leaves whole runs only and a
resumed sweep can neither lose nor duplicate one. Read back with ``seqlab.load``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np

from seqlab.errors import SeqlabError
from seqlab.result import Result

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, design VARCHAR, seed BIGINT, params JSON, status VARCHAR,
    error VARCHAR, wall_s DOUBLE, digest VARCHAR, metrics JSON,
    finished_at TIMESTAMP DEFAULT current_timestamp);
CREATE TABLE IF NOT EXISTS sweep (key VARCHAR PRIMARY KEY, value JSON);
"""


class SweepStore:
    """Open (or resume) the store at ``path``."""

    def __init__(self, path: Path, resume: bool = False, read_only: bool = False) -> None:
        """``read_only``: an existing store, to report on; nothing is created or written."""
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not resume:
                raise SeqlabError("a sweep store already exists here", file=str(self.path),
                                  field="--store",
                                  allowed="--resume to continue it, or a new path")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise SeqlabError(f"cannot open the store ({exc})", file=str(self.path)) from None
        if not read_only:
            self.con.execute(SCHEMA)

    def __enter__(self) -> "SweepStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def describe(self, scenario: str, designs: list[str], params: list[str],
                 seeds: int) -> None:
        for key, value in (("scenario", scenario), ("designs", designs), ("params", params),
                           ("seeds", seeds)):
            self.con.execute("INSERT OR REPLACE INTO sweep VALUES (?, ?)",
                             [key, json.dumps(value)])

    def check_fingerprint(self, value: str) -> None:
        """Refuse to resume a store made by a different sweep definition."""
        row = self.con.execute("SELECT value FROM sweep WHERE key = 'fingerprint'").fetchone()
        if row is not None and json.loads(row[0]) != value:
            raise SeqlabError("this store was made by a different sweep (scenario, designs, "
                              "points or seeds differ)", file=str(self.path), field="--resume",
                              allowed="the same sweep definition, or a new --store")
        self.con.execute("INSERT OR REPLACE INTO sweep VALUES ('fingerprint', ?)",
                         [json.dumps(value)])

    def done_ids(self) -> set[str]:
        return {row[0] for row in self.con.execute("SELECT run_id FROM runs").fetchall()}

    def add(self, record: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT OR IGNORE INTO runs (run_id, design, seed, params, status, error, wall_s,"
            " digest, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [record["run_id"], record["design"], record["seed"],
             json.dumps(record["params"], default=str), record["status"], record["error"],
             record["wall_s"], record["digest"], json.dumps(record["metrics"])])

    def rows(self) -> list[tuple]:
        return self.con.execute(
            "SELECT run_id, design, seed, params, status, error, wall_s, digest, metrics "
            "FROM runs ORDER BY run_id").fetchall()

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT * FROM sweep").fetchall()}

    def result(self, metrics: Iterable[str]) -> Result:
        """Every stored run as a Result (``p:`` parameter and ``m:`` metric columns)."""
        return runs_result(self.rows(), self.meta(), list(metrics))

    def export_parquet(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        self.con.execute(f"COPY runs TO '{tmp}' (FORMAT PARQUET)")
        os.replace(tmp, path)


def runs_result(rows: list[tuple], meta: dict[str, Any], metrics: list[str]) -> Result:
    params = meta.get("params", [])
    table: dict[str, list] = {k: [] for k in ("run_id", "design", "seed", "status", "error",
                                              "wall_s", "digest")}
    table.update({f"p:{p}": [] for p in params})
    table.update({f"m:{m}": [] for m in metrics})
    for run_id, design, seed, p, status, error, wall_s, digest, m in rows:
        p, m = json.loads(p), json.loads(m)
        for key, value in (("run_id", run_id), ("design", design), ("seed", seed),
                           ("status", status), ("error", error), ("wall_s", wall_s),
                           ("digest", digest)):
            table[key].append(value)
        for name in params:
            table[f"p:{name}"].append(str(p.get(name, "")))
        for name in metrics:
            table[f"m:{name}"].append(m.get(name, np.nan))
    failures = [{"run_id": r, "design": d, "seed": sd, "params": json.loads(p), "error": e}
                for r, d, sd, p, st, e, *_ in rows if st != "ok"]
    summary = {"scenario": meta.get("scenario", ""), "designs": meta.get("designs", []),
               "params": params, "seeds": meta.get("seeds", 1), "runs": len(rows),
               "failed": len(failures), "failures": failures, "metrics": metrics}
    return Result(summary, {"runs": {k: np.asarray(v) for k, v in table.items()}})


def load(path: str | Path):
    """A sweep store (or a run/compare DuckDB file) as a pandas DataFrame, for notebooks:
    one row per run, parameters and metrics as columns."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise SeqlabError("no such store", file=str(path))
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "runs" not in tables or "sweep" not in tables:
            name = "runs" if "runs" in tables else ("txs" if "txs" in tables else None)
            if name is None:
                raise SeqlabError("not a seqlab store", file=str(path))
            return con.sql(f'SELECT * FROM "{name}"').df()
        df = con.sql("SELECT run_id, design, seed, params, status, error, wall_s, digest, "
                     "metrics FROM runs ORDER BY run_id").df()
    finally:
        con.close()
    params = pd.json_normalize(df.pop("params").map(json.loads).tolist()).add_prefix("param.")
    metrics = pd.json_normalize(df.pop("metrics").map(json.loads).tolist())
    metrics = metrics.drop(columns=[c for c in metrics.columns if c in df.columns])
    return pd.concat([df, params, metrics], axis=1)
