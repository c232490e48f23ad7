"""Sequencing services: which designs can be sold, how each runs, when each is down.

The built-in offers (``seqlab.scenario.offers``, sources in docs/market.md) stand for a
rollup's own centralized sequencer (Arbitrum-style FCFS or OP Stack-style priority
ordering), Arbitrum's Timeboost, a BFT committee (Espresso-style) and a
threshold-encrypted mempool (Shutter-style). Reliability is an outage process: scheduled
windows, or outages drawn at a rate from the real incidents of ``seqlab.outages``.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import derived_seed
from seqlab.outages import outage_windows
from seqlab.scenario.schema import Sequencer, SequencingMarket, Service
from seqlab.sequencing import check_design


def check_services(cfg: SequencingMarket, file: str | None = None) -> list[Service]:
    """The services, checked: each names a known design (any design can be sold as a
    service: fair ordering's gossip follows the service in use, and the world opens
    accounts for the builders of the service that runs the most)."""
    for k, svc in enumerate(cfg.services):
        check_design(svc.design, f"sequencing_market.services[{k}].design", file)
    return list(cfg.services)


def service_sequencer(base: Sequencer, svc: Service) -> Sequencer:
    """The ``[sequencer]`` table the service's design runs with: its design and capacity,
    and, for a committee or an encrypted mempool, its node count."""
    update: dict = {"design": svc.design, "max_txs_per_block": svc.capacity}
    if svc.design == "committee":
        update["committee"] = base.committee.model_copy(update={"nodes": svc.nodes})
    if svc.design == "encrypted":
        update["encrypted"] = base.encrypted.model_copy(
            update={"keypers": svc.nodes, "threshold": min(base.encrypted.threshold,
                                                           svc.nodes)})
    return base.model_copy(update=update)


def sold_sequencer(seq: Sequencer, epoch_us: int) -> Sequencer:
    """A service's ``[sequencer]`` when the rollup sells its rights epoch by epoch: a
    based service's preconfers know which slots it holds, the epochs sold so far, one
    ahead, so they look no further ahead than one epoch's slots. With the beacon chain's
    32-slot lookahead they would promise into slots the rollup has not sold them, and
    every proposer before such a preconfer would wait for it."""
    if seq.design != "based":
        return seq
    slots = max(1, epoch_us // seq.l1_block_time)
    based = seq.based.model_copy(update={"lookahead": min(seq.based.lookahead, slots)})
    return seq.model_copy(update={"based": based})


def service_windows(svc: Service, base: Sequencer, horizon_us: int, seed: int) -> np.ndarray:
    """The service's down windows: its scheduled outages and those drawn at its rate,
    from a stream of its own (the same for every rollup that buys from it)."""
    cfg = base.model_copy(update={"outages": svc.outages,
                                  "outage_rate_per_day": svc.outage_rate_per_day})
    rng = np.random.default_rng(derived_seed(seed, f"seqmarket/{svc.name}"))
    return outage_windows(cfg, horizon_us, rng)
