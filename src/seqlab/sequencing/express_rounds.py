"""The record of a Timeboost run, round by round, and the figures it yields.

Each auctioned round keeps its bids, its winner and price, what the lane earned its
controller (``gross``: liquidation rewards and stale-price trade profit, before the
auction price and gas), the gas its express transactions cost and how many of them
reverted (over the run also by kind of transaction). ``metrics`` turns that into the figures the empirical studies report, so a
run can be set beside them: the top two searchers' share of wins and the spread between
first and second bids (Messias & Torres 2025; Blockworks Research), the revert share of
express transactions (Messias & Torres 2025), how bids follow the value realised just
before (Mamageishvili et al. 2025) and the auction revenue per day.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAY_US = 86_400_000_000


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, or None where it is undefined (too few or constant values)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return round(float(np.corrcoef(x, y)[0, 1]), 4)


@dataclass
class RoundBook:
    """Per-round columns (one entry per auction held)."""

    names: list[str]
    round_no: list[int] = field(default_factory=list)
    winner: list[int] = field(default_factory=list)      # -1: nobody reached the reserve
    price: list[float] = field(default_factory=list)     # USD paid (0 without a winner)
    top_bid: list[float] = field(default_factory=list)
    second_bid: list[float] = field(default_factory=list)
    reserve: list[float] = field(default_factory=list)
    gross: list[float] = field(default_factory=list)     # USD the controller realised
    gas: list[float] = field(default_factory=list)       # USD of express-lane gas
    express: list[int] = field(default_factory=list)     # express txs executed
    reverted: list[int] = field(default_factory=list)    # of which failed
    # over the run, by transaction kind ("liquidate", "trade", "close"): [executed, failed]
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    def open(self, round_no: int, bids: np.ndarray, reserve: float, winner: int | None,
             price: float) -> int:
        """A new round's auction; returns its index in the book."""
        valid = np.sort(bids[bids >= reserve])[::-1]
        self.round_no.append(round_no)
        self.winner.append(-1 if winner is None else winner)
        self.price.append(price)
        self.top_bid.append(float(valid[0]) if len(valid) else 0.0)
        self.second_bid.append(float(valid[1]) if len(valid) > 1 else 0.0)
        self.reserve.append(reserve)
        for col in (self.gross, self.gas):
            col.append(0.0)
        for col in (self.express, self.reverted):
            col.append(0)
        return len(self.round_no) - 1

    def executed(self, k: int, kind: str, failed: bool) -> None:
        """One of round ``k``'s express transactions has run, and reverted or not."""
        self.express[k] += 1
        self.reverted[k] += failed
        counts = self.by_kind.setdefault(kind, [0, 0])
        counts[0] += 1
        counts[1] += failed

    def net(self, k: int) -> float:
        """What round ``k``'s lane has earned its controller so far, after gas."""
        return self.gross[k] - self.gas[k]

    def metrics(self, horizon_us: int) -> dict:
        """The run's Timeboost figures (JSON-friendly)."""
        winner, price = np.array(self.winner, dtype=np.int64), np.array(self.price)
        gross, top = np.array(self.gross), np.array(self.top_bid)
        won = winner >= 0
        wins = np.bincount(winner[won], minlength=len(self.names))
        second = np.array(self.second_bid)
        two = second > 0
        spread = (top[two] - second[two]) / top[two]
        express, reverted = sum(self.express), sum(self.reverted)
        lagged = won[1:] & won[:-1]  # bids against the value realised the round before
        by = {n: {"wins": int(wins[i]),
                  "paid_usd": round(float(price[winner == i].sum()), 2),
                  "gross_usd": round(float(gross[winner == i].sum()), 2),
                  "gas_usd": round(float(np.array(self.gas)[winner == i].sum()), 2)}
              for i, n in enumerate(self.names)}
        return {
            "rounds": len(self.round_no),
            "rounds_won": int(won.sum()),
            "auction_paid_usd": round(float(price.sum()), 2),
            "controller_gross_usd": round(float(gross.sum()), 2),
            "express_gas_usd": round(float(sum(self.gas)), 2),
            "controller_net_usd": round(float(gross.sum() - sum(self.gas) - price.sum()), 2),
            "top2_win_share": round(float(np.sort(wins)[-2:].sum() / won.sum()), 4)
            if won.any() else None,
            "median_bid_spread": round(float(np.median(spread)), 4) if len(spread) else None,
            "express_txs": int(express),
            "express_revert_share": round(reverted / express, 4) if express else None,
            # arbitrage-like trades apart from liquidations: the published share is
            # measured on a lane used mostly for CEX-DEX arbitrage
            "express_revert_share_by_kind": {kind: round(failed / sent, 4) for kind, (sent, failed)
                                             in sorted(self.by_kind.items())},
            "bid_value_correlation": _corr(top[won], gross[won]),
            "bid_prev_value_correlation": _corr(top[1:][lagged], gross[:-1][lagged]),
            "auction_revenue_per_day_usd": round(float(price.sum()) * DAY_US / horizon_us, 2),
            "mean_reserve_usd": round(float(np.mean(self.reserve)), 4) if self.reserve
            else None,
            "by_searcher": by,
        }
