"""Push feed (Chainlink-style): n nodes observe, the median is posted on deviation or heartbeat.

The posting decision is computed over arrays before the run: node observations at every
poll, their median, then one pass that finds deviation and heartbeat triggers. Each
trigger becomes an oracle-update *transaction* that goes through the sequencer like any
other, so a sequencer can later delay or reorder it. Colluding nodes
(``seqlab.oracle.collusion``) replace their reports before the median is taken.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.oracle.collusion import collude
from seqlab.scenario.schema import Oracle


@dataclass(frozen=True)
class OracleUpdates:
    """Posting decisions: when each update is submitted and the price it carries."""

    submit_us: np.ndarray   # int64
    price_micro: np.ndarray  # int64, micro-USD per unit of the asset


def node_observations(reference_at, poll_times: np.ndarray, nodes: int, noise_bps: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Each node's noisy observation at each poll time (nodes × polls, USD)."""
    ref = reference_at(poll_times)
    noise = rng.standard_normal((nodes, len(poll_times))) * (noise_bps / 1e4)
    return ref[None, :] * (1.0 + noise)


def node_medians(cfg: Oracle, reference_at, times: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """The median of the nodes' reports at each time, colluders' reports included: what
    a push feed posts and a pull feed signs."""
    observed = node_observations(reference_at, times, cfg.nodes, cfg.noise_bps, rng)
    return np.median(collude(observed, cfg.collusion, reference_at, times), axis=0)


def trigger_indices(poll_times: np.ndarray, medians: np.ndarray, deviation: float,
                    heartbeat_us: int) -> np.ndarray:
    """Indices of polls at which an update is posted (the first poll always posts)."""
    out = [0]
    last_price = float(medians[0])
    last_time = int(poll_times[0])
    times = poll_times.tolist()
    values = medians.tolist()
    for i in range(1, len(values)):
        if abs(values[i] - last_price) > deviation * last_price or \
                times[i] - last_time >= heartbeat_us:
            out.append(i)
            last_price = values[i]
            last_time = times[i]
    return np.asarray(out, dtype=np.int64)


def push_feed_updates(cfg: Oracle, reference_at, duration_us: int,
                      rng: np.random.Generator) -> OracleUpdates:
    """All updates the feed decides to post during ``[0, duration_us)``."""
    poll_times = np.arange(0, duration_us, cfg.poll, dtype=np.int64)
    medians = node_medians(cfg, reference_at, poll_times, rng)
    idx = trigger_indices(poll_times, medians, cfg.deviation, cfg.heartbeat)
    prices = np.round(medians[idx] * 1e6).astype(np.int64)
    return OracleUpdates(poll_times[idx], prices)
