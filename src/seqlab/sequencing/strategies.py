"""The operator's strategies: what a sequencer operator does with the powers it has.

``Operator.plan`` builds the block an operator would like from the eligible transactions.
Each design decides which of the operator's wishes it honours: a centralized sequencer
honours all of them; a design that forbids holding transactions passes
``can_hold=False`` (then the operator neither censors nor delays updates); a design that
hides contents gives the operator a view whose pending transactions read as unknown
(then content-dependent strategies find nothing to act on, and censorship falls back to
censoring by sender — or to nothing, where senders are hidden too); a design with its
own ordering rule keeps only the operator's inserted transactions and orders everything
itself, and says so (``operator_orders`` False, or ``capabilities.batch_clearing``): there an operator
trade cannot be placed ahead of an update or around a victim, so it has no edge and the
operator does not open one — which also means it never leaves a position open because
the design put its close before its open.

Strategies:

- ``backrun``: when a pending oracle update makes accounts liquidatable, the update goes
  first and the operator's own liquidations right after it, ahead of every outside
  liquidator (on a firewalled oracle network, where it cannot read a pending update, at
  the top of the block after the update has landed);
- ``censor``: a top-up from an account at risk at the coming price is held back (up to
  ``max_censor_delay``) and the operator liquidates the account once it can; with
  ``hold_takes``, under Dutch auctions, outside keepers' takes are held back too (up to
  the same delay) so the auction price keeps falling, and the operator takes the lot
  itself just before a held take must be released or the auction would need a reset;
- ``stale_oracle``: before a pending update that moves the price by more than
  ``stale_min_move``, the operator trades at the stale on-chain price the size that
  earns most on the round trip (``stale_size``: the move less two fees, the skew
  premium, the open-interest cap, its margin, and at most ``stale_trade_usd`` where set;
  under delayed orders, which fill at a later price, nothing), holds the update up to
  ``oracle_delay``, and closes right after the update
  executes, or as soon as the chain has made its move without it (the recapture feed's
  fallback stored the round, or the stored price got there); where an options market runs beside the perps it also buys, at the stale
  marks, the series the update lifts most (``stale_option_usd``), paid the writers'
  old price;
- ``sandwich``: where fills have price impact, a large order is wrapped between the
  operator's own trade in the same direction and its closing trade, when the impact
  pays for both fees.

With ``backrun`` or ``stale_oracle`` a block is laid out as: stale-price trade, released
oracle updates, stale close, operator liquidations, then the remaining transactions in
arrival order with sandwiches around their victims. Without them oracle updates keep
their arrival position and the operator's liquidations follow the last one.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from seqlab.arrays import member
from seqlab.protocols.perps import PPM
from seqlab.rollup.fees import NO_CAPABILITIES
from seqlab.scenario.schema import STRATEGIES, Strategy
from seqlab.sequencing.fcfs_rule import NO_UPDATES, UPDATES_FIRST, FcfsRule
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.stale_size import known_fill, stale_trade_usd
from seqlab.txs import Kind, KindInt

ALL_STRATEGIES = STRATEGIES
MIN_OPTION_MARK = 0.001  # stale option buys skip series worth less than this × spot
LIQUIDATIONS_PER_ACCOUNT = 2  # a second try takes the rest when the first leaves it liquidatable
TAKE_LOOKAHEAD_US = 1_000_000  # hold_takes: take while the auction is still live this far ahead


class Operator:
    """A sequencer operator running ``strategies`` through an ``OperatorView``."""

    def __init__(self, params: Strategy, strategies: tuple[str, ...] = ALL_STRATEGIES,
                 orders: bool = True) -> None:
        unknown = set(strategies) - set(ALL_STRATEGIES)
        if unknown:
            raise ValueError(f"unknown strategies {sorted(unknown)}")
        self.strategies = frozenset(strategies)
        # trades that need a place in the block (ahead of an update, around a victim)
        # only where the design keeps the operator's layout
        self.trades = self.strategies if orders else self.strategies - {"stale_oracle",
                                                                         "sandwich"}
        self.params = params
        # oracle update -> (side traded ahead of it, its price, its round)
        self._stale_open: dict[int, tuple[int, int, int]] = {}
        self._censored_writers = np.empty(0, dtype=np.int64)
        self._seen_update = -1  # firewalled feed: the last landed update backrun
        self.view: OperatorView | None = None

    def attach(self, view: OperatorView) -> None:
        self.view = view

    def fcfs_rule(self) -> FcfsRule | None:
        """The blocks this operator leaves as they arrived (``fcfs_rule``), where it
        reads contents and pending updates and nothing runs beside the perps: while it
        holds nothing (``idle``), a block without a top-up or liquidation (which the
        runner leaves to the design anyway) gives ``censor`` nothing, ``backrun`` and
        ``stale_oracle`` nothing with an update that moves the price less than
        ``stale_min_move`` and leaves nobody liquidatable (the update goes first: the
        rule's ``UPDATES_FIRST``; held, with ``oracle_delay``, it is the operator's), and
        ``sandwich`` nothing without a trade whose impact pays two fees at the price the
        block's updates leave."""
        view, prm = self.view, self.params
        if view is None or not view.contents_visible or view.sealed_updates \
                or view.options is not None or prm.hold_takes:
            return None
        p = view.protocol
        rule = FcfsRule()
        if {"backrun", "stale_oracle"} & self.strategies:  # updates go first
            stale = "stale_oracle" in self.trades
            rule = replace(rule, updates=NO_UPDATES if stale and prm.oracle_delay
                           else UPDATES_FIRST,
                           stale_move=prm.stale_min_move if stale else math.inf)
        if "censor" in self.strategies:
            rule = replace(rule, hold_for=prm.max_censor_delay,
                           hold_margin=prm.censor_trigger * (p.mm_ppm / PPM),
                           inbox_margin=prm.censor_trigger * p.mm_ppm / PPM)
        if "sandwich" in self.trades and p.scale_units:
            rule = replace(rule, wrap_least=math.ceil(prm.sandwich_min_usd * PPM),
                           wrap_scale=p.scale_units, wrap_fees=2 * (p.fee_ppm / PPM))
        return rule

    def idle(self) -> bool:
        """No stale-price round trip open, no option writer censored."""
        return not self._stale_open and not len(self._censored_writers)

    def holding(self, ids: np.ndarray, arrival: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """``ids`` (arrived at ``arrival``), pending with this operator, as ``Design.held``
        gives them: top-ups it judges each block by ``fcfs_rule``'s hold, or None."""
        if not len(ids):
            return ids, arrival
        if "censor" not in self.strategies or (self.view.kind(ids) != KindInt.TOPUP).any():
            return None
        return ids.copy(), arrival.copy()

    def plan(self, cand: np.ndarray, arrival: np.ndarray, now: int,
             can_hold: bool = True) -> np.ndarray:
        """The block the operator builds from eligible txs ``cand`` (arrival order)."""
        return self._shape(cand, arrival, now, can_hold)

    def _shape(self, cand: np.ndarray, arrival: np.ndarray, now: int,
               can_hold: bool) -> np.ndarray:
        """The block the operator builds from eligible txs ``cand`` (arrival order).

        The hold mask is made only when something may be held: most blocks hold
        nothing, and a dozen small array operations on them cost more than the rest."""
        view = self.view
        assert view is not None, "extractive design needs attach(OperatorView)"
        p, prm = view.protocol, self.params
        kind = view.kind(cand)  # read once: the helpers below take it rather than read again
        any_oracle = KindInt.ORACLE in kind.tolist()  # a list test: no array reduction
        is_oracle = kind == KindInt.ORACLE if any_oracle else None
        hold: np.ndarray | None = None  # None: nothing held
        before: list[int] = []  # the operator's txs ahead of the oracle update
        price_now = p.price
        if "stale_oracle" in self.trades and any_oracle and price_now:
            before += self._stale_open_trade(int(cand[is_oracle][-1]), now)
            if prm.oracle_delay and can_hold:
                hold = is_oracle & (arrival + prm.oracle_delay > now)
        released = (cand[is_oracle] if hold is None else cand[is_oracle & ~hold]).tolist() \
            if any_oracle else []
        after = [view.insert(Kind.CLOSE, view.accounts.stale, now)
                 for u in released + self._landed_anyway()
                 if self._stale_open.pop(u, None) is not None]
        price_after = int(view.payload(np.array(released[-1:]))[0]) if released else price_now
        censored = np.empty(0, dtype=np.int64)
        if "censor" in self.strategies and price_after and can_hold:
            censored, held_topups = self._censor(cand, kind, arrival, price_after, now)
            hold = _either(hold, held_topups)
            if prm.hold_takes:
                held_takes, own_takes = self._hold_takes(cand, kind, arrival, price_after, now)
                hold = _either(hold, held_takes)
                after += own_takes
        if not can_hold:
            hold = None
        after += self._liquidations(price_after, censored, now,
                                    bool(released) or self._landed_unseen(p))
        if hold is not None:
            view.txs.hold(cand[hold])
        if {"backrun", "stale_oracle"} & self.strategies:  # updates go first
            rest = _without(cand, kind, _either(hold, is_oracle))
            return _joined(before + released + after, self._body(*rest, price_after, now))
        # updates keep their place
        body = self._body(*_without(cand, kind, hold), price_after, now)
        if not released:
            return _joined(before + after, body)
        body = list(body)
        cut = body.index(released[-1]) + 1
        return np.asarray(before + body[:cut] + after + body[cut:], dtype=np.int64)

    def _landed_anyway(self) -> list[int]:
        """Held updates whose move the chain has already made without them: the stored
        price has reached (or passed) the price traded ahead of, or the protocol has
        stored that round or a newer one (the recapture feed's fallback lands a withheld
        round's public copy). The round trip's gain is made then; keeping the position
        until the held update is released would be a bet on the open market, and the
        update, once stored rounds have passed it, changes nothing."""
        if not self._stale_open:
            return []
        p = self.view.protocol
        stored = p.market_view().events_since(0).oracle_updates
        newest = int(stored["seq"][-1]) if len(stored) else -1
        return [u for u, (side, coming, seq) in self._stale_open.items()
                if side * (p.price - coming) >= 0 or seq <= newest]

    def _landed_unseen(self, protocol) -> bool:
        """On a firewalled oracle network the operator cannot read an update before it
        executes; it learns the new price from the state once the update has landed and
        backruns at the top of the next block instead (once per update)."""
        if not self.view.sealed_updates or protocol.oracle_block == self._seen_update:
            return False
        self._seen_update = protocol.oracle_block
        return True

    def forget_executed(self, pending: np.ndarray) -> bool:
        """Drop the stale-price trades whose oracle update is no longer ``pending``
        though this operator's blocks never released it: someone else's block executed
        it (a rival builder's). Returns whether such a position is left open, so the
        caller closes it: the gain is made once the update executes, whoever includes
        it, and keeping the position would be a naked bet on the next move."""
        if not self._stale_open:
            return False
        waiting = set(pending.tolist())
        gone = [u for u in self._stale_open if u not in waiting]
        for u in gone:
            del self._stale_open[u]
        return bool(gone)

    def _body(self, rest: np.ndarray, kind: np.ndarray, price: int, now: int
              ) -> np.ndarray | list[int]:
        """The remaining txs (``kind``: as the view reads them), sandwiched if it pays
        (``rest`` itself where nothing is wrapped)."""
        if "sandwich" in self.trades:
            return self._sandwiches(rest, kind, price, now)
        return rest

    def _stale_open_trade(self, update: int, now: int) -> list[int]:
        """Trade at the stale on-chain price ahead of a price-moving update, one round
        trip at a time. The operator's account holds one net position and its close
        closes all of it, so a second trade opened while an update is held (``oracle_delay``
        under a fast feed: a new update arrives every few seconds) would be closed when the
        first update lands, before its own moves the price: fees both ways for nothing."""
        view, prm, price = self.view, self.params, self.view.protocol.price
        coming = int(view.payload(np.array([update]))[0])
        if self._stale_open or abs(coming - price) <= prm.stale_min_move * price:
            return []
        p, acct = view.protocol, view.accounts.stale
        usd = stale_trade_usd(p, acct, coming, known_fill(p), prm)
        if not usd:
            return self._stale_option_buy(coming, now)
        seq = int(view.txs.target(np.array([update]))[0])
        self._stale_open[update] = (1 if usd > 0 else -1, coming, seq)
        return [view.insert(Kind.TRADE, acct, now, a=usd), *self._stale_option_buy(coming, now)]

    def _stale_option_buy(self, coming: int, now: int) -> list[int]:
        """Buy, at the stale marks, the option series the coming price lifts most per
        dollar: the writers who sell it are paid the old price for a dearer option."""
        view, prm = self.view, self.params
        opt = view.options
        if opt is None or not view.contents_visible or prm.stale_option_usd <= 0:
            return []
        old, new = opt.marks(now), opt.marks(now, coming)
        live = (old > MIN_OPTION_MARK * view.protocol.price / PPM) & (opt.expiry > now)
        if not live.any():
            return []
        gain = np.where(live, new / np.where(old > 0, old, 1.0), 0.0)
        series = int(np.argmax(gain))
        if gain[series] <= 1.0:
            return []
        qty = min(int(prm.stale_option_usd / old[series] * PPM), opt.capacity(now, series))
        if qty <= 0:
            return []
        return [view.insert(Kind.OPT_BUY, opt.buyer_accounts.operator, now, a=qty, b=series)]

    def _censor(self, cand: np.ndarray, kind: np.ndarray, arrival: np.ndarray, price: int,
                now: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Hold top-ups of accounts at risk at ``price``; returns (accounts, hold mask,
        None where it holds nothing). ``kind`` is ``cand``'s kinds as the view reads them."""
        view, prm = self.view, self.params
        p = view.protocol
        if view.contents_visible:
            if view.options is None and KindInt.TOPUP not in kind.tolist():  # most blocks
                return np.empty(0, dtype=np.int64), None
            fresh = arrival + prm.max_censor_delay > now
            rows = np.flatnonzero((kind == KindInt.TOPUP) & fresh)
        else:  # contents hidden: censor by sender (if it can tell), every tx of one at risk
            if not view.txs.senders_visible and True not in view.txs.own(cand).tolist():
                return np.empty(0, dtype=np.int64), None  # sealed, none its own: no names
            sender = view.known_origin(cand)
            user = (sender >= 0) & (sender < view.accounts.first_outside)
            if not user.any():  # senders sealed too (or no user's tx): nobody to pick out
                return np.empty(0, dtype=np.int64), None
            fresh = arrival + prm.max_censor_delay > now
            rows = np.flatnonzero(user & fresh)
        mask = None  # nothing held yet
        if view.options is not None and view.contents_visible:
            mask = self._censor_writers(cand, kind, fresh, price, now)
        if not len(rows):
            return np.empty(0, dtype=np.int64), mask
        who = view.known_origin(cand[rows])
        equity, notional = p.margin_state(price)
        n = notional[who]
        at_risk = (n > 0) & (equity[who] < prm.censor_trigger * (p.mm_ppm / PPM) * n)
        if mask is None:
            mask = np.zeros(len(cand), dtype=bool)
        mask[rows[at_risk]] = True
        # the accounts, sorted and once each: a handful, where np.unique's fixed cost is
        # most of a block's censoring
        return np.array(sorted(set(who[at_risk].tolist())), dtype=np.int64), mask

    def admit_delayed(self, ids: np.ndarray, ready_us: np.ndarray, now: int) -> int:
        """With ``censor``: stop reading the delayed inbox at the first top-up of an
        account at risk that has been includable for less than ``max_censor_delay`` (its
        contents are public L1 calldata). The inbox is read in order, so every later
        message waits too; the force-inclusion window bounds the wait (the rollup)."""
        view = self.view
        if "censor" not in self.strategies or view is None or not len(ids):
            return len(ids)
        p, prm = view.protocol, self.params
        kind = view.txs.known_kind(ids)
        cand = np.flatnonzero((kind == KindInt.TOPUP) & (ready_us + prm.max_censor_delay > now))
        if not len(cand) or not p.price:
            return len(ids)
        who = view.origin(ids[cand])
        equity, notional = p.margin_state(p.price)
        at_risk = (notional[who] > 0) & (equity[who] < prm.censor_trigger * p.mm_ppm / PPM
                                         * notional[who])
        if not at_risk.any():
            return len(ids)
        first = int(cand[at_risk][0])
        view.txs.hold(ids[first:first + 1])
        return first

    def _hold_takes(self, cand: np.ndarray, kind: np.ndarray, arrival: np.ndarray, price: int,
                    now: int) -> tuple[np.ndarray, list[int]]:
        """Hold outside keepers' takes in running Dutch auctions while the price falls;
        take the lot first when a hold would run out or the auction would need a reset
        within ``TAKE_LOOKAHEAD_US``. Returns the hold mask and the operator's takes."""
        view, prm = self.view, self.params
        mask = np.zeros(len(cand), dtype=bool)
        mechanism = view.protocol.liquidation
        if not getattr(mechanism, "auctions", None) or not view.contents_visible:
            return mask, []
        takes = np.flatnonzero((kind == KindInt.LIQUIDATE) & ~view.txs.own(cand))
        target = view.txs.target(cand[takes])
        live = member(target, np.fromiter(mechanism.auctions, np.int64))
        takes, target = takes[live], target[live]
        fresh = arrival[takes] + prm.max_censor_delay > now
        mask[takes[fresh]] = True
        due = [acct for acct in np.unique(target).tolist()
               if acct in target[~fresh] or mechanism.resets_by(acct, now + TAKE_LOOKAHEAD_US)]
        return mask, [view.insert(Kind.LIQUIDATE, view.accounts.censor, now,
                                  a=self.break_even(mechanism, acct, price, now), b=acct)
                      for acct in due]

    def break_even(self, mechanism, acct: int, price: int, now: int) -> int:
        """The highest auction price at which taking ``acct``'s whole position and
        selling it on the venue at oracle ``price`` still pays the operator (micro-USD,
        at least 1)."""
        size = int(self.view.protocol.size[acct])
        if not size:
            return 1
        impact = mechanism.venue.impact(size, price, now)
        return max(1, price - -(-impact * PPM // abs(size)))

    def _censor_writers(self, cand: np.ndarray, kind: np.ndarray, fresh: np.ndarray,
                        price: int, now: int) -> np.ndarray:
        """Hold option writers' top-ups when they are at risk at ``price``; remember them
        so their liquidation is the operator's."""
        view = self.view
        opt_topup = (kind == KindInt.OPT_TOPUP) & fresh
        self._censored_writers = np.empty(0, dtype=np.int64)
        if not opt_topup.any():
            return opt_topup
        writers = view.origin(cand[opt_topup])
        equity, need = view.options.margin_state(now, price)
        at_risk = (need[writers] > 0) & (equity[writers] < self.params.censor_trigger
                                         * need[writers])
        self._censored_writers = np.unique(writers[at_risk])
        mask = np.zeros(len(cand), dtype=bool)
        mask[np.flatnonzero(opt_topup)[at_risk]] = True
        return mask

    def _liquidations(self, price: int, censored: np.ndarray, now: int,
                      update_seen: bool) -> list[int]:
        """The operator's own liquidations: after a visible oracle update (backrun), every
        account liquidatable at its price; censored accounts whenever liquidatable."""
        backrun = "backrun" in self.strategies and update_seen
        if not price or not (backrun or len(censored) or len(self._censored_writers)):
            return []
        view = self.view
        targets = view.user_accounts(view.protocol.liquidatable(price))
        if not len(targets) and view.options is None:  # a held top-up's usual block
            return []
        is_censored = member(targets, censored)
        if not backrun:
            targets, is_censored = targets[is_censored], is_censored[is_censored]
        out = []
        mechanism = view.protocol.liquidation
        dutch = hasattr(mechanism, "auctions")  # a take bids no more than breaks even
        for acct, cens in zip(targets.tolist(), is_censored.tolist()):
            who = view.accounts.censor if cens else view.accounts.backrun
            bid = self.break_even(mechanism, acct, price, now) if dutch else 0
            for _ in range(LIQUIDATIONS_PER_ACCOUNT):
                out.append(view.insert(Kind.LIQUIDATE, who, now, a=bid, b=acct))
        if view.options is not None:  # option writers: after an update, or censored
            writers = view.options.liquidatable(now, price)
            censored_w = member(writers, self._censored_writers)
            for writer, cens in zip(writers.tolist(), censored_w.tolist()):
                if backrun or cens:
                    who = view.accounts.censor if cens else view.accounts.backrun
                    out.append(view.insert(Kind.OPT_LIQUIDATE, who, now, b=writer))
        return out

    def _victim_fills(self, tx: int, a: int, size_usd: int, price: int) -> bool:
        """Whether the victim's trade would still fill behind the operator's front-run
        (its limit and its margin at the fill the front-run moves): a victim that fails
        leaves the operator two fees and no gain."""
        view = self.view
        ids = np.array([tx], dtype=np.int64)
        victim, limit = int(view.origin(ids)[0]), int(view.txs.target(ids)[0])
        ahead = (1 if a > 0 else -1) * (size_usd * PPM // price)
        return view.protocol.can_trade(victim, a, limit, ahead)

    def _sandwiches(self, rest: np.ndarray, kind: np.ndarray, price: int, now: int
                    ) -> np.ndarray | list[int]:
        """Wrap large orders whose price impact pays for the operator's two fees
        (``kind``: ``rest``'s kinds as the view reads them; ``rest`` itself where there
        is no trade to wrap)."""
        view, prm = self.view, self.params
        p = view.protocol
        kinds = kind.tolist()
        if not p.scale_units or not price or KindInt.TRADE not in kinds:  # no order to wrap
            return rest
        fee_rate = p.fee_ppm / PPM
        size_usd = int(round(prm.sandwich_size_usd * PPM))
        amounts = view.payload(rest).tolist()
        trade, least = KindInt.TRADE, prm.sandwich_min_usd * PPM

        def impact_pays(size: int) -> bool:
            """Whether an order of ``size`` (|amount|) moves the price by more than the
            operator's two fees; non-decreasing in ``size``."""
            return size >= least and (size * PPM // price) / p.scale_units > 2 * fee_rate

        if not impact_pays(max(map(abs, amounts))):  # not even the largest: none (most blocks)
            return rest
        out: list[int] | None = None  # None: nothing wrapped so far (the block is ``rest``)
        for n, (tx, kind, a) in enumerate(zip(rest.tolist(), kinds, amounts)):
            if (kind == trade and impact_pays(abs(a))
                    and self._victim_fills(tx, a, size_usd, price)):
                if out is None:
                    out = rest[:n].tolist()
                side = 1 if a > 0 else -1
                out.append(view.insert(Kind.TRADE, view.accounts.sandwich, now, a=side * size_usd))
                out.append(tx)
                out.append(view.insert(Kind.CLOSE, view.accounts.sandwich, now))
            elif out is not None:
                out.append(tx)
        return rest if out is None else out


def _either(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The union of two masks, either of which may be None (nothing set)."""
    if a is None:
        return b
    return a if b is None else a | b


def _without(cand: np.ndarray, kind: np.ndarray, mask: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """``cand`` and its ``kind`` less the rows ``mask`` sets (None: the arrays as they are)."""
    return (cand, kind) if mask is None else (cand[~mask], kind[~mask])


def _joined(head: list[int], body: np.ndarray | list[int]) -> np.ndarray:
    """``head`` then ``body`` as one id array (``body`` as it is when nothing leads)."""
    if not head:
        return np.asarray(body, dtype=np.int64)
    return np.asarray(head + (body.tolist() if isinstance(body, np.ndarray) else body),
                      dtype=np.int64)


def keeps_operator_order(design: object) -> bool:
    """Whether ``design`` lets its operator place its own trades relative to others': it
    keeps the operator's block layout (``operator_orders``) and fills each trade at its
    place in the block (where a block clears at one uniform price the place is worth
    nothing)."""
    return bool(getattr(design, "operator_orders", True)
                and not getattr(design, "capabilities", NO_CAPABILITIES).batch_clearing)


class HostsOperator:
    """For designs that may host an extractive operator: build it from the strategies
    (none when there are none) and pass it the view when the design is attached."""

    operator: Operator | None = None
    view: OperatorView | None = None

    def host(self, params: Strategy, strategies: tuple[str, ...] | None) -> None:
        self.operator = Operator(params, strategies, keeps_operator_order(self)) \
            if strategies else None

    def attach(self, view: OperatorView) -> None:
        self.view = view
        if self.operator is not None:
            self.operator.attach(view)
