"""Oracle-value recapture (Chainlink SVR, UMA Oval): the backrun of each update is sold.

Without recapture the value an oracle update unlocks — the liquidation rewards of the
accounts it makes liquidatable — goes to whoever gets behind the update first: the
fastest bot, or the sequencer operator that places its own liquidations right after it.
SVR and Oval sell the right to go first. For each update the outside liquidators see the
new price before it lands and bid, sealed, for a bundle placed directly after the
update in the same block: each values the liquidations the update enables at the new
price, less its gas for each attempt, and bids at most ``bid_share`` of that, never more
than leaves it its own minimum profit (``bid_for``). The highest bid wins and pays its
bid when its liquidations land; ``protocol_share`` of it goes to the protocol, the rest
to the oracle network. Option writers the update makes liquidatable join the same lot.

Where the bundle runs depends on how it is delivered (``bundle``) and on the design:

- ``atomic`` (SVR on Arbitrum and Base through Atlas): the update and the winner's
  liquidations are one transaction, settled by a contract. No design can put anything
  between them: an operator that reads the pending update can still trade ahead of it
  (``stale_oracle``), but its own liquidations behind the update only find what the
  winner left (accounts not worth a bidder's gas; the operator pays none);
- ``separate`` (SVR on Ethereum through MEV-Share): the bundle is the update plus the
  winner's transactions, kept together only by a block producer that honours bundles
  (``Design.honours_bundles``). An operator or builder that backruns for itself splits
  it: the update, its own liquidations right behind it, the winner's after them, at the
  end of the block, where they find the accounts gone; the winner pays its gas but not
  its bid, which is conditional on its liquidations landing.

Every movement is a ledger transfer (bids to the protocol's insurance fund or pool and an
oracle-network account, gas to the chain), so the ledger stays exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from seqlab.metrics.perps import usd
from seqlab.protocols.market_view import LIQUIDATION, OPTION_LIQUIDATION
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.scenario.schema import Recapture

#: tries per account in a bundle: a liquidation that leaves the account still
#: liquidatable (a close factor, a per-block cap) is followed by a second one
TRIES_PER_ACCOUNT = 2


@dataclass(frozen=True)
class Bidder:
    """An outside liquidator as a recapture bidder: its liquidator index, its gas per
    liquidation attempt and the least profit it takes a bundle for (micro-USD)."""

    index: int
    gas: int
    min_profit: int


@dataclass(frozen=True)
class Bid:
    """A bidder's sealed bid: which lots it would liquidate (each worth more than its gas)
    and what it offers (micro-USD); ``amount`` -1: it stays out."""

    take: np.ndarray
    amount: int


def bid_for(rewards: np.ndarray, gas: int, min_profit: int, shade_ppm: int) -> Bid:
    """What a bidder with ``gas`` per attempt and ``min_profit`` bids for lots worth
    ``rewards`` (micro-USD each, at the new price): it takes the lots that pay more than
    their gas, and bids ``shade_ppm`` of their value net of gas, at most that value less
    its minimum profit, so a won bundle that lands as valued never loses it money."""
    take = rewards > gas
    value = int((rewards[take] - gas).sum())
    room = value - min_profit
    if not take.any() or room <= 0:
        return Bid(take, -1)
    return Bid(take, min(value * shade_ppm // PPM, room))


@dataclass(frozen=True)
class Bundle:
    """A won auction: who liquidates what, for how much, in the update's block."""

    winner: int
    accounts: np.ndarray
    writers: np.ndarray
    bid: int
    block: int
    t: int


class RecaptureAuction:
    """Auctions each accepted update's backrun and runs the winner's bundle."""

    def __init__(self, cfg: Recapture, protocol: PerpsProtocol, bidders: Sequence[Bidder],
                 online: Callable[[int, int], bool], outside: int,
                 honoured: Callable[[int], bool], options=None) -> None:
        """``online(j, t)``: whether bidder ``j`` is up and within its loss limit;
        ``outside``: liquidator identities below this index are outside bots, the rest the
        sequencing side's; ``honoured(t)``: whether the block at ``t`` keeps a separate
        bundle together; ``options``: the options protocol beside the perps, if any."""
        self.cfg, self.protocol, self.options = cfg, protocol, options
        self.bidders, self.online, self.outside = list(bidders), online, outside
        self.honoured = (lambda t: True) if cfg.bundle == "atomic" else honoured
        self.shade_ppm = int(round(cfg.bid_share * PPM))
        self.share_ppm = int(round(cfg.protocol_share * PPM))
        self.to = protocol.insurance if cfg.to == "insurance" else protocol.pool
        self.network = protocol.ledger.open("oracle_network")
        self.deferred: list[Bundle] = []
        self._writers_before = np.empty(0, dtype=np.int64)
        self.seen = self.seen_options = 0
        self.value = self.bundled = self.protocol_paid = self.network_paid = 0
        self.bypassed = self.auctions = self.split = self.unpaid = 0

    # the auction, as the update lands ------------------------------------------------
    def before_update(self, t: int) -> None:
        """Remember which option writers were liquidatable before the new price."""
        if self.options is not None:
            self._writers_before = self.options.liquidatable(t)

    def after_update(self, seq: int, block: int, t: int, enabled: np.ndarray) -> None:
        """Auction the liquidations update ``seq`` enabled (``enabled``: perps accounts
        it made liquidatable) and run the winner's bundle, or leave it to the end of the
        block where the block's producer splits separate bundles."""
        p = self.protocol
        rewards = p.liquidation.rewards(np.asarray(enabled, dtype=np.int64), -1).tolist()
        writers = np.empty(0, dtype=np.int64)
        if self.options is not None:
            writers = np.setdiff1d(self.options.liquidatable(t), self._writers_before)
            rewards += [self.options.reward(w, t) for w in writers.tolist()]
        if not rewards:
            return
        lots = np.asarray(rewards, dtype=np.int64)
        best: tuple[Bidder, Bid] | None = None
        for bidder in self.bidders:
            if not self.online(bidder.index, t):
                continue
            bid = bid_for(lots, bidder.gas, bidder.min_profit, self.shade_ppm)
            if bid.amount >= 0 and (best is None or bid.amount > best[1].amount):
                best = (bidder, bid)
        if best is None:
            return
        bidder, bid = best
        n = len(enabled)
        order = np.argsort(-lots[:n], kind="stable")  # the richest first
        take = bid.take[:n][order]
        bundle = Bundle(bidder.index, enabled[order][take], writers[bid.take[n:]],
                        bid.amount, block, t)
        if self.honoured(t):
            self._run(bundle)
        else:
            self.split += 1
            self.deferred.append(bundle)

    def _run(self, b: Bundle) -> None:
        """The winner's liquidations, each paying its gas; the bid once any lands."""
        p, ledger = self.protocol, self.protocol.ledger
        account = p.liquidator_account[b.winner]
        gas = int(p.attempt_gas[b.winner])
        n_perps, n_opts = len(p.log.liquidations), len(self._options_log())
        dutch = hasattr(p.liquidation, "auctions")  # one kick starts the auction
        for i in b.accounts.tolist():
            for _ in range(1 if dutch else TRIES_PER_ACCOUNT):
                ledger.transfer(account, p.gas, min(gas, p.balance(account)), "gas")
                if not p.liquidate(b.winner, i, b.block, b.t) or not p.is_liquidatable(i):
                    break
        for w in b.writers.tolist():
            ledger.transfer(account, p.gas, min(gas, p.balance(account)), "gas")
            self.options.liquidate(b.winner, w, b.block, b.t)
        landed = _rows(p.log.liquidations, n_perps, LIQUIDATION)["bonus"].tolist() + \
            _rows(self._options_log(), n_opts, OPTION_LIQUIDATION)["bonus"].tolist()
        if not landed:
            self.unpaid += 1
            return
        self.auctions += 1
        self.bundled += sum(max(int(r), 0) for r in landed)
        paid = min(b.bid, p.balance(account))
        share = paid * self.share_ppm // PPM
        ledger.transfer(account, self.to, share, "recapture")
        ledger.transfer(account, self.network, paid - share, "recapture_oracle")
        self.protocol_paid += share
        self.network_paid += paid - share

    def _options_log(self) -> list:
        return self.options.liquidations if self.options is not None else []

    # after each block ----------------------------------------------------------------
    def on_block(self) -> None:
        """Run the bundles split from their updates (after everything else in their
        block), then count the block's liquidations: their value, and what the sequencing
        side's own identities took."""
        deferred, self.deferred = self.deferred, []
        for bundle in deferred:
            self._run(bundle)
        for rows, attr, dtype in ((self.protocol.log.liquidations, "seen", LIQUIDATION),
                                  (self._options_log(), "seen_options", OPTION_LIQUIDATION)):
            new = _rows(rows, getattr(self, attr), dtype)
            value = np.maximum(new["bonus"], 0)
            self.value += int(value.sum())
            self.bypassed += int(value[new["liquidator"] >= self.outside].sum())
            setattr(self, attr, len(rows))

    def summary(self) -> dict:
        """What the backruns were worth and who got it (USD)."""
        return {"recapture": {
            "backrun_value_usd": usd(self.value),
            "auctions": self.auctions,
            "bundled_usd": usd(self.bundled),
            "protocol_usd": usd(self.protocol_paid),
            "oracle_network_usd": usd(self.network_paid),
            "bypassed_usd": usd(self.bypassed),
            "split_bundles": self.split,
            "unpaid_bundles": self.unpaid,
            "protocol_share": round(self.protocol_paid / self.value, 4) if self.value else 0.0,
        }}


def _rows(rows: list, start: int, dtype: np.dtype) -> np.ndarray:
    """The log's rows from ``start`` on, with named fields (the market view's types)."""
    return np.array(rows[start:], dtype=dtype) if len(rows) > start else np.zeros(0, dtype)
