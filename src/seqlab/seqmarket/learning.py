"""What a bidder for a rollup's sequencing rights has learnt from the run.

A bidder starts from its design's forecast of an epoch (``seqmarket/auction.py``): what
its design took on ``default``, scaled to an epoch at the reference volatility. Nothing
says that carries over to the market it is bidding in, so it learns what epochs really
realise, in USD, by the rule Timeboost's searchers use for a round
(``sequencing.searchers``): a long view of the epochs' value (exponentially weighted
mean, second moment and the mean product of consecutive epochs, the latest minute
weighing ``RISK_WEIGHT``) and a recent one (the latest minute weighing ``EMA_WEIGHT``:
bids follow the previous minutes' value, Mamageishvili et al. 2025); the estimate is the
long mean moved toward the recent one as far as epochs have been carrying over into the
next (their lag-one autocorrelation), and a bidder divides it by one plus
``RISK_AVERSION`` times the coefficient of variation of epochs, as a searcher does. Both
views start at the design's forecast, which counts as ``PRIOR_SECONDS`` of epochs (each
view a weighted average, the prior one of its terms) and so fades behind the evidence:
a prior that weighed as much as the whole long view would hold a bidder whose design
over-forecasts at its forecast for as long as that view remembers.

Why not scale the forecast by what epochs realised over what was forecast for them,
with the forecast moving with the trailing volatility? Because in a market whose value
comes in the epochs a price jump lands in, that ratio is learnt in the calm epoch that
held the jump and applied to the high-volatility epochs after it, which realise next to
nothing: one jump's windfall, times the square of the volatility it left behind, had a
bidder pay its capital and gains for one epoch (docs/market.md). A windfall that does
not carry over lifts the long mean by its weight only and the risk discount by the
spread it adds, so a bidder pays on for a spike only as long as spikes have been lasting.

An epoch teaches a bidder what it realised when it won it, and what the winner realised
when a service of the same design won it: the winner's take is on the public chain, and
the same design takes the same value. Other designs take other value (fees, not
ordering), so their epochs say nothing about its own, with one exception: a design
whose operator takes only the order flow's priority fees (priority ordering, based
sequencing) realises what any other such design would have, so their bidders learn from
each other's epochs (the auction says which those are). A bidder that learns nothing in
an epoch does not keep its recent view frozen: it ages at the same rate toward its long
view, so within a few minutes it bids on its record again; left frozen at a few bad
epochs, it would never win again and so never learn that it should.

Each bidder also keeps its books: what it realised in the epochs it won less what it
paid for them. A bidder puts up at most ``capital`` plus its gains so far: once its
losses reach its capital it stops bidding, and no bid can take it further below.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from seqlab.sequencing.searchers import EMA_WEIGHT, RISK_WEIGHT
from seqlab.sequencing.timeboost_config import TimeboostSearcher

MINUTE_S = 60.0
PRIOR_SECONDS = 60.0  # the design's forecast counts as one minute of epochs
# how much a bidder dislikes an uncertain epoch: the default Timeboost searcher's
RISK_AVERSION = TimeboostSearcher.model_fields["risk_aversion"].default


class Learners:
    """Every bidder's view of what an epoch realises, and its books (USD)."""

    def __init__(self, names: list[str], designs: list[str], prior_usd: np.ndarray,
                 capital_usd: float, epoch_s: float) -> None:
        """``prior_usd``: each bidder's design forecast of an epoch (USD)."""
        self.names = list(names)
        self.designs = np.array(designs, dtype=object)
        prior = np.maximum(np.asarray(prior_usd, dtype=np.float64), 0.0)
        # the weights of the latest epoch: the per-minute weights over an epoch's length
        self.decay = (1.0 - EMA_WEIGHT) ** (epoch_s / MINUTE_S)
        self.slow = (1.0 - RISK_WEIGHT) ** (epoch_s / MINUTE_S)
        self.recent = prior.copy()
        # the weight of each view's terms, the prior's included (a weighted average)
        self.recent_weight = np.full(len(names), PRIOR_SECONDS / epoch_s)
        self.weight = self.recent_weight.copy()
        self.mean, self.second, self.lagged = prior.copy(), prior * prior, prior * prior
        self.last = prior.copy()  # the latest epoch each has seen
        self.before = prior.copy()  # and the one before it
        self.capital = float(capital_usd)
        self.pnl = np.zeros(len(names))        # realised in its own epochs less paid

    def carry(self) -> np.ndarray:
        """How much an epoch's value carries over into the next: the lag-one
        autocorrelation of the long view, 0..1 (1 before the epochs vary)."""
        var = self.second - self.mean * self.mean
        cov = self.lagged - self.mean * self.mean
        ok = var > 1e-12 * np.maximum(self.second, 1e-300)
        return np.where(ok, np.clip(cov / np.where(ok, var, 1.0), 0.0, 1.0), 1.0)

    def variation(self) -> np.ndarray:
        """Coefficient of variation of an epoch's value (long view; 0 before evidence)."""
        sd = np.sqrt(np.maximum(self.second - self.mean * self.mean, 0.0))
        return np.where(self.mean > 0, sd / np.where(self.mean > 0, self.mean, 1.0), 0.0)

    def estimate(self) -> np.ndarray:
        """Each bidder's value of the coming epoch (USD): its long mean moved toward the
        recent epochs as far as they carry over, discounted for how much epochs vary."""
        expected = self.mean + self.carry() * (self.recent - self.mean)
        return np.maximum(expected, 0.0) / (1.0 + RISK_AVERSION * self.variation())

    def budget(self) -> np.ndarray:
        """USD each bidder can still put up: its capital plus its gains (less losses)."""
        return np.maximum(self.capital + self.pnl, 0.0)

    def pay(self, name: str, usd: float) -> None:
        """The winner pays its bid when the epoch is sold."""
        self.pnl[self.names.index(name)] -= usd

    def observe(self, seen: Mapping[str, float]) -> None:
        """An epoch just ended: for each design in ``seen``, what the epoch realised
        (USD); bidders of those designs learn from it, the others' recent view ages
        toward their long view."""
        like = np.isin(self.designs, list(seen))
        x = np.array([seen.get(d, 0.0) for d in self.designs])[like]
        self.recent_weight[like] = self.decay * self.recent_weight[like] + 1.0
        self.weight[like] = self.slow * self.weight[like] + 1.0
        w = 1.0 / self.weight[like]
        self.recent[like] += (x - self.recent[like]) / self.recent_weight[like]
        self.mean[like] += w * (x - self.mean[like])
        self.second[like] += w * (x * x - self.second[like])
        self.lagged[like] += w * (x * self.last[like] - self.lagged[like])
        self.before[like], self.last[like] = self.last[like], x
        rest = ~like
        self.recent[rest] += (1.0 - self.decay) * (self.mean[rest] - self.recent[rest])

    def correct(self, design: str, realised_usd: float) -> None:
        """More value realised for an earlier epoch (a position it opened, closed
        later): as if the latest epoch those bidders saw had realised that much more."""
        like = self.designs == design
        w, d = 1.0 / self.weight[like], realised_usd
        last = self.last[like]
        self.recent[like] += d / self.recent_weight[like]
        self.mean[like] += w * d
        self.second[like] += w * (2.0 * last * d + d * d)
        self.lagged[like] += w * d * self.before[like]
        self.last[like] = last + d

    def book(self, name: str, realised_usd: float) -> None:
        """Value realised in an epoch ``name`` won."""
        if name in self.names:
            self.pnl[self.names.index(name)] += realised_usd
