"""Selection policies: which service sequences the rollup, asked as the services change.

A policy is anything with ``choose(state) -> service name``. It is asked at the start,
whenever a service goes down or comes back, and when the service in use has been
silent for the market's ``timeout``; the answer is the service the rollup should use
from then on (the one in use: stay). ``register_policy`` makes a policy written outside
seqlab selectable by name in a scenario.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

import numpy as np

from seqlab.outages import REAL_OUTAGES_US
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.units import DAY


@dataclass(frozen=True)
class State:
    """What a policy sees when asked."""

    now: int                       # µs since the start of the run
    current: str | None            # the service in use (None: the first choice)
    silent_us: int                 # how long the service in use has produced no block
    up: Mapping[str, bool]         # which services are producing blocks now
    services: tuple[Service, ...]  # the offers, in the scenario's order
    timeout: int                   # the market's timeout (µs)
    vol: float = 0.0               # the reference's realised volatility (policies that watch it)
    home: str | None = None        # the service this rollup ranks first (``spread``)


class Policy(Protocol):
    """Choose the service to use from now on."""

    def choose(self, state: State) -> str:
        """The name of the service to use (``state.current`` to stay)."""


PolicyFactory = Callable[[SequencingMarket], Policy]


def scores(services: tuple[Service, ...] | list[Service], cfg: SequencingMarket
           ) -> np.ndarray:
    """Each offer's weighted score: every term scaled to 0..1 across the offers (best 1):
    lower latency, lower price (a block's price plus a typical block of ten
    transactions), more colluders needed to censor (``faulty + 1`` of ``nodes``), less
    expected downtime (the outage rate times the mean real outage, per day). Scheduled
    outages are the scenario's events, not part of the offer: no policy foresees them."""
    mean_outage = float(REAL_OUTAGES_US.mean())
    terms = np.array([[-s.latency,
                       -(s.price_per_block_usd + 10 * s.price_per_tx_usd),
                       (s.faulty + 1) / s.nodes if s.nodes > 1 else 0.0,
                       -s.outage_rate_per_day * mean_outage / DAY]
                      for s in services], dtype=np.float64)
    span = terms.max(axis=0) - terms.min(axis=0)
    scaled = np.where(span > 0, (terms - terms.min(axis=0)) / np.where(span > 0, span, 1),
                      1.0)
    w = cfg.weights
    return scaled @ np.array([w.latency, w.price, w.resistance, w.reliability])


def ranking(services: tuple[Service, ...] | list[Service], cfg: SequencingMarket,
            home: str | None = None) -> list[str]:
    """Service names, best score first (ties: the scenario's order); ``home``, the
    service a rollup was spread onto, first of all."""
    s = scores(services, cfg)
    names = [services[k].name for k in np.argsort(-s, kind="stable")]
    return names if home is None else [home] + [n for n in names if n != home]


class StaticPolicy:
    """Always the best-scoring offer (the rollup's home, when spread): the choice a
    rollup makes once, by its weights."""

    def __init__(self, cfg: SequencingMarket) -> None:
        self.cfg = cfg

    def choose(self, state: State) -> str:
        return ranking(state.services, self.cfg, state.home)[0]


class FailoverPolicy:
    """Start with the rollup's home (when spread), else the first service of ``order``
    (or the best-scoring); when the one in use has produced no block for ``timeout``,
    move to the next in that order that is producing (none: stay). It does not move
    back: every switch costs a delay."""

    def __init__(self, cfg: SequencingMarket) -> None:
        self.cfg = cfg

    def choose(self, state: State) -> str:
        order = list(self.cfg.order) or ranking(state.services, self.cfg)
        if state.home is not None:
            order = [state.home] + [n for n in order if n != state.home]
        order += [s.name for s in state.services if s.name not in order]
        if state.current is None:
            return order[0]
        if state.silent_us < state.timeout:
            return state.current
        k = order.index(state.current)
        for name in order[k + 1:] + order[:k]:
            if state.up[name]:
                return name
        return state.current


POLICIES: dict[str, PolicyFactory] = {"static": StaticPolicy, "failover": FailoverPolicy}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make ``factory(market config) -> policy`` selectable as ``policy = name``."""
    if name in POLICIES:
        raise ValueError(f"policy '{name}' is already registered")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"policy names are letters, digits, '-' and '_' (got '{name}')")
    POLICIES[name] = factory


def make_policy(name: str, cfg: SequencingMarket) -> Policy:
    """The policy named ``name`` for this market."""
    return POLICIES[name](cfg)
