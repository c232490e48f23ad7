"""Who carries a loss beyond an account's margin (``[protocol.perps] bad_debt``).

When a position closes at a loss its margin cannot pay, someone else pays the rest; the
real protocols differ in who, and that decides which payer a run's bad debt lands on:

- ``insurance_then_pool``: the insurance fund pays what it can and the pool (the
  counterparty of every position) receives less by the rest: seqlab's long-standing rule,
  and Aave v3's (a deficit the Umbrella stakers cover first, the suppliers after);
- ``pool``: the pool alone, no insurance fund in between: Synthetix perps v2 (the SNX
  stakers' debt pool is every position's counterparty) and GMX v2 (an insolvent close
  leaves its unpaid cost in the GM pool);
- ``insurance_then_deleverage``: dYdX v4: the insurance fund first, then deleveraging:
  positions on the other side close against the bankrupt one at its bankruptcy price,
  so their owners give up the part of their gains the bankrupt account could not pay;
  what no offsetting account can take stays with the pool.

Deleveraging follows the v4-chain code (``x/clob/keeper/deleveraging.go``): the accounts
holding the opposite side are walked from a pseudo-random starting point (the chain draws
it from the block; seqlab takes the block time modulo their number, so a run stays
deterministic and draws from no random stream), each offsets up to its whole position,
and one that could not pay its share and stay solvent is skipped, as the chain skips
accounts whose bankruptcy prices do not overlap. In seqlab's pool-counterparty market the
bankrupt position has already closed against the pool at ``px``; an offsetting account's
units then close against the pool at ``px`` too, and it pays the pool its share of the
shortfall, which is exactly what closing those units at the bankruptcy price instead of
``px`` costs it. Shares are in proportion to units offset, rounded down, the last account
paying what is left, so the shares sum to the shortfall offset to the micro-USD.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from seqlab.ledger import Ledger


class DebtHost(Protocol):
    """What carrying a loss reads and moves in the perps market."""

    ledger: Ledger
    size: np.ndarray            # position per account (micro-units, signed)
    pool: int                   # ledger account of the counterparty pool
    insurance: int              # ledger account of the insurance fund
    log: Any                    # PerpsLog: bad debt and who carried it
    liquidation: Any            # ``locks(i)``: an account under auction is not offset

    @property
    def now(self) -> int: ...

    def balance(self, account: int) -> int: ...

    def preview_close(self, i: int, close: int, px: int | None = None) -> tuple[int, int]: ...

    def offset(self, j: int, units: int, px: int, pay: int) -> None: ...


class BadDebt:
    """Carries each loss beyond a margin by the scenario's rule; the market's log keeps
    what the insurance fund paid (``insurance_covered``), what deleveraged accounts paid
    (``deleveraged``) and what was left to the pool (``bad_debt``)."""

    def __init__(self, rule: str, p: DebtHost) -> None:
        self.insured = rule != "pool"
        self.deleverages = rule == "insurance_then_deleverage"
        self.p = p

    def carry(self, i: int, short: int, close: int, px: int) -> None:
        """Account ``i`` closed ``close`` units at ``px`` and lost ``short`` micro-USD more
        than its margin held: the fund, the offsetting accounts and the pool, by rule."""
        p = self.p
        if self.insured:
            covered = min(short, p.balance(p.insurance))
            p.ledger.transfer(p.insurance, p.pool, covered, "insurance")
            p.log.insurance_covered += covered
            short -= covered
        if short and self.deleverages:
            short -= self._deleverage(i, short, close, px)
        if short:
            p.log.bad_debt += short
            p.log.bad_debt_events.append((p.now, short))

    def _deleverage(self, i: int, short: int, close: int, px: int) -> int:
        """Offset account ``i``'s bankrupt ``close`` units against other accounts'
        opposite positions (never its own: a trade books its close and its opening as one
        change, so ``i`` may already hold the other side); returns what their owners paid
        (micro-USD, at most ``short``)."""
        p = self.p
        side = 1 if close > 0 else -1
        opposite = np.flatnonzero(p.size * side < 0)
        opposite = opposite[opposite != i]
        n = len(opposite)
        units, paid = abs(close), 0
        start = p.now % n if n else 0
        for k in range(n):
            j = int(opposite[(start + k) % n])
            take = min(abs(p.size.item(j)), units)
            pay = (short - paid) * take // units
            if not pay or p.liquidation.locks(j) or not self._solvent_after(j, -side * take,
                                                                          px, pay):
                continue
            p.offset(j, -side * take, px, pay)
            paid += pay
            units -= take
            if not units:
                break
        p.log.deleveraged += paid
        return paid

    def _solvent_after(self, j: int, units: int, px: int, pay: int) -> bool:
        """Whether account ``j`` can close ``units`` at ``px`` and pay ``pay`` from its
        margin with its equity still at or above zero (dYdX v4 offsets only where the
        two accounts' bankruptcy prices overlap)."""
        margin, equity = self.p.preview_close(j, units, px)
        return margin >= pay and equity >= pay
