"""A shared sequencer's cross-rollup bundles: atomic inclusion, and optionally execution.

A bundle (one leg per rollup) reaches the shared sequencer as one message and its legs
go at the top of each leg's rollup block, one bundle per rollup per round (later bundles
wait a round), so the state a leg meets is exactly that rollup's state at the block's
start. What happens next is ``rollups.bundle_execution``:

- ``inclusion`` (Espresso's and Astria's guarantee): every leg is included; each executes
  on its own rollup against that rollup's state and may revert there while the other
  fills. Sequencing is shared, execution is not: nothing links the rollups' state
  transitions.
- ``atomic``: the sequencer checks every leg against the exact state it will meet and
  includes the bundle only if all would succeed; otherwise no leg is included. This is
  a stronger promise than a shared sequencer makes today (it needs the sequencer to
  execute every rollup, as a shared builder would).

An extractive shared operator (``rollups.operator``) may put its own trades ahead of a
bundle's legs (``seqlab.cross_operator``); an atomic check then accounts for them.
"""
from __future__ import annotations

import heapq

import numpy as np

from seqlab.cross_operator import CrossRollupOperator
from seqlab.txs import Kind, Status

Legs = list[tuple[int, int]]  # (rollup, tx) per leg


class SharedBundles:
    """The bundles waiting at a shared sequencer for ``chains``."""

    def __init__(self, chains: list, atomic: bool,
                 operator: CrossRollupOperator | None = None) -> None:
        self.chains, self.atomic, self.operator = chains, atomic, operator
        self._queue: list[tuple[int, int, Legs]] = []
        self.sent = 0
        self.included = 0  # bundles whose legs all went into blocks
        self.dropped = 0   # bundles the atomic check refused whole

    def submit(self, arrival_us: int, legs: Legs) -> None:
        """A bundle that reaches the sequencer at ``arrival_us``."""
        self.sent += 1
        heapq.heappush(self._queue, (arrival_us, self.sent, legs))

    def top_of_blocks(self, now: int) -> list[np.ndarray | None]:
        """Per rollup, the txs that go first in its block at ``now``: at most one bundle's
        leg each (after the operator's copy ahead of it, if any)."""
        lead: list[list[int]] = [[] for _ in self.chains]
        waiting = []
        while self._queue and self._queue[0][0] <= now:
            item = heapq.heappop(self._queue)
            legs = item[2]
            if any(lead[k] for k, _ in legs):
                waiting.append(item)
                continue
            ahead = self.operator.front_run(legs, now) if self.operator is not None else {}
            for k, (tx, _) in ahead.items():
                lead[k].append(tx)
            if self.atomic and not all(self._leg_ok(k, tx, now, ahead.get(k, (0, 0))[1])
                                       for k, tx in legs):
                self.dropped += 1
                for k, tx in legs:
                    self.chains[k].txs.status[tx] = Status.FAILED
                continue
            self.included += 1
            for k, tx in legs:
                lead[k].append(tx)
        for item in waiting:
            heapq.heappush(self._queue, item)
        return [np.array(ids, dtype=np.int64) if ids else None for ids in lead]

    def _leg_ok(self, k: int, tx: int, now: int, ahead: int) -> bool:
        """Whether leg ``tx`` would execute at the top of rollup ``k``'s block at ``now``,
        behind ``ahead`` units some earlier trade adds to the skew."""
        chain = self.chains[k]
        chain.protocol.begin_block(now)
        txs = chain.txs
        assert txs.kind[tx] == Kind.TRADE
        return chain.protocol.can_trade(int(txs.sender[tx]), int(txs.a[tx]), int(txs.b[tx]),
                                        ahead)
