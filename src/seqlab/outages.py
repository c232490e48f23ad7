"""Sequencer outages: scheduled windows, or random ones drawn from real incidents.

While the sequencer is down nothing is sequenced and the market keeps moving. What
happens to the transactions sent meanwhile is the scenario's ``[sequencer] while_down``:
``"reject"`` (the real systems: a stalled sequencer's RPC fails them, and their senders
act again once the chain is back; ``seqlab.rollup.chain``) or ``"queue"`` (they wait on
the network and the whole backlog is sequenced at the restart, in arrival order). Random
outages arrive as a Poisson process and last as long as a real outage picked at random:
Arbitrum 2022-01-09 (about 7 h), Arbitrum 2023-12-15 (about 80 min), Optimism
2024-02-15 (about 2 h), Base 2025-08-05 (33 min).
"""
from __future__ import annotations

import numpy as np

from seqlab.scenario.schema import Sequencer
from seqlab.units import DAY, HOUR, MINUTE, ceil_to

REAL_OUTAGES_US = np.array([7 * HOUR, 80 * MINUTE, 2 * HOUR, 33 * MINUTE], dtype=np.int64)


def outage_windows(cfg: Sequencer, horizon_us: int, rng: np.random.Generator,
                   scheduled: bool = True) -> np.ndarray:
    """Sorted, merged ``(start, end)`` windows (µs) within the run; ``scheduled=False``
    leaves out the scenario's scheduled outages (a second isolated sequencer's)."""
    windows = [(o.start, o.start + o.duration) for o in cfg.outages] if scheduled else []
    if cfg.outage_rate_per_day > 0:
        n = rng.poisson(cfg.outage_rate_per_day * horizon_us / DAY)
        starts = np.sort(rng.integers(0, horizon_us, n))
        durations = rng.choice(REAL_OUTAGES_US, n)
        windows += list(zip(starts.tolist(), (starts + durations).tolist()))
    return merge_windows(windows)


def merge_windows(windows: list[tuple[int, int]]) -> np.ndarray:
    """``(start, end)`` windows sorted and merged where they touch or overlap (empty
    ones dropped)."""
    merged: list[list[int]] = []
    for start, end in sorted(windows):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64).reshape(-1, 2)


def down_until(windows: np.ndarray, t_us: int) -> int | None:
    """End of the outage covering ``t_us`` (None when the sequencer is up)."""
    k = int(windows[:, 0].searchsorted(t_us, side="right")) - 1
    if k >= 0 and t_us < windows[k, 1]:
        return int(windows[k, 1])
    return None


def inside(windows: np.ndarray, t_us: np.ndarray) -> np.ndarray:
    """Which of the times ``t_us`` fall in a down window (``start <= t < end``)."""
    if not len(windows):
        return np.zeros(len(t_us), dtype=bool)
    k = windows[:, 0].searchsorted(t_us, side="right") - 1
    return (k >= 0) & (t_us < windows[k.clip(0), 1])


def in_grace(windows: np.ndarray, t_us: int, grace_us: int) -> bool:
    """Whether ``t_us`` falls in the grace period after a restart (or in an outage)."""
    if not len(windows) or grace_us <= 0:
        return False
    k = int(windows[:, 0].searchsorted(t_us, side="right")) - 1
    return k >= 0 and t_us < windows[k, 1] + grace_us


def uptime_feed(windows: np.ndarray, l1_block_us: int, inbox_delay_us: int = 0
                ) -> np.ndarray:
    """Down windows as the L2 sequencer uptime feed reports them (Chainlink-style).

    The feed is written by an L1 transaction relayed to L2 through the delayed inbox
    (``seqlab.rollup.inbox``), the path a user's L1 message takes: the "up" report lands
    in the first L1 block after the restart and the restarted sequencer includes it
    ``inbox_delay_us`` later; the grace period counts from there.
    """
    if not len(windows):
        return windows
    up = ceil_to(windows[:, 1], l1_block_us) + inbox_delay_us
    return np.column_stack((windows[:, 0], up)).astype(np.int64)
