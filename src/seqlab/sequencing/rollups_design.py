"""The interface of a design for several rollups: how their sequencers relate.

A one-rollup design (``sequencing.base.Design``) orders one rollup's transactions. When a
world holds several rollups (``[rollups] count``), a second, registered choice says how
their sequencers relate (``[rollups] sequencing``): each its own (``isolated``), or one
sequencer ordering them all (``shared``). Sharing is orthogonal to the ordering rule,
so such a design does not replace the rollups' own designs; it meets them at three
points, each through public interfaces only:

- ``seat``: as each rollup is assembled, its design and its own draw of down windows
  are seated; the design for several rollups says which windows that rollup runs under
  (one sequencer: one outage for all) and may join the design to others (one consensus).
- ``connect``: once every rollup is built, it is handed each rollup's ``Seat`` (the
  rollup's design, its transactions and its market, nothing else) and the first of the
  accounts it asked for on every rollup (``accounts``), for an operator of its own.
- ``lead``: at every round, per rollup, the transactions that go first in the block
  produced now (a shared sequencer's cross-rollup bundle legs), or None.

Cross-rollup bundles go to ``bundles`` where a design takes them as one message; where
it has none (``None``) each leg goes to its own rollup's sequencer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, Sequence

import numpy as np

from seqlab.bundles import SharedBundles
from seqlab.scenario.schema import Rollups
from seqlab.sequencing.base import Design
from seqlab.txs import TxStore


class Book(Protocol):
    """What a design for several rollups may ask of one rollup's perps market: the state
    a transaction placed first in the next block would meet."""

    price: int
    fee_ppm: int

    def begin_block(self, t_us: int) -> None:
        """Bring the market to the start of the block at ``t_us``."""

    def quote(self, usd_delta: int) -> int:
        """The fill price a trade of ``usd_delta`` would get now."""

    def can_trade(self, i: int, usd_delta: int, limit: int, ahead: int = 0) -> bool:
        """Whether a trade would succeed now, behind ``ahead`` units of skew."""


class Seat(Protocol):
    """One rollup as a design for several rollups sees it once every rollup is built."""

    design: Design
    txs: TxStore
    protocol: Book


class RollupsDesign(ABC):
    """How the sequencers of several rollups relate; built from the ``[rollups]`` table.

    A factory refuses (``ValueError``, one sentence naming the setting) settings of
    ``[rollups]`` the design cannot run with; scenarios are checked that way on
    loading."""

    name: str = "abstract"
    #: accounts of its own it trades from, on every rollup (after the arbitrageurs')
    accounts: int = 0

    def __init__(self, cfg: Rollups) -> None:
        self.cfg = cfg
        self.seats: Sequence[Seat] = ()

    @property
    def bundles(self) -> SharedBundles | None:
        """Where cross-rollup bundles go as one message (None: leg by leg)."""
        return None

    def seat(self, design: Design, outages: np.ndarray) -> np.ndarray:
        """A rollup, assembled under ``design`` with its own draw of down windows
        ``outages``, takes its seat; returns the windows it runs under (its own, unless
        the sequencer is shared)."""
        return outages

    def connect(self, seats: Sequence[Seat], account: int) -> None:
        """Every rollup is built: ``seats`` in rollup order, and ``account``, the first of
        the ``accounts`` reserved for this design on every rollup."""
        self.seats = seats

    @abstractmethod
    def lead(self, now: int, up: Sequence[bool]) -> list[np.ndarray | None]:
        """Per rollup, the transactions that go first in its block at ``now`` (None:
        nothing), given which rollups' sequencers are up (``up``)."""
