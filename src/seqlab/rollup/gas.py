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


class GasMarket:
    """The day's gas prices as a keeper meets them: what its transaction costs and how
    likely it is to be included at the price it offers.

    Each 10-minute bucket of the series gives the 30th, 60th and 90th percentiles of the
    prices paid by included transactions. A transaction offering ``g`` gwei is taken as
    included in a given L1 block with the share of that bucket's transactions that paid
    at most ``g`` (interpolated between the percentiles, from 0 at 0 gwei to 1 at twice
    the 90th): a keeper whose offer was generous in the morning waits longer and longer
    as the day's prices climb past it, which is how Black Thursday's keepers with fixed
    gas settings fell behind. A keeper offering nothing fixed (``None``) pays the
    market's price (``gas_percentile``) and is included in the next block. Without a
    series the price is the constant ``gas_price_gwei``.
    """

    def __init__(self, cfg: BatchPoster, base_dir: Path | None = None, start_us: int = 0) -> None:
        self.start_us = int(start_us)
        if cfg.gas_series is None:
            flat = np.array([cfg.gas_price_gwei])
            self.table = np.stack([flat] * 3, axis=1)
            self.market = flat
        else:
            self.table = np.stack([load_gas_gwei(cfg.gas_series, c, base_dir)
                                   for c in ("30", "60", "90")], axis=1)
            self.market = load_gas_gwei(cfg.gas_series, cfg.gas_percentile, base_dir)

    def _bucket(self, t_us: int) -> int:
        return min((int(t_us) + self.start_us) // BUCKET_US, len(self.market) - 1)

    def price_gwei(self, t_us: int, offer: float | None = None) -> float:
        """What a transaction pays per gas at ``t_us``: its fixed ``offer``, or the
        market's price."""
        return float(self.market[self._bucket(t_us)]) if offer is None else float(offer)

    def inclusion(self, t_us: int, offer: float | None) -> float:
        """Chance that a transaction offering ``offer`` gwei is in the next L1 block."""
        if offer is None:
            return 1.0
        p30, p60, p90 = (float(x) for x in self.table[self._bucket(t_us)])
        if offer >= 2 * p90:
            return 1.0
        xp = np.maximum.accumulate(np.array([0.0, p30, p60, p90, 2 * p90]))
        return float(np.interp(offer, xp, [0.0, 0.3, 0.6, 0.9, 1.0]))

    def wait_us(self, t_us: int, offer: float | None, rng: np.random.Generator,
                block_us: int, until_us: int) -> int | None:
        """How long a transaction sent at ``t_us`` offering ``offer`` gwei waits for an
        L1 block to take it, block by block through the day's prices (None: not before
        ``until_us``). A stuck transaction lands once the prices fall back to its offer."""
        if offer is None:
            return 0
        t = int(t_us)
        while t <= until_us:  # one 10-minute bucket at a time: a geometric wait in each
            share = self.inclusion(t, offer)
            end = min((t + self.start_us) // BUCKET_US * BUCKET_US + BUCKET_US - self.start_us,
                      until_us + 1)
            blocks = -(-(end - t) // block_us)  # blocks from t within this bucket
            if share >= 1.0:
                return t - int(t_us)
            if share > 0.0:
                waited = int(rng.geometric(share)) - 1
                if waited < blocks:
                    return t + waited * block_us - int(t_us)
            t += blocks * block_us
        return None
