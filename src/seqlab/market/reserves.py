"""The L2 venue's depth on a replayed day: the Uniswap v2 ETH/DAI pool as it stood.

The shipped reserve series give the pool's DAI and WETH reserves every 10 minutes on
two of the replayed days, bar for bar with their price series. A live venue on such a
replay starts as deep as the pool was at ``market.start`` (twice its DAI reserve, both
sides in USD), unless the scenario sets ``market.venue_depth_usd`` itself. Other runs
keep ``market.venue_depth_usd``.
"""
from __future__ import annotations

import json
from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.market.historical import read_data_text, resolve_data_file
from seqlab.scenario.schema import Market

#: Replayed price series whose day has the Uniswap ETH/DAI reserves shipped beside it.
BUILTIN_RESERVES: dict[str, str] = {
    "eth-2020-09-05": "uniswap-eth-dai-reserves-10min-09-05-2020.json",
    "eth-2021-01-21": "uniswap-eth-dai-reserves-10min-01-21-2021.json",
}
BUCKET_US = 600_000_000  # 10 minutes, as the price bars
FIELD = "market.venue_depth_usd"


def dai_reserves(series: str) -> list[float]:
    """The pool's DAI reserve in each 10-minute bar of the day ``series`` replays."""
    path = resolve_data_file(series, None, BUILTIN_RESERVES, FIELD, "reserves JSON file")
    try:
        dai = [float(row["DAI"]) for row in json.loads(read_data_text(path, str(path)))]
    except (ValueError, KeyError, TypeError) as exc:
        raise SeqlabError(f"not a reserves series: expected rows with 'DAI' "
                          f"({type(exc).__name__})", file=str(path), field=FIELD) from None
    if not dai or min(dai) <= 0:
        raise SeqlabError("reserves must be positive", file=str(path), field=FIELD)
    return dai


def venue_depth_usd(market: Market) -> float:
    """The venue's depth (both sides, USD) for this market: the replayed day's pool at
    ``start`` where its reserves ship and the scenario did not set a depth, otherwise
    ``market.venue_depth_usd``."""
    series = market.series
    if market.model != "replay" or series not in BUILTIN_RESERVES \
            or "venue_depth_usd" in market.model_fields_set:
        return market.venue_depth_usd
    dai = dai_reserves(series)
    return 2 * dai[min(int(market.start) // BUCKET_US, len(dai) - 1)]
