"""What every builder expects from the next block, valued for all builders at once.

Each builder values the block it would build from what it has seen (``Builder.value``,
the one-builder definition). Valued builder by builder, every tick repeats the same
reads for each of them: the tips, kinds and amounts of the same eligible transactions,
the accounts liquidatable at the same coming price, the price impact of the same large
orders. Here those are read once per block for all of the eligible transactions, and
each builder's value is assembled from its own column of the ``seen`` matrix: the same
numbers, added in the same order, so the bids are bit for bit those of
``Builder.value``. Builders that have seen the same top-ups find the same accounts to
censor, and those that have seen the same large trades the same victims to sandwich,
so those parts are computed once per distinct view.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from seqlab.arrays import member
from seqlab.protocols.perps import PPM
from seqlab.sequencing.builder import Builder, liquidation_bonus
from seqlab.sequencing.stale_size import known_fill, stale_profit_usd
from seqlab.txs import KindInt


def block_values(members: Sequence[Builder], eligible: np.ndarray,
                 seen: np.ndarray) -> np.ndarray:
    """Each builder's ``value`` of the block it would build (USD, float64), builder
    ``i`` from ``eligible[seen[:, i]]``: the array
    ``[m.value(eligible[seen[:, i]]) for i, m in enumerate(members)]``."""
    view = members[0].view
    values = (view.txs.tip(eligible) @ seen).astype(np.float64) / PPM
    p = view.protocol
    if not p.price:
        return values
    seen_any = [True in col for col in seen.T.tolist()]  # a handful of rows: no reduction
    active = [i for i, m in enumerate(members) if m.operator is not None and seen_any[i]]
    if not active:
        return values
    kind, payload = view.kind(eligible), view.payload(eligible)
    gains = _only_sandwiches(p, members[0].params, kind, payload)
    if gains is not None and True not in (gains[0] > 0).tolist():
        return values  # every strategy's part is 0.0, and x + 0.0 is x for tips >= 0
    shared = _Block(members[0], eligible, seen, kind, payload, gains)
    for i in active:
        m, col = members[i], seen[:, i]
        run = m.operator.strategies
        value = float(values[i])
        update = shared.last_update[i]
        price = int(shared.payload[update]) if update >= 0 else p.price
        if "backrun" in run and update >= 0:
            value += shared.backrun(price)
        elif "censor" in run:  # accounts whose visible top-up it can hold until liquidatable
            value += shared.censor(price, col)
        if "stale_oracle" in run and update >= 0:
            value += stale_profit_usd(p, m.view.accounts.stale, price, known_fill(p),
                                      m.params)
        if "sandwich" in run and p.scale_units:
            value += shared.sandwich(col)
        values[i] = value
    return values


class _Block:
    """One block's transactions as the builders valuing it read them, each read made
    once and only when a builder's strategies ask for it (builders' own accounts
    differ; the users' accounts, the transactions and the protocol are shared)."""

    def __init__(self, m: Builder, eligible: np.ndarray, seen: np.ndarray,
                 kind: np.ndarray, payload: np.ndarray,
                 gains: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.view, self.params, self.eligible = m.view, m.params, eligible
        self.kind, self.payload = kind, payload  # ``eligible``'s, as the view reads them
        self.last_update = _last_seen(self.kind == KindInt.ORACLE, seen)
        self._targets: dict[int, np.ndarray] = {}
        self._backrun: dict[int, float] = {}
        self._topups: tuple[np.ndarray, np.ndarray] | None = None
        self._gains = gains  # the sandwich gains, once worked out
        self._censor: dict[tuple[int, bytes], float] = {}  # by price and top-ups seen
        self._sandwich: dict[bytes, float] = {}  # by the large trades seen

    def targets(self, price: int) -> np.ndarray:
        """User accounts liquidatable at ``price``."""
        if price not in self._targets:
            p = self.view.protocol
            self._targets[price] = self.view.user_accounts(p.liquidatable(price))
        return self._targets[price]

    def backrun(self, price: int) -> float:
        """The bonuses of every user account liquidatable at ``price`` (USD)."""
        if price not in self._backrun:
            self._backrun[price] = liquidation_bonus(self.view.protocol, price,
                                                     self.targets(price))
        return self._backrun[price]

    def censor(self, price: int, col: np.ndarray) -> float:
        """The bonuses of the accounts liquidatable at ``price`` whose top-up the builder
        with visibility ``col`` has seen (it can hold it until they are), USD."""
        at_risk = self.targets(price)
        if not len(at_risk):
            return 0.0
        if self._topups is None:
            rows = self.kind == KindInt.TOPUP
            self._topups = rows, self.view.origin(self.eligible[rows])
        rows, senders = self._topups
        key = price, col[rows].tobytes()
        if key not in self._censor:
            self._censor[key] = liquidation_bonus(
                self.view.protocol, price, at_risk[member(at_risk, senders[col[rows]])])
        return self._censor[key]

    def sandwich(self, col: np.ndarray) -> float:
        """What sandwiching the large trades the builder with visibility ``col`` has
        seen would earn (USD): each trade's gain, at least 0, summed in block order."""
        if self._gains is None:
            self._gains = _sandwich_gains(self.view.protocol, self.params, self.kind,
                                         self.payload)
        gains, big = self._gains
        if not len(gains):
            return 0.0
        key = col[big].tobytes()
        if key not in self._sandwich:
            self._sandwich[key] = float(gains[col[big]].sum())
        return self._sandwich[key]


def _sandwich_gains(p, params, kind: np.ndarray, payload: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """What sandwiching each large trade of a block (``kind``, ``payload``: its kinds and
    amounts as the view reads them) would earn on market ``p`` (USD, at least 0), in
    block order, and which of the block's transactions those trades are."""
    is_trade = kind == KindInt.TRADE
    if True not in is_trade.tolist():  # a list test: no array reduction
        return np.empty(0), is_trade
    trades, big = _large_trades(kind, payload, params)
    if True not in big.tolist():
        return np.empty(0), big
    units = trades[big] * PPM / p.price  # micro-units of the asset
    size = params.sandwich_size_usd
    gain = size * units / p.scale_units - 2 * p.fee_ppm / PPM * size
    return np.maximum(gain, 0.0), big  # clip at 0 (np.clip's wrapper costs more)


def _large_trades(kind: np.ndarray, payload: np.ndarray, params) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Each transaction's amount as a float, and which are trades large enough to
    sandwich (``params.sandwich_min_usd``)."""
    trades = np.abs(payload).astype(np.float64)
    return trades, (kind == KindInt.TRADE) & (trades >= params.sandwich_min_usd * PPM)


def _only_sandwiches(p, params, kind: np.ndarray, payload: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """Where a block holds no oracle update (backrun, stale price) and no top-up
    (censor), a sandwich is all a strategy could take from it: its gains
    (``_sandwich_gains``, at the builders' shared ``params``; none where the market has
    no price impact). None where an update or a top-up is there. Most blocks hold
    neither, and their sandwiches earn nothing: they skip the per-builder valuation,
    whose parts would all be 0.0."""
    kinds = kind.tolist()
    if KindInt.ORACLE in kinds or KindInt.TOPUP in kinds:
        return None
    if KindInt.TRADE not in kinds or not p.scale_units:
        return np.empty(0), np.zeros(len(kinds), dtype=bool)
    return _sandwich_gains(p, params, kind, payload)


def _last_seen(updates: np.ndarray, seen: np.ndarray) -> list[int]:
    """Per builder, the eligible row of the last update (``updates``: which rows are
    oracle updates) it has seen; -1 where it has seen none."""
    if True not in updates.tolist():  # a list test: no array reduction
        return [-1] * seen.shape[1]
    rows = np.flatnonzero(updates)
    seen_updates = seen[rows]
    last = rows[len(rows) - 1 - np.argmax(seen_updates[::-1], axis=0)]
    return np.where(seen_updates.any(axis=0), last, -1).tolist()
