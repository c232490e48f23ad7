"""What a liquidation mechanism may use of the protocol it liquidates for.

Mechanisms (fixed bonus, per-block caps, Dutch auctions) are plugged into a protocol,
so they depend on this narrow interface rather than on the protocol's module: the
protocol imports its mechanisms, never the other way round.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from seqlab.ledger import Ledger
from seqlab.scenario.schema import Perps


class LiquidationHost(Protocol):
    """The account state and the value-moving helpers a liquidation needs."""

    cfg: Perps
    ledger: Ledger
    size: np.ndarray            # position per account (micro-units, signed)
    price: int                  # on-chain price (micro-USD)
    insurance: int              # ledger account of the insurance fund
    pool: int                   # ledger account of the counterparty pool
    liquidator_account: list[int]
    bonus_ppm: int
    close_ppm: int
    mm_ppm: int
    log: Any                    # PerpsLog: bad debt booked so far

    def balance(self, account: int) -> int: ...

    def equity(self, i: int) -> int: ...

    def underwater(self, who: np.ndarray) -> np.ndarray: ...

    def notional(self, size: int) -> int: ...

    def is_liquidatable(self, i: int) -> bool: ...

    def close_for_liquidation(self, i: int, close: int, px: int | None = None) -> int: ...

    def preview_close(self, i: int, close: int) -> tuple[int, int]: ...

    def pay_from_margin(self, i: int, to: int, amount: int, reason: str) -> int: ...

    def log_liquidation(self, t: int, block: int, i: int, liquidator: int, closed: int,
                        reward: int) -> None: ...
