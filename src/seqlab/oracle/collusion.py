"""Colluding oracle nodes: k of the feed's n nodes report a chosen price.

The feed posts the median of its nodes' reports, so a minority can only pull the median
to the most extreme honest report on its side: with k of n colluders reporting beyond
every honest node, the median is the honest report of rank ``(n + 1) / 2`` counted from
the colluders' side, a shift of the order of the nodes' observation noise however far
the colluders lie. Once the colluders are a majority the median is one of their own
reports and follows them exactly. Colluders replace their rows of the observation matrix
only inside the attack window, so the honest nodes' draws, and every run without
collusion, stay what they were.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from seqlab.scenario.schema import Collusion


def attack_window(cfg: Collusion, poll_times: np.ndarray) -> np.ndarray:
    """Which polls fall inside ``[start, start + duration)`` (duration 0: to the end)."""
    inside = poll_times >= cfg.start
    if cfg.duration:
        inside &= poll_times < cfg.start + cfg.duration
    return inside


def colluders_price(cfg: Collusion, reference_at: Callable[[np.ndarray], np.ndarray],
                    poll_times: np.ndarray) -> np.ndarray:
    """The price the colluders report at each poll (float USD)."""
    if cfg.price == "frozen":
        anchor = reference_at(np.array([cfg.start], dtype=np.int64))[0]
        return np.full(len(poll_times), float(anchor))
    return reference_at(poll_times) * (1.0 + cfg.offset_bps / 1e4)


def collude(observations: np.ndarray, cfg: Collusion,
            reference_at: Callable[[np.ndarray], np.ndarray],
            poll_times: np.ndarray) -> np.ndarray:
    """The nodes' reports: the first ``cfg.nodes`` rows report the colluders' price
    inside the attack window, every other report is the node's own observation."""
    if not cfg.nodes:
        return observations
    inside = attack_window(cfg, poll_times)
    reports = observations.copy()
    reports[: cfg.nodes, inside] = colluders_price(cfg, reference_at, poll_times[inside])
    return reports
