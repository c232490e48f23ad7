"""The L1 gas price the batch poster pays: a constant, or a replayed historical series.

The shipped series are 10-minute percentiles of Ethereum gas prices (in wei) on three
stress days; run time zero is ``market.start`` into the series (the same offset the price
replay of that day uses, so a replay from 08:00 pays 08:00's gas), and each bucket's
value holds for its 10 minutes (the last one past the end of the series). Batches posted
during a gas spike pay the spike: the cost of data availability is itself a risk a
rollup carries when it is busiest.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.market.historical import read_data_text, resolve_data_file
from seqlab.scenario.schema import BatchPoster

BUILTIN_GAS: dict[str, str] = {
    "gas-2020-03-12": "gas-gwei-10min-03-12-2020.json",
    "gas-2020-09-05": "gas-gwei-10min-09-05-2020.json",
    "gas-2021-01-21": "gas-gwei-10min-01-21-2021.json",
}
COLUMNS = {"30": "30.0 Perc", "60": "60.0 Perc", "90": "90.0 Perc", "avg": "avgGasDay"}
BUCKET_US = 600_000_000  # 10 minutes
FIELD = "sequencer.batch_poster.gas_series"


def load_gas_gwei(name: str, column: str, base_dir: Path | None = None) -> np.ndarray:
    """One gas price (gwei) per 10-minute bucket, from a ``{"schema", "data"}`` JSON
    table whose rows carry the percentile columns in wei."""
    path = resolve_data_file(name, base_dir, BUILTIN_GAS, FIELD, "gas JSON file")
    try:
        rows = json.loads(read_data_text(path, str(path)))["data"]
        wei = np.array([float(r[COLUMNS[column]]) for r in rows], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise SeqlabError(f"not a gas series: expected rows with '{COLUMNS[column]}' "
                          f"({type(exc).__name__})", file=str(path), field=FIELD) from None
    if not len(wei) or not np.all(np.isfinite(wei)) or np.any(wei < 0):
        raise SeqlabError("gas prices must be finite and non-negative", file=str(path),
                          field=FIELD)
    return wei / 1e9


def gas_price_gwei(cfg: BatchPoster, t_us: np.ndarray, base_dir: Path | None = None,
                   start_us: int = 0) -> np.ndarray:
    """The gas price (gwei) at each run time: the constant, or the series' bucket at
    ``start_us`` (the market's ``start``) + the run time."""
    if cfg.gas_series is None:
        return np.full(len(t_us), cfg.gas_price_gwei)
    series = load_gas_gwei(cfg.gas_series, cfg.gas_percentile, base_dir)
    return series[np.minimum((np.asarray(t_us) + start_us) // BUCKET_US, len(series) - 1)]
