"""One block builder of a proposer-builder separation: its own accounts, strategies,
view of the order flow and books.

A builder is an independent party. It trades and liquidates from accounts of its own
(``OperatorAccounts.builders``), so what it extracts is its profit alone; it runs only
the strategies of its kind (``honest``: none, it only orders what it sees by arrival;
``extractive``: every strategy the scenario switches on, like a builder integrated with
searchers; one strategy name: a specialised builder); and it keeps its own strategy
state, so what it holds back is held only in the blocks it wins.

Before the auction a builder values the block it would build from what it has seen:
the priority fees it would collect as the block's fee recipient, plus what its
strategies expect from the visible opportunities (liquidation bonuses an oracle update
unlocks, the stale-price edge of the update, the price impact of large orders). The
estimate reads state and transactions only; it creates nothing, so losing builders
leave no trace in the chain.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.arrays import member
from seqlab.protocols.liquidation import first_close, liquidator_pay
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.scenario.schema import Strategy
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.stale_size import known_fill, stale_profit_usd
from seqlab.sequencing.strategies import Operator
from seqlab.txs import Kind, KindInt

# strategies whose plans leave transactions out of the block: the builders that censor
HOLDING = frozenset({"censor", "stale_oracle"})


@dataclass
class Builder:
    """Builder ``index`` of kind ``kind`` running ``strategies`` from its own accounts."""

    index: int
    kind: str
    strategies: tuple[str, ...]
    params: Strategy
    operator: Operator | None = None
    view: OperatorView | None = None
    wins: int = 0
    paid_micro: int = 0       # bids paid to the proposer
    tips_micro: int = 0       # priority fees its won blocks offered (it is their recipient)
    held_blocks: int = 0      # won blocks in which it left out something it had seen

    def __post_init__(self) -> None:
        if self.strategies:
            self.operator = Operator(self.params, self.strategies)

    @property
    def censors(self) -> bool:
        """Whether its strategies hold transactions back."""
        return bool(HOLDING & set(self.strategies))

    def attach(self, view: OperatorView) -> None:
        """Its view of the chain: the shared one with its own accounts."""
        self.view = view
        if self.operator is not None:
            self.operator.attach(view)

    def build(self, seen: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        """Its block from the eligible transactions it has seen (arrival order)."""
        if self.operator is None:
            return seen
        return self.operator.plan(seen, arrival, now)

    def closing(self, pending: np.ndarray, now: int) -> list[int]:
        """Its closing trade, sent to the public flow, when a stale-price position it
        opened lost its update to a rival's block (it held the update and lost the next
        auction): the rival executed the update, so the gain is there to take, and the
        position must not stay open as a bet on the next move."""
        if self.operator is None or not self.operator.forget_executed(pending):
            return []
        return [self.view.insert(Kind.CLOSE, self.view.accounts.stale, now)]

    def value(self, visible: np.ndarray) -> float:
        """USD it expects from the block it would build out of ``visible``."""
        v = self.view
        if not len(visible):
            return 0.0
        value = float(v.txs.tip(visible).sum()) / PPM
        p = v.protocol
        if self.operator is None or not p.price:
            return value
        run = self.operator.strategies
        kind = v.kind(visible)
        updates = visible[kind == KindInt.ORACLE]
        price = int(v.payload(updates[-1:])[0]) if len(updates) else p.price
        if "backrun" in run and len(updates):
            value += liquidation_bonus(p, price, v.user_accounts(p.liquidatable(price)))
        elif "censor" in run:  # accounts whose visible top-up it can hold until liquidatable
            topups = v.origin(visible[kind == KindInt.TOPUP])
            targets = v.user_accounts(p.liquidatable(price))
            value += liquidation_bonus(p, price, targets[member(targets, topups)])
        if "stale_oracle" in run and len(updates):
            value += stale_profit_usd(p, v.accounts.stale, price, known_fill(p), self.params)
        if "sandwich" in run and p.scale_units:
            trades = np.abs(v.payload(visible[kind == KindInt.TRADE])).astype(np.float64)
            big = trades >= self.params.sandwich_min_usd * PPM
            units = trades[big] * PPM / p.price  # micro-units of the asset
            size = self.params.sandwich_size_usd
            gain = size * units / p.scale_units - 2 * p.fee_ppm / PPM * size
            value += float(np.clip(gain, 0, None).sum())
        return value

    def extracted_micro(self, values: np.ndarray, capital_micro: int) -> float:
        """What its strategies made (micro-USD): its liquidators' bonuses and its two
        trading accounts' gain on their capital (``values``: accounts marked to market)."""
        p, own = self.view.protocol, self.view.accounts
        bonuses = sum(int(p.ledger.balances[p.liquidator_account[who]])
                      for who in (own.backrun, own.censor))
        return bonuses + float(values[own.stale] + values[own.sandwich]) - 2 * capital_micro


def liquidation_bonus(p: PerpsProtocol, price: int, accounts: np.ndarray) -> float:
    """Liquidation bonuses of ``accounts`` at ``price`` (USD), the way a builder's
    liquidations collect them: the close factor's share first, then the rest; each
    closing realizes its part of the loss, and a bonus is paid out of what margin is
    left."""
    if not len(accounts):
        return 0.0
    equity, notional = p.margin_state(price)
    margin = p.ledger.balances[p.margin[accounts]].astype(np.float64)
    loss = np.clip(margin - equity[accounts], 0, None)
    first = first_close(p.cfg)
    total = np.zeros(len(accounts))
    for part in (first, 1 - first) if first < 1 else (1.0,):
        margin = margin - part * loss
        pay = liquidator_pay(p.cfg, part * notional[accounts])
        paid = np.clip(np.minimum(pay, margin), 0, None)
        margin, total = margin - paid, total + paid
    return float(total.sum()) / PPM
