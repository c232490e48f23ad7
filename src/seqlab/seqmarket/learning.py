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
epochs say nothing about its own.

Each bidder also keeps its books: what it realised in the epochs it won less what it
paid for them. A bidder puts up at most ``capital`` plus its gains so far: once its
losses reach its capital it stops bidding, and no bid can take it further below.
"""
from __future__ import annotations

import numpy as np

from seqlab.sequencing.searchers import EMA_WEIGHT

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
        self.realised = prior.copy()   # discounted sums over the epochs seen, and the prior
        self.forecast = prior.copy()
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

    def observe(self, design: str, forecast_usd: float, realised_usd: float) -> None:
        """An epoch just ended: the winner's design forecast ``forecast_usd`` for it and
        it realised ``realised_usd``; bidders of that design learn from it."""
        like = self.designs == design
        self.realised[like] = self.decay * self.realised[like] + realised_usd
        self.forecast[like] = self.decay * self.forecast[like] + forecast_usd

    def correct(self, design: str, realised_usd: float) -> None:
        """More value realised for an earlier epoch (a position it opened, closed later)."""
        self.realised[self.designs == design] += realised_usd

    def book(self, name: str, realised_usd: float) -> None:
        """Value realised in an epoch ``name`` won."""
        if name in self.names:
            self.pnl[self.names.index(name)] += realised_usd
