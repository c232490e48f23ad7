"""Express-lane bidders: how rational, unequal searchers value a Timeboost round and bid.

The lane's value is close to a common value (Mamageishvili et al. 2025: paid bids track
the lane's markouts better than winning bids do): every searcher watches the same public
chain, so all forecast the same quantity, the value a perfect controller would take in
the coming minute, from what recent rounds showed: the value controllers realised and,
in a minute nobody held the lane, the value someone did take (liquidation rewards)
scaled by the share of the public opportunity controllers have been realising — not
what nobody took (a stale-price trade nobody made), so a crash jump in a minute nobody
held does not have searchers pay on through the quiet minutes after it. They differ in
how much of it they
can realise (``skill``), in how far their own model of the coming minute is off (a
private signal, ``valuation_noise``), in how much they dislike an uncertain round
(``risk_aversion``: the bid is divided by 1 + risk_aversion × the coefficient of
variation of rounds) and in what they can put up (``capital_usd``).

A searcher bids its own share of the forecast, shaded below it. In a common-value
second-price auction the winner is whoever overestimated most (the winner's curse), so
the bid is conditioned on being the highest signal: for ``n`` bidders with log-normal
signal errors of spread ``sigma`` the highest error averages ``sigma·E[max of n normals]``,
which is taken off. Risk aversion takes off more where rounds have varied more, and a
searcher that has clearly paid more than it realised over its recent wins (those of
the last ``RECORD_ROUNDS`` rounds, once there are ``MIN_RECORD``, by more than luck
explains) scales its bids by the ratio and, when that falls below ``BENCH_RATIO``,
stops bidding for ``BENCH_ROUNDS`` rounds. Old wins leave the record, so a searcher
priced out by its past comes back. Nobody bids more than its capital.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from seqlab.kernel import keyed_normals
from seqlab.sequencing.timeboost_config import Timeboost

EMA_WEIGHT = 0.3     # weight of the latest round: bids follow the previous minutes' value
RISK_WEIGHT = 0.05   # a slow learner's weight of the latest round (the sequencing market's)
LONG_ROUNDS = 1440   # the long view averages every round seen, up to a day's...
PRIOR_ROUNDS = 60    # ...and starts from the prior as if it had seen an hour of rounds
PRIOR_SHARE = 0.5    # the capture share before any held round: the mean of a uniform prior
RECORD_ROUNDS = 60   # a searcher judges itself on its wins of the last hour...
MIN_RECORD = 20      # ...once it has at least twenty (a standard error from a handful of
                     # outcomes is itself too uncertain to judge by)
SIGNIFICANCE = 2.0   # and only a shortfall beyond two standard errors of its wins counts
BENCH_RATIO = 0.5    # below this realised/paid ratio a searcher stops bidding for a while
BENCH_ROUNDS = 10    # how long it stays out before it tries again, with a clean record
RATIO_FLOOR = 0.05   # bids are never scaled below this share


def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normals] (0 for one), by quadrature: how far the
    highest of n signals overshoots the truth, in units of the signals' spread."""
    if n <= 1:
        return 0.0
    z = np.linspace(-8.0, 8.0, 4001)
    density = n * np.exp(-z * z / 2) / np.sqrt(2 * np.pi) * ndtr(z) ** (n - 1)
    return float(np.trapezoid(z * density, z))


class Bidders:
    """The searchers of ``[sequencer.timeboost]``: their forecasts, bids and records."""

    def __init__(self, cfg: Timeboost) -> None:
        s = cfg.searchers
        self.names = [x.name for x in s]
        self.skill = np.array([x.skill for x in s], dtype=np.float64)
        self.latency_us = np.array([x.latency for x in s], dtype=np.int64)
        self.capital = np.array([x.capital_usd for x in s], dtype=np.float64)
        self.risk = np.array([x.risk_aversion for x in s], dtype=np.float64)
        self.sigma = cfg.valuation_noise
        prior = cfg.prior_round_value_usd
        self.recent = prior  # a perfect controller's round, the last few minutes (USD)
        # the long view of a perfect controller's round: mean, second moment, and the
        # mean product of consecutive rounds (how much a round tells about the next),
        # the prior counting as an hour of rounds
        self.moments = [prior, prior * prior, prior * prior]
        self.seen = PRIOR_ROUNDS
        self._last = prior
        # held rounds: what controllers realised (per unit of skill) and the public
        # opportunity of those rounds, summed; the prior is one opportunity of the prior
        # round's value of which half was realised (see ``share``)
        self.shown = [PRIOR_SHARE * prior, prior]
        # each searcher's wins: (round, net realised, paid)
        self.record: list[list[tuple[int, float, float]]] = [[] for _ in s]
        self.benched_until = np.full(len(s), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.names)

    # learning ----------------------------------------------------------------------------
    def observe(self, public_usd: float, realised_usd: float | None,
                controller: int | None, untaken_usd: float = 0.0) -> None:
        """One finished round: the public value someone took (``public_usd``), what a
        controller could have taken that nobody did (``untaken_usd``) and, when someone
        held the lane, what it realised. Either becomes an estimate of a perfect
        controller's round, which updates the common forecast; in a minute nobody held,
        only the value someone took counts."""
        shown = self.shown
        if controller is not None and realised_usd is not None:
            full = max(realised_usd, 0.0) / self.skill[controller]
            shown[0] += full
            shown[1] += public_usd + untaken_usd
        else:
            full = public_usd * self.share
        self.recent += EMA_WEIGHT * (full - self.recent)
        self.seen += 1
        weight = max(1.0 / self.seen, 1.0 / LONG_ROUNDS)
        m = self.moments
        m[0] += weight * (full - m[0])
        m[1] += weight * (full * full - m[1])
        m[2] += weight * (full * self._last - m[2])
        self._last = full

    @property
    def share(self) -> float:
        """The share of a round's public opportunity a controller has been shown to
        realise (per unit of skill), over every held round so far: what a minute nobody
        held is taken to have been worth. Before any held round nothing is known of it
        but that it lies between 0 and 1, so the prior is the uniform one's mean, 1/2
        (Laplace), worth one opportunity of ``prior_round_value_usd``: the first held
        minutes outweigh it. Not 1, which had bidders pay for every liquidation reward
        a minute nobody held paid out as if a controller would have taken it all, and
        not 0, with which nobody would ever hold the lane to find out."""
        realised, public = self.shown
        return min(realised / public, 1.0) if public > 0 else 0.0

    @property
    def estimate(self) -> float:
        """The forecast of the coming round: the long-run mean, moved toward the last few
        minutes as far as rounds have been carrying over into the next (their lag-one
        autocorrelation). Bids follow a burst only as long as bursts have been lasting,
        so nobody keeps paying for a spike that is over."""
        mean, second, lagged = self.moments
        var = second - mean * mean
        carry = min(max((lagged - mean * mean) / var, 0.0), 1.0) if var > 0 else 1.0
        return mean + carry * (self.recent - mean)

    def variation(self) -> float:
        """How much rounds vary (coefficient of variation, long view): what a risk-averse
        searcher discounts for. A long view, so a quiet spell after a burst does not make
        every round look wildly uncertain."""
        mean, second = self.moments[:2]
        return float(np.sqrt(max(second - mean * mean, 0.0)) / mean) if mean > 0 else 0.0

    def settle(self, winner: int, net_usd: float, paid_usd: float, won: int, now: int
               ) -> None:
        """The outcome of round ``won``, known at round ``now``: into the winner's record,
        and a rest from bidding when it has been paying far more than it got."""
        self.record[winner].append((won, net_usd, paid_usd))
        if self.ratio(now)[winner] < BENCH_RATIO:
            self.benched_until[winner] = now + BENCH_ROUNDS
            self.record[winner].clear()

    def ratio(self, round_no: int) -> np.ndarray:
        """Each searcher's realised/paid over its recent wins where it has clearly been
        paying more than it got, 1 elsewhere. "Clearly": the shortfall exceeds
        ``SIGNIFICANCE`` standard errors of the wins' own outcomes (realised less paid,
        win by win), so a record whose one good minute outweighs its quiet ones, or whose
        outcomes spread too widely to tell, is not taken for a losing strategy, while a
        run of minutes that each brought less than they cost is, however large the
        bursts the market has shown elsewhere: a searcher does not keep playing a game
        it has been losing."""
        out = np.ones(len(self))
        for i, rec in enumerate(self.record):
            rec[:] = [x for x in rec if x[0] > round_no - RECORD_ROUNDS]
            if len(rec) < MIN_RECORD:
                continue
            gain = np.array([x[1] - x[2] for x in rec])
            net, paid = sum(x[1] for x in rec), sum(x[2] for x in rec)
            noise = SIGNIFICANCE * float(np.std(gain, ddof=1)) * np.sqrt(len(rec))
            if paid > 0 and paid - net > noise:
                out[i] = min(max(net / paid, RATIO_FLOOR), 1.0)
        return out

    # bidding -----------------------------------------------------------------------------
    def active(self, round_no: int) -> np.ndarray:
        return self.benched_until < round_no

    def bids(self, seed: int, round_no: int) -> np.ndarray:
        """Every searcher's bid for round ``round_no`` (USD; 0 for those sitting out)."""
        active = self.active(round_no)
        n = int(active.sum())
        z = keyed_normals(seed, "timeboost.signal", np.arange(len(self)), round_no)
        signal = max(self.estimate, 0.0) * np.exp(self.sigma * z)
        shade = np.exp(-self.sigma * expected_max_normal(n))
        value = self.skill * signal * shade / (1.0 + self.risk * self.variation()) \
            * self.ratio(round_no)
        return np.where(active, np.minimum(value, self.capital), 0.0)
