"""The perps market's agents as each block reaches them: owners managing margin, bots
racing to liquidate (streaming the feed, polling, or speculating on the next oracle
update), keepers bidding in Dutch auctions, hedgers keeping their off-chain leg covered.

``PerpsAgents`` holds them once the market's assembly (``protocols.perps_assembly``) has
built them, and answers the questions they ask of the chain: what a liquidation would
pay, what a bot has made so far, what the oracle's next poll will do. ``on_block`` is
the rollup's block feed; ``scan`` is a poller's look and ``forecast`` a speculator's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from seqlab.agents.above_water import AboveWater
from seqlab.agents.hedgers import Hedgers
from seqlab.agents.keepers import Keepers, discount_bids
from seqlab.agents.liquidators import Expected, Liquidators
from seqlab.agents.race import balances_of, executed, race
from seqlab.agents.reactive import MarginManagers
from seqlab.ledger import Ledger
from seqlab.market import ReferencePrice
from seqlab.oracle.recapture import RecaptureAuction
from seqlab.protocols.payout import PlannedLiquidation
from seqlab.protocols.perps import PPM, MarginView, PerpsProtocol
from seqlab.scenario.schema import Liquidator
from seqlab.txs import TxStore


class PerpsAgents:
    """Everyone who reacts to one perps market's blocks; the assembly fills them in."""

    def __init__(self, protocol: PerpsProtocol, ledger: Ledger, txs: TxStore,
                 reference: ReferencePrice, bots: list[Liquidator]) -> None:
        self.protocol = protocol
        self.ledger = ledger
        self.txs = txs
        self.reference = reference
        self.bots = bots
        self.deviation = 0.0  # the oracle feed's deviation threshold (what a poll moves)
        self.managers: MarginManagers | None = None
        self.liquidators: Liquidators | None = None
        self.keepers: Keepers | None = None  # Dutch auctions: who bids what, when
        self.hedgers: Hedgers | None = None  # users hedging an off-chain leg
        self.recapture: RecaptureAuction | None = None
        self._margin_seen = -1  # the margin view's generation the managers last saw
        self.above_water = AboveWater(protocol)
        self._worthless: bool | None = None  # ``water_is_worthless``, once assembled

    # what the bots ask ------------------------------------------------------------------
    def bot_profit(self, j: int) -> int:
        """Bot ``j``'s realised profit so far (micro-USD): its balance less its capital."""
        return int(self.ledger.balances[self.protocol.liquidator_account[j]]) \
            - int(self.protocol.keeper_capital[j])

    def reward(self, who: np.ndarray, notional: np.ndarray) -> np.ndarray:
        """What liquidating each of ``who`` in the coming block would pay (the
        mechanism's own estimate; -1 is a block not yet built, so per-block budgets are
        whole)."""
        return self.protocol.liquidation.rewards(who, -1)

    def water_is_worthless(self) -> bool:
        """Whether an account under water is worth nothing to every bot: the reward is
        the planned one (0 at equity at most 0), no bot's floor is below 0, and no
        protocol keeper liquidates whatever it pays (then the bots need weigh only the
        accounts ``above_water``). Asked once the market is assembled."""
        if self._worthless is None:
            liq, mech = self.liquidators, type(self.protocol.liquidation)
            self._worthless = liq is not None and not liq.keepers and liq.floor >= 0 \
                and liq.costs.reward == self.reward \
                and type(self).reward is PerpsAgents.reward \
                and mech.reward is PlannedLiquidation.reward \
                and mech.rewards is PlannedLiquidation.rewards
        return self._worthless

    def scan(self, t_us: int, bots: Sequence[int]) -> None:
        """A polling bot looks at the chain now: the state the last block left."""
        p = self.protocol
        self._race(p.margin_view.refresh(), t_us, bots)

    def forecast(self, t_us: int) -> Expected | None:
        """What a bot watching the reference price expects of the oracle's poll now: if
        the price has moved past the feed's deviation threshold, an update at that price,
        making liquidatable the accounts it lists (not those liquidatable already)."""
        p = self.protocol
        if not p.price:
            return None
        ref = self.reference.at_one(t_us)
        if abs(ref * PPM - p.price) <= self.deviation * p.price:
            return None
        price = int(round(ref * PPM))
        # both sorted and unique already: skip setdiff1d's sort, on every pull publication
        coming = np.setdiff1d(p.liquidatable(price), p.liquidatable(), assume_unique=True)
        if not len(coming):
            return None
        return Expected(coming, p.margin_state(price)[1][coming])

    def bid(self, bots: Liquidators, t_us: int, accounts: np.ndarray, prices: np.ndarray,
            only: Sequence[int] | None = None) -> None:
        """Keepers with capital, venue and gas bid in the market's auctions; without
        keepers, by discount alone."""
        p = self.protocol
        if self.keepers is not None:
            capital = self.ledger.balances[np.asarray(p.liquidator_account[: len(bots.cfgs)])]
            bids, delays = self.keepers.plan(t_us, prices, p.size[accounts], p.price,
                                             capital, p.liquidation.venue)
            bots.on_auctions(t_us, accounts, bids, delays, only)
        else:
            bots.on_auctions(t_us, accounts, discount_bids(bots.cfgs, prices, p.price),
                             None, only)

    def _race(self, view: MarginView, t_us: int, bots: Sequence[int] | None = None) -> None:
        """The bots race on the state ``view`` (refreshed) shows, when there is something
        to race for: a liquidatable account or a Dutch auction quoting (most blocks and
        polls have neither, and a race over nobody sends nothing)."""
        p = self.protocol
        quotes = p.quotes(t_us)
        if quotes is None and view.count and self.water_is_worthless():
            race(self.liquidators, t_us, self.above_water.accounts(), None, view.notional,
                 self.bid, bots)
        elif view.count or quotes is not None:
            race(self.liquidators, t_us, p.liquidatable(), quotes, view.notional, self.bid,
                 bots)

    # the feed -----------------------------------------------------------------------------
    def on_block(self, block: int, t_us: int, ids: np.ndarray, status: np.ndarray) -> None:
        """The feed: agents learn what the block did and see the state it left."""
        kind = self.txs.kind[ids]
        executed(self.txs, ids, kind, self.managers, self.liquidators)
        if self.recapture is not None:
            self.recapture.on_block()
        p = self.protocol
        view = p.margin_view.refresh()
        changed, self._margin_seen = view.since(self._margin_seen), view.generation
        self.managers.on_block(t_us, view.equity, view.notional, p.mm_ppm / PPM,
                               balances_of(self.ledger, p.wallet), changed)
        self._race(view, t_us)
        if self.hedgers is not None:
            self.hedgers.on_block(t_us, p, int(round(float(self.reference.at(t_us)) * PPM)))
