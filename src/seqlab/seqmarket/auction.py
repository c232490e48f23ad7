"""The ``auction`` policy: the rollup sells its sequencing rights, epoch by epoch.

Espresso's marketplace lets a rollup sell the right to sequence it per slot: sequencers
bid, the rollup sets a reserve price, and when no bid meets it the rollup falls back to
a sequencer of its own choosing, here based sequencing (the L1's proposers, which is
also where Espresso's design gives the L1 proposer a right of first refusal). Each
service on offer other than the based one bids, sealed, for each epoch (``auction_epoch``,
one 12 s slot by default); the highest bid at or above the reserve wins and pays its bid
(first price); the proceeds go to the rollup.

The bidders are rational and unequal. A service is worth to its operator what its
design lets it earn in the epoch, less what running it costs. Before it has seen an
epoch a bidder takes its design's word for that (its prior): the priority fees of the
rollup's order flow where its design keeps them, plus the share of the ordering value
(the stale-price trades and liquidations an unconstrained operator takes) its design
lets it take, at the reference volatility. Then it learns what epochs really realise
(``seqmarket/learning.py``), sees that value through a private error
(``auction_noise``) and, as in a first-price auction among n bidders with independent
values and a reserve, bids its estimate less (v^n − r^n)/(n·v^(n−1)) (the equilibrium
with values uniform below the highest; alone, it bids the reserve), n the services that
value the epoch at all. Rights are sold ahead of the epoch (Espresso's bidding and
assignment phases run slots ahead of the sequencing one), so a new winner starts on
time: no switch delay, and the old service's unsequenced queue is handed over.

Since the bidders all read the same public chain, the highest of the estimates is the
one most likely too high (the winner's curse): a bidder bids on its value given that its
estimate is the highest of the ``m`` bidders that value the epoch, taking off
``auction_noise`` × E[max of m standard normals] in log terms, the bid conditioned on
winning (Milgrom & Weber 1982, "A Theory of Auctions and Competitive Bidding"; Krishna,
"Auction Theory", ch. 6), as Timeboost's searchers do. Each bidder bids no more than its
capital plus its gains. The design's forecast at the trailing volatility is kept beside
each sale (``forecast_usd``) to compare with what the epoch realised; the bid does not
follow it, since in a market whose value comes with price jumps the trailing volatility
is high after the value has gone (docs/market.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.kernel import keyed_normals
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.learning import Learners
from seqlab.seqmarket.policies import State, register_policy
from seqlab.sequencing.searchers import expected_max_normal
from seqlab.units import MINUTE, S

BASED = "based"

# The share of the ordering value an unconstrained operator (``extractive``) takes that
# each design lets its operator take: what each design's hosted operator took on
# ``default`` over five seeds, over what ``extractive`` took (README design table, on
# Arbitrum's feed with market-sized trades: extractive 1.24 M, extractive-backrun 47 k,
# extractive-censor 2.8 k, extractive-stale-oracle 1.17 M, timeboost 853 k, fair-ordering
# 46 k, batch-auction 23 k, builders 1.24 M of which the proposer keeps 96 %). Honest
# designs take none.
EXTRACTION: Mapping[str, float] = MappingProxyType({
    "extractive": 1.0, "extractive-backrun": 0.038, "extractive-censor": 0.0023,
    "extractive-stale-oracle": 0.94, "extractive-sandwich": 0.0, "timeboost": 0.69,
    "fair-ordering": 0.037, "batch-auction": 0.019, "builders": 0.96,
})
# Designs whose operator keeps the priority fees of the blocks it builds.
KEEPS_TIPS = frozenset({"priority", "builders", BASED})
# What ``extractive`` took on ``default`` (1,240,388 USD in 3 h, mean of seeds 1-5:
# ``seqlab compare default --designs extractive --seeds 5``, operator_profit_usd) per
# second and per unit of annualised variance of the reference price: ORDERING_VOL is the
# root mean square over those seeds of the realised volatility of ``default``'s
# one-minute returns over the whole run (``reference_realized_vol``, 1.87 to 3.47 by
# seed: its crash jumps).
ORDERING_TAKE_USD = 1_240_388.0
ORDERING_HOURS = 3.0
ORDERING_VOL = 2.87


@dataclass(frozen=True)
class Valuation:
    """What sequencing the rollup for a while is worth to each service's operator."""

    fees_usd_per_s: float  # priority fees the rollup's order flow pays per second

    def gross(self, svc: Service, vol: float, seconds: float) -> float:
        """USD the service's design forecasts it takes sequencing ``seconds`` at
        volatility ``vol``, before its running cost."""
        return self.design_gross(svc.design, vol, seconds)

    def design_gross(self, design: str, vol: float, seconds: float) -> float:
        """USD ``design`` forecasts its operator takes sequencing ``seconds`` at
        volatility ``vol``, before running costs."""
        per_unit = ORDERING_TAKE_USD / (ORDERING_HOURS * 3600.0) / ORDERING_VOL ** 2
        rate = (self.fees_usd_per_s * (design in KEEPS_TIPS)
                + EXTRACTION.get(design, 0.0) * per_unit * vol * vol)
        return rate * seconds


def fees_only(design: str) -> bool:
    """Whether all a design's operator takes is the order flow's priority fees: what
    one such design realises in an epoch (fees are on the public chain) is what any
    other would have."""
    return design in KEEPS_TIPS and not EXTRACTION.get(design, 0.0)


def first_price_bids(values: np.ndarray, reserve: float, n: int) -> np.ndarray:
    """Each bidder's equilibrium bid in a first-price auction with ``n`` bidders and a
    reserve (values independent and uniform below the highest): ``v − (vⁿ − rⁿ)/(n·vⁿ⁻¹)``
    for a value at or above the reserve, which lies between the reserve and the value
    (alone: the reserve); a bidder valuing the epoch below the reserve does not bid (0)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(v)
    ok = (v >= reserve) & (v > 0)
    if n >= 1 and ok.any():
        x = v[ok]
        # never below the reserve, where rounding would put a lone bidder's bid
        out[ok] = np.maximum(x - (x - reserve * (reserve / x) ** (n - 1)) / n, reserve)
    return out


def first_price(bids: np.ndarray, reserve: float) -> tuple[int | None, float]:
    """Winner (the highest bid at or above ``reserve``; the first on ties) and what it
    pays: its own bid."""
    ok = np.flatnonzero((bids >= reserve) & (bids > 0))
    if not len(ok):
        return None, 0.0
    k = int(ok[np.argmax(bids[ok])])
    return k, float(bids[k])


@dataclass(frozen=True)
class Sale:
    """One epoch's auction."""

    start: int               # µs
    winner: str              # the service that sequences the epoch (the fallback: none won)
    price_usd: float         # what the winner pays (0 when the rollup fell back)
    bids: tuple[float, ...]  # every asked service's sealed bid (USD; 0: it did not bid)
    values: tuple[float, ...]  # every asked service's expected value (USD), before its error
    forecast_usd: float = 0.0  # the winner's design's forecast at ``vol`` (for comparison)
    vol: float = 0.0           # the realised volatility the bidders read
    asked: tuple[str, ...] = ()  # the services asked (producing, not based), as ``bids``


class AuctionPolicy:
    """Sells each epoch to the highest bid at or above the reserve; none: based."""

    def __init__(self, cfg: SequencingMarket) -> None:
        self.cfg = cfg
        self.ask_every = cfg.auction_epoch
        # the trailing volatility each sale records beside the design's forecast
        self.watch_window = max(cfg.auction_epoch, 10 * MINUTE)
        self.sold_ahead = True  # no switch delay: the winner is known before the epoch
        self.valuation = Valuation(0.0)
        self.seed = 0
        self.sales: list[Sale] = []
        self.learns = True  # its bidders learn from the run: sell each epoch as it comes
        self.learners: Learners | None = None
        self.designs: dict[str, str] = {}
        self.error: np.ndarray | None = None  # each bidder's valuation error, last epoch
        self.error_epoch = -1

    def bind(self, valuation: Valuation, seed: int) -> None:
        """The market's public order flow, and the run's seed for the bidders' errors."""
        self.valuation, self.seed = valuation, seed

    def check(self, services: list[Service], file: str | None) -> None:
        """An auction needs somewhere to fall back to: a based service on offer."""
        if not any(s.design == BASED for s in services):
            raise SeqlabError("the auction policy falls back to based sequencing when no "
                              "bid meets the reserve, and no service runs it", file=file,
                              field="sequencing_market.services",
                              allowed='a service with design = "based" (offer = "based")')

    def _fallback(self, state: State) -> str:
        return next(s.name for s in state.services if s.design == BASED)

    def choose(self, state: State) -> str:
        epoch = self.cfg.auction_epoch
        if state.current is not None and state.now % epoch:
            # between auctions: only a silent winner hands the rollup back to the fallback
            based = self._fallback(state)
            if state.silent_us >= state.timeout and state.up[based]:
                return based
            return state.current
        learners = self.learners or self._learners(state.services)
        bidders = [s for s in state.services if s.design != BASED and state.up[s.name]]
        rows = np.array([learners.names.index(s.name) for s in bidders], dtype=np.int64)
        seconds = epoch / S
        gross = np.array([self.valuation.gross(s, state.vol, seconds) for s in bidders])
        cost = np.array([s.cost_usd_per_hour / 3600.0 * seconds for s in bidders])
        values = learners.estimate()[rows] - cost
        z = self._errors(state, learners.decay)[rows]
        noise = self.cfg.auction_noise
        estimate = values * np.exp(noise * z - noise * noise / 2)  # unbiased
        # the rivals a bidder reckons with: the services that value the epoch at all (an
        # honest FCFS sequencer or a committee keeps nothing and never bids)
        rivals = int((values > 0).sum())
        # conditioned on winning: the highest of m estimates overshoots by m's max error
        estimate *= np.exp(-noise * expected_max_normal(rivals))
        reserve = self.cfg.auction_reserve_usd
        bids = np.minimum(first_price_bids(estimate, reserve, rivals),
                          learners.budget()[rows])
        bids = np.where(bids >= reserve, bids, 0.0)  # what capital leaves below it: no bid
        k, price = first_price(bids, reserve)
        winner = self._fallback(state) if k is None else bidders[k].name
        if k is not None:
            learners.pay(winner, price)
        self.sales.append(Sale(state.now, winner, price, tuple(bids.round(6).tolist()),
                               tuple(values.round(6).tolist()),
                               0.0 if k is None else float(gross[k]), state.vol,
                               tuple(s.name for s in bidders)))
        return winner

    def _errors(self, state: State, carry: float) -> np.ndarray:
        """Every bidder's standardised valuation error for this epoch, in the learners'
        order. The error is in the bidder's model of the order flow, which changes only as
        fast as its estimate does: from one epoch to the next it keeps ``carry`` of its
        error (the share of its estimate the last epoch leaves unchanged) and draws the
        rest afresh, ``e_k = carry·e_(k−1) + √(1 − carry²)·z_k``, still a standard normal.
        Drawn fresh each 12 s slot, a value a little above the reserve would win or miss it
        by a coin flip per slot and move the rollup between sequencers every other slot."""
        learners = self.learners
        names = [s.name for s in state.services]
        index = np.array([names.index(n) for n in learners.names], dtype=np.int64)
        epoch = state.now // self.cfg.auction_epoch
        z = keyed_normals(self.seed, "seqmarket/auction", index,
                          np.full(len(index), epoch, dtype=np.int64))
        if self.error is not None and self.error_epoch == epoch - 1:
            z = carry * self.error + np.sqrt(1.0 - carry * carry) * z
        self.error, self.error_epoch = z, epoch
        return z

    def _learners(self, services: tuple[Service, ...]) -> Learners:
        """The bidders' learning state, each starting from its design's forecast."""
        bidders = [s for s in services if s.design != BASED]
        self.designs = {s.name: s.design for s in services}
        epoch_s = self.cfg.auction_epoch / S
        prior = [self.valuation.gross(s, ORDERING_VOL, epoch_s) for s in bidders]
        self.learners = Learners([s.name for s in bidders], [s.design for s in bidders],
                                 np.array(prior), self.cfg.auction_capital_usd, epoch_s)
        return self.learners

    def book(self, epoch: int, usd: float, ended: bool) -> None:
        """Value realised in sold epoch ``epoch`` (USD): at its end (``ended``: the
        bidders of the winner's design learn from it), or later, when a position opened
        in it closes. Either way it is the winner's."""
        if self.learners is None:
            return
        sale = self.sales[epoch]
        self.learners.book(sale.winner, usd)
        design = self.designs[sale.winner]
        if not ended:
            self.learners.correct(design, usd)
            return
        seen = {design: usd}
        if fees_only(design):  # the fees it kept are what every fees-only design would
            seen.update({d: usd for d in set(self.learners.designs.tolist()) if fees_only(d)})
        self.learners.observe(seen)


register_policy("auction", AuctionPolicy)
