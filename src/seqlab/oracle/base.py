"""What the world needs from an oracle, whatever its kind.

A feed publishes signed prices (``publications``: when each was published and its
price) and says how they reach the chain. A push feed's nodes post their median
themselves when it moves past ``deviation`` or the heartbeat expires, so every
publication is an update transaction of its own. A pull feed publishes off-chain every
``publish_interval``; nothing reaches the chain until a user's order carries the latest
publication (``attached``), so its updates travel with the order flow. Either way the
updates are transactions the sequencer orders, and the protocol learns each update's
publish time, which its price rule (staleness, delayed orders) reads.

These four answers are all the world asks of a feed, so a new kind is a subclass of
``OracleKind`` registered by name (``seqlab.oracle.register``); the world never looks
at the kind's name.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from seqlab.oracle.pull import pull_publications
from seqlab.oracle.push import OracleUpdates, push_feed_updates
from seqlab.scenario.schema import Oracle

#: the reference price (float USD) at each of an array of times (µs)
ReferenceAt = Callable[[np.ndarray], np.ndarray]


class OracleKind(ABC):
    """One oracle kind, built on the scenario's ``[oracle]`` table, as the world wires it."""

    #: whether updates reach the chain only inside users' orders (pull), each carried by
    #: the first order sent after its publication; otherwise each publication is the
    #: feed's own transaction, submitted at its publish time
    attached: bool = False
    #: the setting ``interval`` reads (under ``[oracle]``), named when a run would take
    #: more of the feed's steps than it may
    interval_setting: str = "poll"

    def __init__(self, cfg: Oracle) -> None:
        self.cfg = cfg

    @property
    @abstractmethod
    def deviation(self) -> float:
        """The move (a fraction of the on-chain price) past which a bot watching the
        market expects the next update to carry a new price; 0: any move."""

    @property
    @abstractmethod
    def interval(self) -> int:
        """How often the feed looks at the market (µs): how often a watching bot
        forecasts what the next update will do."""

    @abstractmethod
    def publications(self, reference_at: ReferenceAt, duration_us: int,
                     rng: np.random.Generator) -> OracleUpdates:
        """Every price the feed signs during ``[0, duration_us)`` (publish times,
        increasing, and prices in micro-USD); ``rng`` is the run's ``oracle`` stream."""


class PushFeed(OracleKind):
    """Chainlink-style: the nodes post their median on deviation or heartbeat."""

    @property
    def deviation(self) -> float:
        return self.cfg.deviation

    @property
    def interval(self) -> int:
        return self.cfg.poll

    def publications(self, reference_at: ReferenceAt, duration_us: int,
                     rng: np.random.Generator) -> OracleUpdates:
        return push_feed_updates(self.cfg, reference_at, duration_us, rng)


class PullFeed(OracleKind):
    """Pyth-style: a median signed every ``publish_interval``, carried by the orders.
    The next carried price is simply the latest, so any move makes it a new one."""

    attached = True
    interval_setting = "publish_interval"

    @property
    def deviation(self) -> float:
        return 0.0

    @property
    def interval(self) -> int:
        return self.cfg.publish_interval

    def publications(self, reference_at: ReferenceAt, duration_us: int,
                     rng: np.random.Generator) -> OracleUpdates:
        return pull_publications(self.cfg, reference_at, duration_us, rng)
