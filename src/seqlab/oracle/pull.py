"""Pull oracle (Pyth / Chainlink Data Streams style): prices signed off-chain, carried
on-chain by the orders that need them.

Publishers' observations are aggregated (the median, as for the push feed's nodes,
colluders included) and signed every ``publish_interval`` whether or not anyone reads
them. A trader's client
fetches the latest signed price when it sends an order and the order carries it: the
contract verifies it and keeps it if it is newer than the stored one. Here that is one
update transaction per publication, carried by the first order sent after it was
published, arriving with that order and ordered just ahead of it; orders sent before the
next publication carry the same price and add nothing.
"""
from __future__ import annotations

import numpy as np

from seqlab.oracle.push import OracleUpdates, node_medians
from seqlab.scenario.schema import Oracle


def pull_publications(cfg: Oracle, reference_at, duration_us: int,
                      rng: np.random.Generator) -> OracleUpdates:
    """Every signed price in ``[0, duration_us)``: one per ``publish_interval``."""
    times = np.arange(0, duration_us, cfg.publish_interval, dtype=np.int64)
    medians = node_medians(cfg, reference_at, times, rng)
    return OracleUpdates(times, np.round(medians * 1e6).astype(np.int64))


def carried(publish_us: np.ndarray, order_submit_us: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Which orders carry a new price, and which publication each carries.

    Returns ``(orders, pubs)``: indices into ``order_submit_us`` (the first order sent
    after each publication, before the next) and into ``publish_us``. Orders are taken in
    submission order, however they are stored.
    """
    by_time = np.argsort(order_submit_us, kind="stable")
    latest = np.searchsorted(publish_us, order_submit_us[by_time], side="right") - 1
    seen = latest >= 0
    by_time, latest = by_time[seen], latest[seen]
    pubs, first = np.unique(latest, return_index=True)
    return by_time[first], pubs
