"""What a bidder for a rollup's sequencing rights has learnt from the run.

A bidder's starting forecast of an epoch is its design's take on ``default`` scaled by
the square of volatility (``seqmarket/auction.py``); nothing says that carries over to
the market it is bidding in. So each bidder keeps an estimate of how much of that
forecast epochs really realise: the ratio of realised to forecast value over the epochs
seen, each sum an exponentially weighted one, ``Σ λᵏ realisedₖ / Σ λᵏ forecastₖ``,
started from the design's own word: ``PRIOR_SECONDS`` of epochs at the reference
volatility that realised exactly what was forecast (ratio 1). ``λ`` discounts old epochs,
the prior with them, as Timeboost's searchers do (the latest minute weighs
``EMA_WEIGHT``: bids follow the previous minutes' value, Mamageishvili et al. 2025), so
the prior weighs as much as the first minute of evidence and fades behind it. Because the forecast is already scaled by volatility,
the ratio is the value per epoch conditional on recent volatility. An epoch teaches a
bidder what it realised when it won it, and what the winner realised when a service of
the same design won it: the winner's take is on the public chain, and the same design
takes the same value. Other designs take other value (fees, not ordering), so their
epochs say nothing about its own, with one exception: a design whose operator takes only
the order flow's priority fees (priority ordering, based sequencing) realises what any
other such design would have, so their bidders learn from each other's epochs (the
auction says which those are).

A bidder that learns nothing in an epoch (another design won it) does not keep its
estimate frozen: its recent evidence ages at the same rate, and its long view fills what
it loses, so within a few minutes the ratio returns to what its design has realised over
the whole run (the same sums with the long memory of a Timeboost searcher's view of how
rounds vary, ``RISK_WEIGHT``; before any evidence, the prior: 1). A bidder that stopped
winning after a few bad epochs bids again once they fade behind its record; left frozen
at the bad epochs, it would never win again and so never learn that it should.

Each bidder also keeps its books: what it realised in the epochs it won less what it
paid for them. A bidder puts up at most ``capital`` plus its gains so far: once its
losses reach its capital it stops bidding, and no bid can take it further below.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from seqlab.sequencing.searchers import EMA_WEIGHT, RISK_WEIGHT

PRIOR_SECONDS = 60.0  # the design's forecast counts as one minute of epochs
MINUTE_S = 60.0


class Learners:
    """Every bidder's estimate of what its forecasts realise, and its books (USD)."""

    def __init__(self, names: list[str], designs: list[str], prior_weight: np.ndarray,
                 capital_usd: float, epoch_s: float) -> None:
        """``prior_weight``: each bidder's forecast of an epoch at the reference volatility
        (USD), times the epochs ``PRIOR_SECONDS`` holds."""
        self.names = list(names)
        self.designs = np.array(designs, dtype=object)
        prior = np.abs(np.asarray(prior_weight, dtype=np.float64))
        self.decay = (1.0 - EMA_WEIGHT) ** (epoch_s / MINUTE_S)
        self.prior = prior
        self.realised = prior.copy()   # discounted sums over the epochs seen, and the prior
        self.forecast = prior.copy()
        # the same sums with a long memory: what its design has realised over the run
        self.slow = (1.0 - RISK_WEIGHT) ** (epoch_s / MINUTE_S)
        self.long_realised = prior.copy()
        self.long_forecast = prior.copy()
        self.capital = float(capital_usd)
        self.pnl = np.zeros(len(names))        # realised in its own epochs less paid

    def ratio(self) -> np.ndarray:
        """Each bidder's estimate of realised over forecast value (1 before evidence)."""
        den = self.forecast
        return np.where(den > 0, self.realised / np.where(den > 0, den, 1.0), 1.0)

    def budget(self) -> np.ndarray:
        """USD each bidder can still put up: its capital plus its gains (less losses)."""
        return np.maximum(self.capital + self.pnl, 0.0)

    def pay(self, name: str, usd: float) -> None:
        """The winner pays its bid when the epoch is sold."""
        self.pnl[self.names.index(name)] -= usd

    def observe(self, seen: Mapping[str, tuple[float, float]]) -> None:
        """An epoch just ended: for each design in ``seen``, what it forecast for the
        epoch and what the epoch realised (USD); bidders of those designs learn from it,
        the others' recent evidence ages and their long view fills the gap."""
        like = np.isin(self.designs, list(seen))
        forecast = np.array([seen.get(d, (0.0, 0.0))[0] for d in self.designs])
        realised = np.array([seen.get(d, (0.0, 0.0))[1] for d in self.designs])
        self.realised[like] = self.decay * self.realised[like] + realised[like]
        self.forecast[like] = self.decay * self.forecast[like] + forecast[like]
        self.long_realised[like] = self.slow * self.long_realised[like] + realised[like]
        self.long_forecast[like] = self.slow * self.long_forecast[like] + forecast[like]
        rest = ~like
        fill = (1.0 - self.decay) * self.prior[rest]
        self.realised[rest] = (self.decay * self.realised[rest]
                               + fill * self.long_ratio()[rest])
        self.forecast[rest] = self.decay * self.forecast[rest] + fill

    def long_ratio(self) -> np.ndarray:
        """Realised over forecast value with the long memory (1 before evidence)."""
        den = self.long_forecast
        return np.where(den > 0, self.long_realised / np.where(den > 0, den, 1.0), 1.0)

    def correct(self, design: str, realised_usd: float) -> None:
        """More value realised for an earlier epoch (a position it opened, closed later)."""
        like = self.designs == design
        self.realised[like] += realised_usd
        self.long_realised[like] += realised_usd

    def book(self, name: str, realised_usd: float) -> None:
        """Value realised in an epoch ``name`` won."""
        if name in self.names:
            self.pnl[self.names.index(name)] += realised_usd
