"""The ``timeboost`` design's settings, ``[sequencer.timeboost]``: the express-lane
auction and its bidders (the ``committee`` design reads them too when it runs an express
lane). Kept beside the design, registered with it."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from seqlab.scenario.schema import (AccountUsd, Duration, Model, PositiveAccountUsd,
                                    PositiveDuration, Share, Usd)


class TimeboostSearcher(Model):
    """One express-lane bidder: how much of a round's value it can realise (``skill``),
    how late its transactions reach the sequencer, what it can bid at most, and how much
    it discounts an uncertain round (``risk_aversion``)."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    skill: Annotated[float, Field(gt=0, le=1)]
    latency: Duration = "20ms"
    capital_usd: PositiveAccountUsd = 100_000.0
    risk_aversion: Annotated[float, Field(ge=0, le=10)] = 0.5


# Two well-connected firms and a fringe: on Arbitrum two entities won over 90 % of the
# auctions of April to July 2025 (Messias & Torres 2025), see docs/scenarios.md.
TIMEBOOST_SEARCHERS = (
    TimeboostSearcher(name="leader", skill=0.9, latency="5ms", capital_usd=1_000_000.0,
                      risk_aversion=0.05),
    TimeboostSearcher(name="runner-up", skill=0.8, latency="10ms", capital_usd=1_000_000.0,
                      risk_aversion=0.05),
    TimeboostSearcher(name="fringe-1", skill=0.5, latency="40ms", capital_usd=200_000.0,
                      risk_aversion=0.2),
    TimeboostSearcher(name="fringe-2", skill=0.35, latency="80ms", capital_usd=50_000.0,
                      risk_aversion=0.4),
)


class Timeboost(Model):
    """Arbitrum Timeboost express lane."""

    round: PositiveDuration = "60s"
    auction_closing: PositiveDuration = "15s"
    reserve_usd: Usd = 2.5
    reserve_pricer: Literal["minimum", "trailing"] = "minimum"
    reserve_share: Share = 0.5
    delay: Duration = "200ms"
    searchers: Annotated[list[TimeboostSearcher], Field(min_length=1, max_length=50)] = \
        list(TIMEBOOST_SEARCHERS)
    valuation_noise: Annotated[float, Field(ge=0, le=3)] = 0.2
    prior_round_value_usd: Usd = 10.0
    stale_min_move: Annotated[float, Field(ge=0, le=1)] = 0.002
    express_gas_usd: AccountUsd = 0.03

    @model_validator(mode="after")
    def _closing_inside_round(self) -> "Timeboost":
        if self.auction_closing >= self.round:
            raise ValueError("auction_closing must be shorter than round")
        names = [s.name for s in self.searchers]
        if len(set(names)) != len(names):
            raise ValueError(f"searchers' names must differ (got {names})")
        return self
