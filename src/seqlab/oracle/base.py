"""What the world needs from an oracle, whatever its kind.

A feed publishes signed prices (``publications``: when each was published and its
price) and says how they reach the chain. A push feed's nodes post their median
themselves when it moves past ``deviation`` or the heartbeat expires, so every
publication is an update transaction of its own. A pull feed publishes off-chain every
``publish_interval``; nothing reaches the chain until a user's order carries the latest
publication (``attached``), so its updates travel with the order flow. Either way the
updates are transactions the sequencer orders, and the protocol learns each update's
publish time, which its price rule (staleness, delayed orders) reads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.oracle.pull import pull_publications
from seqlab.oracle.push import OracleUpdates, push_feed_updates
from seqlab.scenario.schema import Oracle


@dataclass(frozen=True)
class Feed:
    """One oracle kind, as the world wires it."""

    cfg: Oracle

    @property
    def kind(self) -> str:
        return self.cfg.kind

    @property
    def attached(self) -> bool:
        """Whether updates reach the chain only inside users' orders (pull)."""
        return self.cfg.kind == "pull"

    @property
    def deviation(self) -> float:
        """The move past which a watcher expects the next update to carry a new price:
        the push feed's threshold; a pull feed's next carried price is simply the latest,
        so any move."""
        return self.cfg.deviation if self.cfg.kind == "push" else 0.0

    @property
    def interval(self) -> int:
        """How often the feed looks at the market (µs): the push nodes' poll, the pull
        feed's publishing interval."""
        return self.cfg.poll if self.cfg.kind == "push" else self.cfg.publish_interval

    def publications(self, reference_at, duration_us: int,
                     rng: np.random.Generator) -> OracleUpdates:
        """Every price the feed signs during ``[0, duration_us)`` (publish time, price)."""
        if self.cfg.kind == "push":
            return push_feed_updates(self.cfg, reference_at, duration_us, rng)
        return pull_publications(self.cfg, reference_at, duration_us, rng)
