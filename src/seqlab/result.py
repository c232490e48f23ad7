"""One run gives one Result: a plain summary mapping plus column tables.

Everything else (the CLI's table and ``--json``, the DuckDB store, the HTML report) is a
view of a Result, so they can never disagree with each other.

Tables are ``dict[column, numpy array]`` of equal length. The ones a run produces:

- ``prices``: ``t_s``, ``reference`` (USD), ``oracle`` (on-chain USD; NaN before the first update)
- ``oracle_updates``: ``submit_s``, ``included_s``, ``block``, ``price``
- ``liquidations``: ``t_s``, ``block``, ``account``, ``liquidator``, ``closed_usd``,
  ``bonus_usd``, ``blocks_after_oracle``, ``ms_after_oracle`` (both from the oracle update
  that made the account liquidatable)
- ``txs``: ``id``, ``kind``, ``sender``, ``a`` (the kind's amount: see ``seqlab.txs.Kind``),
  ``submit_us``, ``arrival_us``, ``block``, ``included_us`` (-1 when never included),
  ``status``; ``kind`` and ``status`` are small integer codes whose names are in ``ENUMS``
  (the store writes them as DuckDB enums); ``tip`` (priority fee offered, micro-USD),
  ``held`` (1 when the operator delayed it), ``fill`` (an executed trade's fill price,
  micro-USD; 0 otherwise)
- ``blocks``: ``block``, ``t_us``, ``n_txs``
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlab.txs import KIND_NAMES, STATUS_NAMES

Table = dict[str, np.ndarray]

# Columns stored as integer codes for speed; names by code.
ENUMS: dict[tuple[str, str], list[str]] = {
    ("txs", "kind"): KIND_NAMES.tolist(),
    ("txs", "status"): STATUS_NAMES.tolist(),
}


@dataclass
class Result:
    """Summary (JSON-serialisable scalars and small dicts) plus named column tables."""

    summary: dict[str, Any]
    tables: dict[str, Table] = field(default_factory=dict)

    def to_pandas(self) -> dict[str, Any]:
        """Every table as a pandas DataFrame, by name; coded columns (``ENUMS``) become
        categoricals with their names."""
        import pandas as pd

        frames = {}
        for name, table in self.tables.items():
            cols = {}
            for col, values in table.items():
                names = ENUMS.get((name, col))
                values = np.asarray(values)
                if names is not None and values.dtype.kind in "iu":
                    cols[col] = pd.Categorical.from_codes(values, categories=names)
                else:
                    cols[col] = values
            frames[name] = pd.DataFrame(cols)
        return frames

    def table_rows(self, name: str) -> int:
        """Number of rows in table ``name`` (0 when absent or empty)."""
        table = self.tables.get(name) or {}
        return len(next(iter(table.values()))) if table else 0
