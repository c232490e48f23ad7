"""Oracle-value recapture (Chainlink SVR, UMA Oval): the backrun of an update is sold.

Without recapture the value an oracle update unlocks — the liquidation rewards of the
accounts it makes liquidatable — goes to whoever gets behind the update first: the
fastest bot, or the sequencer operator that places its own liquidations right after it.
SVR and Oval route the update through an auction for the right to backrun it; searchers
compete, so the winner bids nearly all the value (``bid_share``), and the bid is split
between the protocol (``protocol_share``) and the oracle network.

Here every outside liquidator's liquidation is an auction it won: it pays its bid out
of the reward it just received, in the block it liquidated in. The sequencing side —
an extractive operator, a builder, Timeboost's express-lane controller, each liquidating
under its own identities — sees the update before any auction and liquidates right
behind it without bidding: those liquidations pay nothing, and what they take is
reported as bypassed. The split
is booked on the ledger (the protocol's insurance fund or pool, and an oracle-network
account), so the ledger stays exact.
"""
from __future__ import annotations

from seqlab.metrics.perps import usd
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.scenario.schema import Recapture


class RecaptureAuction:
    """Charges the auction bid on each outside liquidation as blocks execute."""

    def __init__(self, cfg: Recapture, protocol: PerpsProtocol, outside: int) -> None:
        """``outside``: liquidator identities below this index are outside bots (the
        bidders); the rest are the sequencing side's own identities."""
        self.protocol = protocol
        self.outside = outside
        self.bid_ppm = int(round(cfg.bid_share * PPM))
        self.share_ppm = int(round(cfg.protocol_share * PPM))
        self.to = protocol.insurance if cfg.to == "insurance" else protocol.pool
        self.network = protocol.ledger.open("oracle_network")
        self.unseen = 0  # the first block whose liquidations are not yet settled
        self.value = self.protocol_paid = self.network_paid = self.bypassed = 0
        self.auctions = 0

    def on_block(self) -> None:
        """Settle the auctions of the liquidations logged since the last block."""
        p, ledger = self.protocol, self.protocol.ledger
        new = p.market_view().events_since(self.unseen).liquidations
        for liquidator, bonus in zip(new["liquidator"].tolist(), new["bonus"].tolist()):
            value = max(bonus, 0)
            self.value += value
            if liquidator >= self.outside:
                self.bypassed += value
                continue
            account = p.liquidator_account[liquidator]
            bid = min(value * self.bid_ppm // PPM, max(int(ledger.balances[account]), 0))
            share = bid * self.share_ppm // PPM
            ledger.transfer(account, self.to, share, "recapture")
            ledger.transfer(account, self.network, bid - share, "recapture_oracle")
            self.protocol_paid += share
            self.network_paid += bid - share
            self.auctions += 1
        if len(new):
            self.unseen = int(new["block"][-1]) + 1

    def summary(self) -> dict:
        """What the backruns were worth and who got it (USD)."""
        return {"recapture": {
            "backrun_value_usd": usd(self.value),
            "auctions": self.auctions,
            "protocol_usd": usd(self.protocol_paid),
            "oracle_network_usd": usd(self.network_paid),
            "bypassed_usd": usd(self.bypassed),
            "protocol_share": round(self.protocol_paid / self.value, 4) if self.value else 0.0,
        }}
