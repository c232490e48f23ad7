"""The express lane: its auction, what its controller sends, and the books it keeps.

Both designs with an express lane use it: Timeboost on a centralized sequencer (Arbitrum:
``sequencing.timeboost``) and the committee's decentralized Timeboost option
(``sequencing.committee``), which differ only in how the controller's transactions are
placed among the others.

Time is cut into rounds (60 s). The right to control the next round's lane is sold in a
sealed-bid second-price auction that closes ``auction_closing`` (15 s) before the round:
the highest bid at or above the reserve wins and pays the second-highest bid, or the
reserve when it is alone above it; the payment is an on-chain transfer from the
searchers to the treasury. The controller cannot see or reorder anyone else's
transactions.

The searchers (``searchers.Bidders``) are unequal and rational: each forecasts the
coming round from what the lane earned in the previous ones and from the public
opportunities, and shades its bid below its own share of that forecast (winner's curse,
risk, its own record), so the price emerges from the simulation and controllers do not
pay more than the lane gives them on average. Simplification: bids are formed with what
is known at the round boundary, and the winner pays at the start of its round.

The controller uses the lane the way the extractive operator's content-free strategies
can, through the operator's accounts: it liquidates accounts that the public state shows
liquidatable, where the lane can place a transaction right behind an ordinary one it
tries those an oracle update that a feed poll has triggered will make liquidatable, and
when the off-chain reference price has moved away from the on-chain price it trades at
the stale on-chain price, with a limit, closing once the update has landed. It is
rational about reverts, which cost ``express_gas_usd`` each: it sends nothing it knows
will fail (no second try on an account a first one clears, no guess at an update no poll
has triggered), so what reverts are real races — an update a block late or at another
price than expected, a keeper ahead of it, a stale-price trade beaten to its limit
because its transactions reach the sequencer its latency after what it reacted to. The
run's rounds are kept in a ``RoundBook`` whose figures are the summary's
``design_metrics``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from seqlab.kernel import keyed_normals
from seqlab.ledger import EXTERNAL
from seqlab.protocols.perps import PPM
from seqlab.rollup.fees import pay_from_searchers
from seqlab.scenario.schema import Strategy
from seqlab.sequencing.express_rounds import RoundBook
from seqlab.sequencing.reserve_pricer import ReservePricer
from seqlab.sequencing.searchers import Bidders
from seqlab.sequencing.stale_size import (known_fill, rule_value, stale_profit_usd,
                                          stale_trade_usd)
from seqlab.sequencing.timeboost_config import Timeboost
from seqlab.txs import KIND_NAMES, Kind, Status


def second_price_auction(bids: np.ndarray, reserve: float) -> tuple[int | None, float]:
    """Winner (index of the highest bid at or above ``reserve``; lowest index on ties) and
    price: the second-highest bid, or the reserve if no other bid reaches it."""
    bids = np.asarray(bids, dtype=np.float64)
    eligible = np.flatnonzero(bids >= reserve)
    if not len(eligible):
        return None, 0.0
    winner = int(eligible[np.argmax(bids[eligible])])
    others = np.delete(bids, winner)
    second = float(others.max()) if len(others) else reserve
    return winner, max(second, reserve)


class ExpressLane:
    """One rollup's express lane: its auctions, its controller and the rounds' books.

    ``delay``: how long an ordinary transaction waits before it can be sequenced (what an
    update posted by the oracle waits too). ``behind_updates``: whether the design places
    the controller's transactions among the others by the time they arrive, so that one
    can land right behind an oracle update in the update's own block (Timeboost); where
    the lane's transactions go ahead of every ordinary one in a block (the committee's
    priority bundles) a try there would land in front of the update and revert, so the
    controller waits for the update to execute. ``keep_waiting``: whether a transaction
    the lane sent always runs in the end (the committee keeps it until a block takes it)
    or may be cut from a full block and never run (Timeboost's per-block limit)."""

    def __init__(self, tb: Timeboost, strategy: Strategy, strategies: tuple[str, ...],
                 delay: int, behind_updates: bool, keep_waiting: bool = False) -> None:
        self.tb, self.strategy = tb, strategy
        self.strategies = frozenset(strategies)
        self.delay, self.behind_updates, self.keep_waiting = delay, behind_updates, keep_waiting
        self.view = None
        self.bidders = Bidders(tb)
        self.reserve = ReservePricer(tb)
        self.book = RoundBook([s.name for s in tb.searchers])
        self.round = -1
        self.current: int | None = None      # the book's index of the round in progress
        self.controller: int | None = None
        self._unseen = 0  # the first block whose liquidations and updates are not valued
        self._last_price = 0  # the on-chain price before them (0: none yet)
        self._pending: list[tuple[int, int]] = []  # (express tx, book index) not yet run
        self._liq_mark = 0   # the lane's liquidation account balance at the last look
        self._earned = 0.0   # what the lane earned (after gas) since the round began (USD)
        self._unsettled: list[int] = []  # won rounds not yet in their winner's record
        self._stale: _StaleTrade | None = None
        self._tried_price = 0  # on-chain price a stale-price trade was last tried at
        self._ahead_poll = -1  # the oracle poll whose update the lane last tried ahead of
        # the last poll read and the reference then (micro-USD)
        self._poll_ref: tuple[int | None, int] = (None, 0)
        self.rounds: list[tuple[int, int | None, float]] = []  # (round, winner, price USD)

    def attach(self, view) -> None:
        self.view = view

    def step(self, now: int, prev: int) -> tuple[list[int], list[int], list[int]]:
        """The lane at the block built at ``now`` (the previous one at ``prev``): book
        what has run, hold the auction at a round boundary, and return its settlement
        (to go first), then the controller's transactions with the time each reaches the
        sequencer."""
        if self.view is None or not self.strategies:  # nobody to use the lane
            return [], [], []
        self._account()
        head = self._new_round(now)
        ids, times = self._express(now, prev)
        return head, ids, times

    def forget(self, ids: np.ndarray) -> None:
        """Transactions the sequencer dropped (a bundle whose epoch ended): they will
        never run, so the lane stops waiting to book them."""
        gone = set(np.asarray(ids).tolist())
        self._pending = [(tx, k) for tx, k in self._pending if tx not in gone]

    def metrics(self, horizon_us: int) -> dict:
        """The auction and the lane, round by round, summed up (``design_metrics``)."""
        if not self.book.round_no:
            return {}
        return {"design_metrics": self.book.metrics(horizon_us)}

    # the auction ----------------------------------------------------------------------
    def _round_opportunity(self) -> tuple[float, float]:
        """USD a perfect lane controller could have taken since the last look (public
        data): the liquidation rewards paid (value someone took), and the stale-price
        round trips its own rule would have made (value nobody but the controller
        takes): ahead of each update that moved the price by more than
        ``stale_min_move``, the size its trade takes (``stale_trade_usd``, the market as
        it is now), when its transactions can beat an update to the chain at all."""
        v = self.view
        p = v.protocol
        new = v.market.events_since(self._unseen)
        liq, orc = new.liquidations, new.oracle_updates
        bonus = int(liq["bonus"].sum()) / PPM
        prices = orc["price"].tolist()
        stale = 0.0
        if "stale_oracle" in self.strategies and self._beats_updates():
            known = bool(known_fill(p))
            stale = rule_value(
                self._last_price, prices, self.tb.stale_min_move,
                lambda fill, coming: stale_profit_usd(p, v.accounts.stale, coming,
                                                      fill if known else 0, self.strategy))
        if prices:
            self._last_price = prices[-1]
        last = max(liq["block"][-1] if len(liq) else -1, orc["block"][-1] if len(orc) else -1)
        self._unseen = max(self._unseen, int(last) + 1)
        return bonus, stale

    def _beats_updates(self) -> bool:
        """Whether the fastest searcher's trade, sent when the reference crosses the gap
        a feed poll sees, reaches the sequencer before that poll's update can be
        sequenced: the update travels the feed's latency and then waits ``delay`` like
        every non-express transaction, which is the lane's whole head start."""
        feed = self.view.oracle
        if feed is None or not len(self.bidders):
            return False
        return int(self.bidders.latency_us.min()) < feed.latency.median + self.delay

    def _new_round(self, now: int) -> list[int]:
        """At a round boundary: learn from the last round, run the auction, settle it."""
        r = now // self.tb.round
        if r == self.round:
            return []
        if self.round >= 0:
            self._learn()
        self.round = r
        bids = self.bidders.bids(self.view.seed, r)
        reserve = self.reserve.price()
        self.controller, price = second_price_auction(bids, reserve)
        self.current = self.book.open(r, bids, reserve, self.controller, price)
        self.rounds.append((r, self.controller, price))
        if self.controller is None:
            return []
        self.reserve.record(price)
        return [self.view.insert(Kind.AUCTION, self.controller, now,
                                 a=int(round(price * PPM)))]

    def _learn(self) -> None:
        """What the finished round showed: everyone's forecast, and the winners' records
        of the rounds whose outcome is known (a round whose stale-price trade is still
        open waits until it has closed)."""
        k = self.current
        won = self.book.winner[k] if k is not None else -1
        if won >= 0:
            self._unsettled.append(k)
        open_k = self._stale.book if self._stale is not None else None
        for j in [j for j in self._unsettled if j != open_k]:
            self.bidders.settle(self.book.winner[j], self.book.net(j), self.book.price[j],
                                self.book.round_no[j], self.round)
        self._unsettled = [j for j in self._unsettled if j == open_k]
        taken, untaken = self._round_opportunity()
        self.bidders.observe(taken, self._earned if won >= 0 else None,
                             won if won >= 0 else None, untaken_usd=untaken)
        self._earned = 0.0

    # what the lane earned --------------------------------------------------------------
    def _account(self) -> None:
        """Book what the lane's executed transactions did: gas for each (paid from the
        searchers' funds whether it succeeded or not), reverts, liquidation rewards and
        closed stale-price trades, each to the round whose controller sent it."""
        p = self.view.protocol
        status, waiting = p.txs.status, []
        gas = int(round(self.tb.express_gas_usd * PPM))
        for tx, k in self._pending:
            st = int(status[tx])
            if st == Status.PENDING:
                if self.keep_waiting or k >= self.current - 1:  # not run yet
                    waiting.append((tx, k))
                continue  # older: cut from a full block, never to run
            pay_from_searchers(p.ledger, self.view.sequencer_side.searchers, EXTERNAL, gas,
                               "express_gas")
            self.book.gas[k] += gas / PPM
            self._earned -= gas / PPM
            self.book.executed(k, str(KIND_NAMES[p.txs.kind[tx]]), st == Status.FAILED)
        self._pending = waiting
        mark = p.balance(p.liquidator_account[self.view.accounts.backrun])
        if self.current is not None:
            self._gross(self.current, (mark - self._liq_mark) / PPM)
        self._liq_mark = mark
        self._settle_stale()

    def _gross(self, k: int, usd: float) -> None:
        """Value the lane earned: the round ``k`` that sent it, and the running total a
        watcher of the chain sees earned in the current minute."""
        self.book.gross[k] += usd
        self._earned += usd

    def _settle_stale(self) -> None:
        """Once the stale-price trade's open has reverted or its close has run, its
        profit (the account's equity change) goes to the round that opened it."""
        trade = self._stale
        if trade is None:
            return
        p, acct = self.view.protocol, self.view.accounts.stale
        status = p.txs.status
        last = trade.open_tx if trade.close_tx is None else trade.close_tx
        if status[last] == Status.PENDING:
            return
        if trade.close_tx is None and status[last] == Status.OK:
            return  # open: wait for the update
        if p.size[acct]:  # the close failed: send it again
            trade.close_tx = None
            return
        self._gross(trade.book, (p.equity(acct) - trade.mark) / PPM)
        self._stale = None

    # the controller -------------------------------------------------------------------
    def _express(self, now: int, prev: int) -> tuple[list[int], list[int]]:
        """What searchers send through the lane, from public information only, with the
        time each reaches the sequencer: the controller reacts to the block at ``prev``
        (liquidations, closes) or to the reference price (stale-price trades), and its
        transaction arrives its latency later."""
        ids: list[int] = []
        times: list[int] = []
        if self.controller is None:
            return ids, times
        lat = int(self.bidders.latency_us[self.controller])
        if "stale_oracle" in self.strategies:
            for tx, t in self._stale_trade(now, prev, lat):
                ids.append(tx)
                times.append(t)
        if "backrun" in self.strategies:
            sent, at = self._liquidations(now, prev, lat)
            ids += sent
            times += at
        self._pending += [(tx, self.current) for tx in ids]
        return ids, times

    def _liquidations(self, now: int, prev: int, lat: int) -> tuple[list[int], list[int]]:
        """Liquidations the controller sends, with when each reaches the sequencer.

        Accounts the public state shows liquidatable go out as soon as the controller has
        seen the last block, one try each: the lane puts it ahead of every other keeper,
        so whatever a partial close leaves it takes in the next block instead of with a
        second try that reverts whenever the first closed the whole position. Ahead of an
        oracle update it tries the accounts the update will make liquidatable
        (``_coming``), timed to the end of the block so as to land behind it. Each
        account is found with the controller's skill (keyed by account and round); none
        is sent while a try on it is still waiting."""
        v, p = self.view, self.view.protocol
        sure = v.user_accounts(p.liquidatable())
        ahead = self._coming(now, lat, sure) if self.behind_updates else sure[:0]
        if not len(sure) and not len(ahead):  # most blocks: nobody to try
            return [], []
        waiting = {int(p.txs.b[tx]) for tx, _ in self._pending
                   if p.txs.kind[tx] == Kind.LIQUIDATE}
        skill = self.bidders.skill[self.controller]
        ids: list[int] = []
        times: list[int] = []
        for accounts, t in ((sure, min(prev + lat, now)), (ahead, now)):
            if not len(accounts):
                continue
            z = keyed_normals(v.seed, "timeboost.skill", accounts, self.round)
            for acct in accounts[ndtr(z) < skill].tolist():
                if acct not in waiting:
                    ids.append(v.insert(Kind.LIQUIDATE, v.accounts.backrun, now, b=acct))
                    times.append(t)
        return ids, times

    def _coming(self, now: int, lat: int, sure: np.ndarray) -> np.ndarray:
        """Accounts the oracle update due in this block will make liquidatable, or none.

        The feed's rules are public: it polls every ``poll`` and posts when the price has
        moved more than ``deviation`` from the last one, and the update reaches the
        sequencer its latency after the poll and waits ``delay`` like everyone else's
        transactions. So the controller looks at the reference at the last poll whose
        update would be in this block and that it has seen in time to send: if it lay
        past the deviation from the on-chain price and no update has executed since, it
        expects one at about that price and tries, once per poll, the accounts that
        price makes liquidatable. A try reverts, at its gas, when the feed's median did
        not cross after all, the update came a block late, the account is not
        liquidatable at the posted price or another keeper took it first; it does not
        guess at updates that no poll has triggered."""
        v, p, feed = self.view, self.view.protocol, self.view.oracle
        if feed is None or v.reference is None or not p.price:
            return np.empty(0, dtype=np.int64)
        lands = feed.latency.median + self.delay
        poll = (min(now - lands, now - lat) // feed.poll) * feed.poll
        if poll <= self._ahead_poll:  # tried already (the events are not read for it)
            return np.empty(0, dtype=np.int64)
        updates = v.market.events_since(0).oracle_updates
        if len(updates) and updates["t_us"][-1] >= poll:
            return np.empty(0, dtype=np.int64)
        if poll != self._poll_ref[0]:  # a poll is read by the few blocks after it
            self._poll_ref = (poll, int(round(v.reference.at_one(poll) * PPM)))
        ref = self._poll_ref[1]
        if abs(ref - p.price) <= feed.deviation * p.price:
            return np.empty(0, dtype=np.int64)
        self._ahead_poll = poll
        return np.setdiff1d(v.user_accounts(p.liquidatable(ref)), sure)

    def _stale_trade(self, now: int, prev: int, lat: int) -> list[tuple[int, int]]:
        """Open a trade at the stale on-chain price when the reference has moved away from
        it (both as the controller saw them, its latency ago); close it once an update has
        landed. The open carries a limit halfway to the reference, so it reverts if an
        update (or the market moving back) got there first; the close goes out once the
        update is visible on chain."""
        v, p = self.view, self.view.protocol
        if not p.price:
            return []
        trade = self._stale
        if trade is not None:
            opened = trade.close_tx is None and p.txs.status[trade.open_tx] == Status.OK
            if opened and p.price != trade.price:
                trade.close_tx = v.insert(Kind.CLOSE, v.accounts.stale, now)
                return [(trade.close_tx, min(prev + lat, now))]
            return []
        then = _onchain_at(v.market.events_since(0).oracle_updates, now - lat)  # as seen
        if not then or then == self._tried_price:
            return []
        seen = _first_gap(v.reference, then, self.tb.stale_min_move, prev - lat, now - lat)
        if seen is None:
            return []
        t, ref = seen
        self._tried_price = then
        size = stale_trade_usd(p, v.accounts.stale, int(ref), then if known_fill(p) else 0,
                               self.strategy)
        if not size:
            return []
        side = 1 if size > 0 else -1
        usd = side * int(round(self.bidders.skill[self.controller] * abs(size)))
        # halfway to the reference, moved by the skew premium a trade this size pays
        # (else a large trade misses its own limit): reverts if an update got there first
        limit = int(round((then + ref) / 2)) + p.quote(usd) - p.price
        tx = v.insert(Kind.TRADE, v.accounts.stale, now, a=usd, b=limit)
        self._stale = _StaleTrade(self.current, then, p.equity(v.accounts.stale), tx)
        return [(tx, min(t + lat, now))]


def _onchain_at(updates: np.ndarray, t_us: int) -> int:
    """The on-chain price as of ``t_us`` (the last of the ``ORACLE_UPDATE`` rows executed
    by then; 0 before the first): what a searcher whose transactions take until now to
    arrive had seen."""
    k = int(updates["t_us"].searchsorted(t_us, side="right"))  # the method: no dispatch
    return int(updates["price"].item(k - 1)) if k else 0


@dataclass
class _StaleTrade:
    """The lane's open stale-price trade: the round that opened it (its profit is that
    controller's), the on-chain price it traded against and the account's equity before."""

    book: int
    price: int
    mark: int
    open_tx: int
    close_tx: int | None = None  # the close, once sent


GAP_STEP_US = 10_000  # how finely a searcher watching the reference notices a move (10 ms)
# the relative margin by which a block's price range must stay inside the threshold for
# ``_first_gap`` to skip sampling it: far above float rounding (1e-16), far below a move
GAP_SLACK = 1e-9


def _first_gap(reference, onchain: int, min_move: float, start: int, end: int
               ) -> tuple[int, float] | None:
    """The first moment in ``(start, end]`` the reference (micro-USD) sat more than
    ``min_move`` away from the on-chain price, and the reference then; None if never."""
    if end <= start:
        return None
    lo, hi = reference.bounds(start, end)  # a whole block's path well inside: no gap
    slack = GAP_SLACK * onchain + 1.0
    if max(hi * PPM - onchain, onchain - lo * PPM) < min_move * onchain - slack:
        return None
    t = np.arange(end, start, -GAP_STEP_US)[::-1]
    ref = np.asarray(reference.at(t), dtype=np.float64) * PPM
    away = (np.abs(ref - onchain) > min_move * onchain).nonzero()[0]
    if not len(away):
        return None
    return int(t[away[0]]), float(ref[away[0]])
