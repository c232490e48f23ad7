"""Perpetual futures priced by the on-chain oracle, with a liquidity pool as counterparty.

Positions are integer micro-units of the asset; cost basis and all money are integer
micro-USD, so execution is exact and every value movement is a ledger transfer:

- trade / close / reduce at the oracle price, taker fee split between the pool and the
  protocol's fee account (``fee_to_pool_share``);
- initial margin checked on risk-increasing trades, withdrawals keep initial margin;
- realized PnL settles against the pool; a loss beyond an account's margin is carried by
  the insurance fund, deleveraged accounts or the pool, by the ``bad_debt`` rule
  (``protocols.bad_debt``); what the pool is left with is recorded as bad debt;
- liquidation when equity < maintenance margin × notional, by the mechanism the scenario
  picks (``protocols.liquidation``); whatever it pays comes out of the account's margin
  and never exceeds the account's equity above zero;
- funding every ``funding_interval``: the crowded side pays the pool, the pool pays the
  other side, at a rate proportional to the open-interest skew (capped).

Prices used for margin are the on-chain oracle value, never the reference price: that
gap is exactly what a sequencer can exploit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import numpy as np

from seqlab.ledger import Ledger
from seqlab.outages import in_grace
from seqlab.rollup.fees import each_payer
from seqlab.scenario.schema import Perps
from seqlab.txs import Kind, KindInt, Status, TxStore
from seqlab.protocols.bad_debt import BadDebt
from seqlab.protocols.fixed import PPM, split_ppm, toward_zero
from seqlab.protocols.liquidation import make_liquidation
from seqlab.protocols.market_view import NO_ACCOUNTS, MarketView
from seqlab.protocols.margin_kernel import recompute
from seqlab.protocols.perps_kernel import CompiledTrades
from seqlab.protocols.perps_market import PerpsMarketView
from seqlab.protocols.payout import PlannedLiquidation
from seqlab.metrics.perps import PerpsRun, perps_report
from seqlab.protocols.port import Handler, ProtocolPort, RunEnd
from seqlab.protocols.price_rule import PriceRule

_TRADE_KINDS = frozenset((int(Kind.TRADE), int(Kind.CLOSE), int(Kind.REDUCE)))
_LIQUIDATE_KINDS = frozenset((int(Kind.LIQUIDATE), int(Kind.OPT_LIQUIDATE)))  # pay gas
_OK, _FAILED = int(Status.OK), int(Status.FAILED)  # plain ints: enum lookups cost per tx
_TERM = 1 << 61  # below this, three terms of an account's equity sum within int64
YEAR_US = 31_536e9


def _ppm(x: float) -> int:
    return int(round(x * PPM))


@dataclass
class PerpsLog:
    """What the protocol did, for the Result tables."""

    liquidations: list[tuple[int, ...]] = field(default_factory=list)  # market_view.LIQUIDATION
    liquidation_units: list[tuple[int, int]] = field(default_factory=list)  # (t, units closed)
    oracle: list[tuple[int, int, int, int]] = field(default_factory=list)
    bad_debt: int = 0
    bad_debt_events: list[tuple[int, int]] = field(default_factory=list)  # (t, micro-USD)
    pool_shortfall: int = 0
    funding_shortfall: int = 0
    insurance_covered: int = 0  # losses beyond margins the insurance fund paid
    deleveraged: int = 0  # losses beyond margins offsetting accounts paid (deleveraging)


class PerpsProtocol(ProtocolPort):
    """One perp market. ``execute`` runs a block's transactions in order."""

    def __init__(self, cfg: Perps, ledger: Ledger, txs: TxStore, accounts: int,
                 liquidators: list[str],
                 rollup_accounts: Callable[[Ledger], None] | None = None) -> None:
        """``rollup_accounts(ledger)``: the rollup opens its fee market's accounts, called
        right after the market's own are opened (the ledger lists balances in opening
        order and the run's digest reads them so; None: a market without a rollup)."""
        self.cfg = cfg
        self.ledger = ledger
        self.txs = txs
        self.fee_ppm = int(round(cfg.taker_fee_bps * 100))
        self.fee_to_pool_ppm = _ppm(cfg.fee_to_pool_share)
        self.im_ppm, self.mm_ppm = _ppm(cfg.initial_margin), _ppm(cfg.maintenance_margin)
        self.bonus_ppm, self.close_ppm = _ppm(cfg.liquidation_bonus), _ppm(cfg.close_factor)
        self.size = np.zeros(accounts, dtype=np.int64)
        self.basis = np.zeros(accounts, dtype=np.int64)
        self.traded = np.zeros(accounts, dtype=np.int64)  # notional traded (micro-USD)
        # long and short exposure over time (USD·years): what a risk premium is a rate on
        self.exposure = np.zeros((2, accounts), dtype=np.float64)
        self._exposure_t = 0
        self._price_time = 0.0  # integral of the on-chain price over time (USD·years)
        self._price_time_at = np.zeros(accounts, dtype=np.float64)  # at each account's last change
        self.margin_view = MarginView(self)
        self.wallet = ledger.open_many("wallet", accounts)
        self.margin = ledger.open_many("margin", accounts)
        self._margin_of = self.margin.tolist()  # the same, as Python ints: read per tx
        # (accounts, ledger accounts, capital deposited) of legs held off the chain
        self.outside: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.pool = ledger.open("pool")
        self.insurance = ledger.open("insurance")
        self.fees = ledger.open("fees")
        self.liquidator_account = [ledger.open(f"liquidator:{n}") for n in liquidators]
        # what each liquidator brought to buy auction lots with (micro-USD; Dutch only)
        self.keeper_capital = np.zeros(len(liquidators), dtype=np.int64)
        ledger.transfer(0, self.pool, int(round(cfg.pool_usd * PPM)), "deposit")
        ledger.transfer(0, self.insurance, int(round(cfg.insurance_fund_usd * PPM)), "deposit")
        self.scale_units = int(round(cfg.skew_scale * PPM))
        self.skew = 0  # net open interest (micro-units), drives the fill premium
        # each side's open interest (micro-units: longs' sizes, shorts' sizes negated), kept
        # as positions change so the cap check costs no pass over every account
        self._held = {1: 0, -1: 0}
        self._liquidations_run = False  # whether the block just executed tried any
        self._batch_px: int | None = None
        self._fills: list[int] = []
        if rollup_accounts is not None:
            rollup_accounts(ledger)
        self.gas = ledger.open("gas")  # the chain's execution fees, paid per attempt
        self.oracle_payer = ledger.open("oracle")  # the feed's transmitter pays its tips
        # gas per liquidation attempt, by liquidator identity (the operator's pay none)
        self.attempt_gas = np.zeros(len(liquidators), dtype=np.int64)
        # the oracle update (block, time) that made each account liquidatable in its
        # current episode: what a liquidation's delay is measured from (-1: none seen)
        self.enabled_block = np.full(accounts, -1, dtype=np.int64)
        self.enabled_t = np.full(accounts, -1, dtype=np.int64)
        self.oracle_t = -1
        self._outages, self._grace = np.empty((0, 2), np.int64), 0
        self._now, self._begun = 0, -1
        self.extensions: list = []
        self.price_rule: PriceRule | None = None  # staleness limit, delayed orders
        # a liquidation priced by a publication older than the rule's max_age is refused
        self.refuse_stale_liquidations = False
        self.settlement_fee = 0  # a delayed order's keeper fee (micro-USD), to its settler
        self.settlement_keeper = -1  # the settling keepers' account (opened when paid)
        # an auction for each update's backrun, run as the update lands (oracle.recapture)
        self.bundle = None
        # the recapture feed's fallback (oracle.fallback.Fallback): a withheld update's
        # standard copy stored at the start of the first block past its delay
        self.fallback = None
        # the mark for an oracle price (None: the oracle price itself; a live venue's blend)
        self.mark: Callable[[int], int] | None = None
        # a live L2 pool's price path, drawn in the run's price table (None: no live pool)
        self.venue_price_at: Callable[[np.ndarray], np.ndarray] | None = None
        # the run's participants as the metrics read them (users, the operator's and the
        # bots' accounts, ...): named by the factory that assembled the run, read at the end
        self.run_record: PerpsRun | None = None
        self.oi_cap = int(round(cfg.max_open_interest_usd * PPM))  # per side; 0: none
        self.price = 0
        self.oracle_block = -1
        self.next_funding = cfg.funding_interval
        self.log = PerpsLog()
        self._market = PerpsMarketView(self)
        self.liquidation = make_liquidation(cfg, self)
        # whether the mechanism may lock an owner out (Dutch auctions): then every trade
        # asks it, and the compiled trades (``perps_kernel``) stand aside
        self._may_lock = getattr(type(self.liquidation), "locks", None) \
            is not PlannedLiquidation.locks
        self._kernel = CompiledTrades()
        self.compiled_trades = True  # False: every trade through the Python handlers
        self.debt = BadDebt(cfg.bad_debt, self)
        self._payers: dict = {}  # kind -> payer(kind, sender) of an attached protocol
        self._handlers = {Kind.ORACLE: self._oracle, Kind.TRADE: self._trade,
                          Kind.CLOSE: self._close, Kind.REDUCE: self._reduce,
                          Kind.TOPUP: self._topup, Kind.WITHDRAW: self._withdraw,
                          Kind.LIQUIDATE: self._liquidate}
        # the plain trade handlers themselves: while these very objects are installed,
        # nothing wraps trades (an identity test per block, not three bound-method ones)
        self._plain = tuple(self._handlers[k] for k in (Kind.TRADE, Kind.CLOSE, Kind.REDUCE))

    # funding in -----------------------------------------------------------------------
    def fund_accounts(self, margin_usd: np.ndarray, wallet_usd: np.ndarray) -> None:
        """Initial deposits from outside: margin collateral and wallet balances."""
        self.ledger.transfer_many(0, self.margin, np.round(margin_usd * PPM).astype(np.int64),
                                  "deposit")
        self.margin_view.stale()
        self.ledger.transfer_many(0, self.wallet, np.round(wallet_usd * PPM).astype(np.int64),
                                  "deposit")

    def fund_liquidators(self, first: int, capital_usd: list[float]) -> None:
        """Deposit capital into the liquidator identities ``first``, ``first + 1``, …: bots
        pay gas and tips from it, and under Dutch auctions keepers pay for the lots they
        buy, so they can take no more than they can pay for."""
        capital = np.round(np.asarray(capital_usd, dtype=np.float64) * PPM).astype(np.int64)
        idx = slice(first, first + len(capital))
        self.keeper_capital[idx] = capital
        self.ledger.transfer_many(0, np.asarray(self.liquidator_account[idx], dtype=np.int64),
                                  capital, "deposit")

    # execution ------------------------------------------------------------------------
    def handlers(self) -> MappingProxyType:
        """Every kind this market runs (attached protocols' included), read-only."""
        return MappingProxyType(self._handlers)

    def market_view(self) -> MarketView:
        return self._market

    def attach(self, extension: ProtocolPort) -> None:
        """Run another protocol's transactions in the same blocks (e.g. options): its
        ``handlers()`` join ours and its ``begin_block(t)`` runs before each block."""
        handlers = extension.handlers()
        self._handlers.update(handlers)
        self._payers.update({kind: extension.payer for kind in handlers})
        self.extensions.append(extension)

    def begin_block(self, t_us: int) -> None:
        """What happens at a block's start before its first tx: exposure accrues, extensions
        settle, funding is paid. Once per block time, so a shared sequencer can call it to
        check a bundle against the exact state its legs will meet."""
        if t_us == self._begun:
            return
        self._begun = self._now = t_us
        self._advance_clock(t_us)
        for extension in self.extensions:
            extension.begin_block(t_us)
        if t_us >= self.next_funding and self.price:
            self.apply_funding()
            while self.next_funding <= t_us:
                self.next_funding += self.cfg.funding_interval

    def execute(self, ids: np.ndarray, block: np.ndarray, t_us: np.ndarray,
                batch: bool = False) -> np.ndarray:
        """Run the block's transactions in order; ``batch``: the design clears the block
        as one batch, so every trade of it fills at one clearing price. Runs of plain
        trades, closes and reduces go through the compiled kernel where nothing wraps
        or locks them (``perps_kernel``), at the clearing price under ``batch``;
        everything else through the handlers."""
        self.begin_block(int(t_us[0]))
        if self.fallback is not None:
            self._fall_back(int(block[0]), int(t_us[0]))
        txs = self.txs
        kinds = txs.kind[ids].tolist()
        self._liquidations_run = not _LIQUIDATE_KINDS.isdisjoint(kinds)
        if self._kernel_applies():
            return self._execute_compiled(ids, kinds, block, t_us, batch)
        id_list = ids.tolist()
        rows = zip(kinds, txs.sender[ids].tolist(), txs.a[ids].tolist(),
                   txs.b[ids].tolist(), block.tolist(), t_us.tolist())
        handlers = self._handlers
        self._batch_px = None
        self._fills: list[int] = []  # this block's fill prices, in execution order
        status, filled = [], []  # each tx's status; positions of the trades that filled
        for n, (kind, sender, a, b, blk, t) in enumerate(rows):
            if batch and self._batch_px is None and kind in _TRADE_KINDS:
                self._batch_px = self._clearing_price(ids[n:])
            if handlers[kind](sender, a, b, blk, t):
                status.append(_OK)
                if kind in _TRADE_KINDS:
                    filled.append(n)
            else:
                status.append(_FAILED)
        if filled:  # each filled trade logged exactly one fill, in execution order
            fill = txs.fill  # element by element: a block fills a handful of trades
            for n, px in zip(filled, self._fills):
                fill[id_list[n]] = px
        self._batch_px = None
        return np.array(status, dtype=np.int8)

    def _kernel_applies(self) -> bool:
        """Whether trades, closes and reduces are this market's own plain handlers (no
        price rule routes them, no liquidation mechanism locks accounts)."""
        handlers, (trade, close, reduce) = self._handlers, self._plain
        return self.compiled_trades and not self._may_lock \
            and handlers[KindInt.TRADE] is trade and handlers[KindInt.CLOSE] is close \
            and handlers[KindInt.REDUCE] is reduce

    def _execute_compiled(self, ids: np.ndarray, kinds: list[int], block: np.ndarray,
                          t_us: np.ndarray, batch: bool, pos: int = 0,
                          status: np.ndarray | None = None) -> np.ndarray:
        """``execute`` with runs of trades in the kernel: the kernel stops at each
        transaction it leaves to Python, whose handler runs it, and goes on after it.
        Under ``batch`` the clearing price is set at the block's first trade, as there.
        ``pos``/``status``: the block's transactions before ``pos`` already ran, with
        these statuses (a quiet block's kernel stopped there, ``perps_quiet``)."""
        txs, n = self.txs, len(ids)
        if status is None:
            status = np.zeros(n, dtype=np.int8)
        self._batch_px = None
        while pos < n:
            if kinds[pos] in _TRADE_KINDS:
                if batch and self._batch_px is None:
                    self._batch_px = self._clearing_price(ids[pos:])
                pos = self._kernel.run(self, ids, pos, status)
                if pos == n:
                    break
            kind, tx = kinds[pos], ids.item(pos)
            self._fills = []
            ok = self._handlers[kind](txs.sender.item(tx), txs.a.item(tx), txs.b.item(tx),
                                      block.item(pos), t_us.item(pos))
            status[pos] = _OK if ok else _FAILED
            if ok and kind in _TRADE_KINDS:
                txs.fill[tx] = self._fills[0]
            pos += 1
        self._batch_px = None
        return status

    def end_block(self, ids: np.ndarray) -> None:
        """After the block (and the rollup's fees): liquidation attempts pay their gas
        (looked up only when the block just executed had any)."""
        if self._liquidations_run:
            self._pay_gas(ids)
        self._liquidations_run = False

    def _pay_gas(self, ids: np.ndarray) -> None:
        """Each outside bot's liquidation attempt in the block pays its gas to the chain,
        won or lost (a failed attempt burns gas too), capped by the bot's balance."""
        kind = self.txs.kind[ids]
        tries = ids[(kind == KindInt.LIQUIDATE) | (kind == KindInt.OPT_LIQUIDATE)]
        senders = self.txs.sender[tries]
        cost = self.attempt_gas[senders]
        paying = cost > 0
        payers = [self.liquidator_account[sender] for sender in senders[paying].tolist()]
        self.ledger.pay_capped(np.array(payers, dtype=np.int64), self.gas, cost[paying], "gas")

    def payer(self, kind: int, sender: int) -> int:
        """The ledger account behind a tx: it pays the tx's fees, and a broken promise
        made about the tx is made good to it. A bot's account for liquidations, the
        owner's wallet otherwise; an attached protocol (options) names its own payers."""
        payer = self._payers.get(kind)
        if payer is not None:
            return payer(kind, sender)
        if kind == KindInt.ORACLE:  # plain ints: once per tipped transaction
            return self.oracle_payer
        return self.liquidator_account[sender] if kind == KindInt.LIQUIDATE else \
            self.wallet.item(sender)

    def payers(self, kind: np.ndarray, sender: np.ndarray) -> np.ndarray:
        """``payer`` of each transaction: the owners' wallets at once when every one is
        a user's own (no oracle update, bot's liquidation or attached protocol's kind,
        the usual tipped block), else one at a time."""
        kinds = kind.tolist()
        if KindInt.ORACLE in kinds or KindInt.LIQUIDATE in kinds \
                or not self._payers.keys().isdisjoint(kinds):
            return each_payer(self.payer)(kind, sender)
        return self.wallet.take(sender)  # senders are int32: take skips the index cast

    def balance(self, account: int) -> int:
        return self.ledger.balances.item(account)

    def _oracle(self, sender: int, price: int, seq: int, block: int, t: int) -> bool:
        rule = self.price_rule
        if rule is not None and not rule.accepts(seq):
            return True  # verified but older than the stored price: nothing changes
        if self.fallback is not None and not self.fallback.accepts(seq):
            return True  # this round's standard copy, or a newer round, is stored already
        self._store_price(price, seq, block, t, self.bundle)
        if self.fallback is not None:
            self.fallback.stored(seq, t, False)
        return True

    def _fall_back(self, block: int, t: int) -> None:
        """At a block's start: store the newest round whose private transmission was
        withheld past the fallback delay, from its standard copy, with no auction."""
        seq = self.fallback.due(t)
        if seq >= 0:
            self._store_price(self.fallback.price[seq], seq, block, t, None)
            self.fallback.stored(seq, t, True)

    def _store_price(self, price: int, seq: int, block: int, t: int, bundle) -> None:
        """Store update ``seq``'s price; ``bundle``: the auction for its backrun, run as
        it lands (None: the backrun is the ordinary race)."""
        rule = self.price_rule
        before = self.margin_view.refresh().below.copy()
        if bundle is not None:
            bundle.before_update(t)
        self.price = price if self.mark is None else self.mark(price)
        self.oracle_block, self.oracle_t = block, t
        self.log.oracle.append((t, block, price, seq))
        enabled = np.flatnonzero(self.margin_view.refresh().below & ~before)
        self.enabled_block[enabled], self.enabled_t[enabled] = block, t
        on_price = getattr(self.liquidation, "on_price", None)
        if on_price is not None:  # Dutch auctions end for accounts healthy again
            on_price()
        if bundle is not None:  # the update's backrun, auctioned, right behind it
            bundle.after_update(seq, block, t, enabled)
        if rule is not None:
            rule.on_price(seq, block, t, self._settle_order, self._pay_settler)

    # the price rule -------------------------------------------------------------------
    def set_price_rule(self, rule: PriceRule, settlement_fee: int = 0) -> None:
        """Put ``rule`` between trades, closes and reduces and their execution; under
        delayed orders the keeper settling (or cancelling) an order is paid
        ``settlement_fee`` (micro-USD) from the order's account."""
        self.price_rule = rule
        if rule.delayed and settlement_fee:
            self.settlement_fee = settlement_fee
            self.settlement_keeper = self.ledger.open("settlement_keeper")
        for kind in _TRADE_KINDS:
            self._handlers[kind] = rule.route(self._handlers[kind], self._defer_fill)

    def _defer_fill(self) -> None:
        """A committed delayed order fills later: its place among the block's fills is 0."""
        self._fills.append(0)

    def _settle_order(self, handler: Handler, i: int, a: int, b: int, block: int,
                      t: int) -> bool:
        """Settle a delayed order at the price just stored, apart from the block's own
        fills (and from a batch's uniform price: it was not part of the batch)."""
        fills, batch_px = self._fills, self._batch_px
        self._fills, self._batch_px = [], None
        self._pay_settler(i)
        try:
            return handler(i, a, b, block, t)
        finally:
            self._fills, self._batch_px = fills, batch_px

    def _pay_settler(self, i: int) -> None:
        """The keeper that settles or cancels account ``i``'s delayed order takes its
        keeper deposit from the account's margin (Synthetix perps v2 ``keeperDeposit``)."""
        if self.settlement_fee:
            self.pay_from_margin(i, self.settlement_keeper, self.settlement_fee,
                                 "settlement_keeper_fee")

    def open_interest_room(self, side: int) -> int:
        """How much more open interest (micro-USD at the oracle price) the ``side``
        (+1 long, -1 short) may take before the market's cap (-1: no cap)."""
        if not self.oi_cap:
            return -1
        return max(0, self.oi_cap - self._held[side] * self.price // PPM)

    def _within_cap(self, size: int, new_size: int) -> bool:
        """Whether an account going from ``size`` to ``new_size`` keeps its side's open
        interest within the cap (Synthetix ``maxMarketValue``, GMX max open interest)."""
        side = 1 if new_size > 0 else -1
        oi = self._held[side] - max(side * size, 0) + side * new_size
        return oi * self.price // PPM <= self.oi_cap

    def _resize(self, i: int, size: int, new_size: int) -> None:
        """Set account ``i``'s position from ``size`` to ``new_size``, and each side's
        open interest with it."""
        self.size[i] = new_size
        held = self._held
        if size > 0:
            held[1] -= size
        elif size < 0:
            held[-1] += size
        if new_size > 0:
            held[1] += new_size
        elif new_size < 0:
            held[-1] -= new_size

    def notional(self, size: int) -> int:
        return abs(size) * self.price // PPM

    def equity(self, i: int) -> int:
        size = self.size.item(i)
        return self.ledger.balances.item(self._margin_of[i]) + size * self.price // PPM \
            - self.basis.item(i)

    def underwater(self, who: np.ndarray) -> np.ndarray:
        """Whether each account of ``who`` has ``equity`` at or below zero, exactly: in
        int64 where every term stays below 2**61 (so no sum overflows), in Python's
        integers for the rest. Bots ask it of every liquidatable account each block."""
        size, basis = self.size[who], self.basis[who]
        bal = self.ledger.balances[self.margin[who]]
        price = self.price
        fits = (np.abs(size) <= _TERM // max(price, 1)) & (np.abs(bal) < _TERM) \
            & (np.abs(basis) < _TERM) & (size > -_TERM) & (bal > -_TERM) & (basis > -_TERM)
        under = np.zeros(len(who), dtype=bool)
        ok = np.flatnonzero(fits)
        under[ok] = bal[ok] + size[ok] * price // PPM - basis[ok] <= 0
        for k in np.flatnonzero(~fits).tolist():
            under[k] = self.equity(int(who[k])) <= 0
        return under

    def _clearing_price(self, ids: np.ndarray) -> int:
        """One price for every trade of the batch: the skew premium averaged over the
        skew before and after all of the batch's intended trades."""
        if not self.scale_units or not self.price:
            return self.price
        txs, delta = self.txs, 0
        for kind, who, a in zip(txs.kind[ids].tolist(), txs.sender[ids].tolist(),
                                txs.a[ids].tolist()):
            if kind == Kind.TRADE:
                delta += toward_zero(a * PPM, self.price)
            elif kind == Kind.CLOSE:
                delta -= int(self.size[who])
            elif kind == Kind.REDUCE and 0 < a <= 10_000:
                delta -= toward_zero(int(self.size[who]) * a, 10_000)
        return self.price + self.price * (2 * self.skew + delta) // (2 * self.scale_units)

    def _fill(self, delta: int, ahead: int = 0) -> int:
        """Fill price for a trade of ``delta`` units: the oracle price moved by the mean of
        the skew premium before and after the trade (Synthetix-style price impact), or the
        batch's clearing price under uniform fills. ``ahead``: units some other trade
        would add to the skew first (a what-if; nothing changes)."""
        if self._batch_px is not None:
            return self._batch_px
        if not self.scale_units:
            return self.price
        skew2 = 2 * (self.skew + ahead) + delta
        return self.price + self.price * skew2 // (2 * self.scale_units)

    def _closed_basis_pnl(self, i: int, close: int, px: int) -> tuple[int, int]:
        """Cost basis and PnL of closing ``close`` units of account ``i`` at price ``px``."""
        size, basis = self.size.item(i), self.basis.item(i)
        closed_basis = basis if close == size else basis * close // size
        return closed_basis, close * px // PPM - closed_basis

    def _close_part(self, i: int, close: int, px: int) -> int:
        """Close ``close`` units (same sign as the position) at price ``px``; settle the PnL."""
        size, basis = self.size.item(i), self.basis.item(i)
        closed_basis, pnl = self._closed_basis_pnl(i, close, px)
        self._settle_exposure(i)
        self._resize(i, size, size - close)
        self.basis[i] = basis - closed_basis
        self.skew -= close
        self._settle(i, pnl, close, px)
        return pnl

    def offset(self, j: int, units: int, px: int, pay: int) -> None:
        """Deleverage account ``j``: close ``units`` of its position at ``px`` and pay
        ``pay`` from its margin to the pool (its share of a bankrupt account's loss, the
        difference between ``px`` and the bankruptcy price on those units). The caller
        checked that its margin pays it and its equity stays at or above zero."""
        self._close_part(j, units, px)
        self.ledger.transfer(self._margin_of[j], self.pool, pay, "deleveraging")

    @property
    def now(self) -> int:
        """The time of the block being executed (µs)."""
        return self._now

    def _settle(self, i: int, pnl: int, close: int, px: int) -> None:
        led, margin = self.ledger, self._margin_of[i]
        self.margin_view.touched.append(i)
        if pnl >= 0:
            paid = min(pnl, led.balances.item(self.pool))
            led.transfer(self.pool, margin, paid, "pnl")
            self.log.pool_shortfall += pnl - paid
            return
        loss = -pnl
        from_margin = min(loss, led.balances.item(margin))
        led.transfer(margin, self.pool, from_margin, "pnl")
        short = loss - from_margin
        if short:
            self.debt.carry(i, short, close, px)

    def _charge_fee(self, i: int, fee: int) -> None:
        """Take a trade's fee from the margin, as far as it goes: ``fee_to_pool_share`` of
        what was paid (rounded down) to the pool, the rest to the protocol's fee account."""
        self.margin_view.touched.append(i)
        margin = self._margin_of[i]
        to_pool, to_protocol = split_ppm(min(fee, self.ledger.balances.item(margin)),
                                         self.fee_to_pool_ppm)
        self.ledger.transfer(margin, self.pool, to_pool, "fee_to_pool")
        self.ledger.transfer(margin, self.fees, to_protocol, "fee")

    def _plan_trade(self, i: int, usd_delta: int, limit: int, ahead: int = 0
                    ) -> tuple[int, int, int, int, int, int, int] | None:
        """``(delta, close, opened, fill price, fee, closed basis, pnl)`` of a trade, or
        None where it fails: account locked, no price, initial margin short, or the fill
        worse than ``limit`` (micro-USD; a buy's highest, a sell's lowest price; 0 for no
        limit). The closed part's basis and PnL are those ``_close_part`` would book."""
        price = self.price
        if self.liquidation.locks(i) or not price or not usd_delta:
            return None
        delta = toward_zero(usd_delta * PPM, price)
        if not delta:
            return None
        px = self._fill(delta, ahead)
        if limit and (px > limit if delta > 0 else px < limit):
            return None
        size, basis = self.size.item(i), self.basis.item(i)
        close = 0
        if size and (delta > 0) != (size > 0):
            close = size if abs(delta) >= abs(size) else -delta
        opened = delta + close
        fee = abs(delta) * price // PPM * self.fee_ppm // PPM  # notional(delta) × fee
        closed_basis = (basis if close == size else basis * close // size) if close else 0
        pnl = close * px // PPM - closed_basis
        if opened:
            new_size = size - close + opened
            if self.oi_cap and not self._within_cap(size, new_size):
                return None
            new_basis = basis - closed_basis + opened * px // PPM
            margin_after = self.ledger.balances.item(self._margin_of[i]) + pnl - fee
            equity = margin_after + new_size * price // PPM - new_basis
            if margin_after < 0 or equity * PPM < self.im_ppm * (abs(new_size) * price // PPM):
                return None
        return delta, close, opened, px, fee, closed_basis, pnl

    def mid(self) -> float:
        """The price a marginal trade fills at (oracle moved by the skew premium), USD."""
        if not self.price:
            return 0.0
        premium = self.skew / self.scale_units if self.scale_units else 0.0
        return self.price / PPM * (1.0 + premium)

    def fill_units(self, delta: int) -> int:
        """Fill price (micro-USD) a trade of ``delta`` units would get now."""
        return self._fill(delta)

    def quote(self, usd_delta: int) -> int:
        """Fill price (micro-USD) a trade of ``usd_delta`` would get now."""
        return self._fill(toward_zero(usd_delta * PPM, self.price)) if self.price else 0

    def can_trade(self, i: int, usd_delta: int, limit: int, ahead: int = 0) -> bool:
        """Whether a TRADE would succeed now (nothing changes): an atomic bundle's check;
        ``ahead``: behind another trade that first adds that many units to the skew."""
        return self._plan_trade(i, usd_delta, limit, ahead) is not None

    def _trade(self, i: int, usd_delta: int, limit: int, block: int, t: int) -> bool:
        plan = self._plan_trade(i, usd_delta, limit)
        if plan is None:
            return False
        delta, close, opened, px, fee, closed_basis, pnl = plan
        self.traded[i] = self.traded.item(i) + abs(delta) * self.price // PPM
        self._fills.append(px)
        # the close and the opening as one change of size and basis: what closing then
        # opening books (the exposure settled once: the second settlement adds nothing,
        # no time passes between them), with the closed part's PnL settled before the fee
        size = self.size.item(i)
        self._settle_exposure(i)
        self._resize(i, size, size - close + opened)
        self.basis[i] = self.basis.item(i) - closed_basis + opened * px // PPM
        self.skew += opened - close
        if close:
            self._settle(i, pnl, close, px)
        self._charge_fee(i, fee)
        return True

    def _close(self, i: int, a: int, b: int, block: int, t: int) -> bool:
        if self.liquidation.locks(i):
            return False
        size = self.size.item(i)
        if not size or not self.price:
            return False
        px = self._fill(-size)
        self._close_part(i, size, px)
        self._fills.append(px)
        self.traded[i] += self.notional(size)
        self._charge_fee(i, self.notional(size) * self.fee_ppm // PPM)
        return True

    def _reduce(self, i: int, bps: int, b: int, block: int, t: int) -> bool:
        if self.liquidation.locks(i):
            return False
        if not 0 < bps <= 10_000:  # outside (0, 100 %] it would grow or flip the position
            return False
        close = toward_zero(self.size.item(i) * bps, 10_000)
        if not close or not self.price:
            return False
        px = self._fill(-close)
        self._close_part(i, close, px)
        self._fills.append(px)
        self.traded[i] += self.notional(close)
        self._charge_fee(i, self.notional(close) * self.fee_ppm // PPM)
        return True

    def _topup(self, i: int, amount: int, b: int, block: int, t: int) -> bool:
        if self.liquidation.locks(i):
            return False
        amount = min(amount, self.balance(self.wallet[i]))
        if amount <= 0:
            return False
        self.ledger.transfer(self.wallet.item(i), self.margin.item(i), amount, "topup")
        self.margin_view.touched.append(i)
        return True

    def _withdraw(self, i: int, amount: int, b: int, block: int, t: int) -> bool:
        if self.liquidation.locks(i):
            return False
        amount = min(amount, self.balance(self.margin[i]))
        if amount <= 0:
            return False
        if self.size[i]:
            notional = self.notional(self.size.item(i))
            if not self.price or (self.equity(i) - amount) * PPM < self.im_ppm * notional:
                return False
        self.ledger.transfer(self.margin.item(i), self.wallet.item(i), amount, "withdraw")
        self.margin_view.touched.append(i)
        return True

    def quotes(self, t_us: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Accounts under Dutch auction and their prices (None for other mechanisms)."""
        quotes = getattr(self.liquidation, "quotes", None)
        return None if quotes is None else quotes(t_us)

    def is_liquidatable(self, i: int) -> bool:
        """Exact integer test: equity below maintenance margin on the on-chain price."""
        size, price = self.size.item(i), self.price
        if not size or not price:
            return False
        equity = self.ledger.balances.item(self._margin_of[i]) + size * price // PPM \
            - self.basis.item(i)  # self.equity(i), self.notional(size): asked per block
        return equity * PPM < self.mm_ppm * (abs(size) * price // PPM)

    def set_sentinel(self, outages: np.ndarray, grace_us: int) -> None:
        """Aave-style PriceOracleSentinel: no liquidation while the sequencer uptime feed
        reports it down or within ``grace_us`` of its restart. ``outages`` are the feed's
        windows (``seqlab.outages.uptime_feed``: "up" lands through the delayed inbox)."""
        self._outages, self._grace = outages, grace_us

    def _liquidate(self, liquidator: int, a: int, i: int, block: int, t: int) -> bool:
        if not 0 <= i < len(self.size) or not self.may_liquidate(t):
            return False
        return self.liquidation.liquidate(liquidator, a, i, block, t)

    def liquidate(self, liquidator: int, i: int, block: int, t: int) -> bool:
        """Liquidate account ``i`` now, as a liquidation transaction of ``liquidator``
        would (a recapture bundle's liquidations run inside the update's transaction)."""
        return self._liquidate(liquidator, 0, i, block, t)

    def may_liquidate(self, t: int) -> bool:
        """Whether liquidations are allowed at ``t``: not during the sentinel's outage and
        grace period, nor, with ``refuse_stale_liquidations``, on a stored price older
        than the price rule's ``max_age`` (a Pyth consumer's ``getPriceNoOlderThan``)."""
        return not in_grace(self._outages, t, self._grace) and not self.too_old_to_liquidate(t)

    def too_old_to_liquidate(self, t: int) -> bool:
        """Whether the stored price is too old to price a liquidation at ``t``."""
        rule = self.price_rule
        return self.refuse_stale_liquidations and rule is not None and not rule.fresh(t)

    def close_for_liquidation(self, i: int, close: int, px: int | None = None) -> int:
        """Close ``close`` units at the oracle price (liquidations have no price impact),
        or at ``px`` (an auction's price: the account bears the discount, then the
        insurance fund, then bad debt); returns the closed notional (micro-USD)."""
        closed = self.notional(close)
        self._close_part(i, close, self.price if px is None else px)
        self.log.liquidation_units.append((self._now, close))
        return closed

    def preview_close(self, i: int, close: int, px: int | None = None) -> tuple[int, int]:
        """Account ``i``'s margin and equity after ``close_for_liquidation(i, close)``
        (micro-USD), computed without changing anything: what a liquidation plans with.
        ``px``: close at that price instead of the oracle's (a trade's fill)."""
        closed_basis, pnl = self._closed_basis_pnl(i, close, self.price if px is None else px)
        margin = self.balance(self._margin_of[i])
        margin = margin + min(pnl, self.balance(self.pool)) if pnl >= 0 else \
            max(0, margin + pnl)
        rest = self.size.item(i) - close
        return margin, margin + rest * self.price // PPM - (self.basis.item(i) - closed_basis)

    def pay_from_margin(self, i: int, to: int, amount: int, reason: str) -> int:
        """Pay up to ``amount`` out of account ``i``'s margin, never more than its equity
        above zero (margin plus the unrealised PnL of what is still open): whatever a
        liquidation pays, the margin left still covers the open position's loss, so no
        payment turns into bad debt. Returns what was paid."""
        paid = max(0, min(amount, self.balance(self._margin_of[i]), self.equity(i)))
        self.ledger.transfer(self._margin_of[i], to, paid, reason)
        self.margin_view.touched.append(i)
        return paid

    def log_liquidation(self, t: int, block: int, i: int, liquidator: int, closed: int,
                        reward: int) -> None:
        """Record a liquidation with its delay from the oracle update that made the
        account liquidatable (the last one if none did: it got there by funding, fees
        or its own trade), in blocks and microseconds."""
        since_block, since_t = int(self.enabled_block[i]), int(self.enabled_t[i])
        if since_block < 0:
            since_block, since_t = self.oracle_block, self.oracle_t
        self.log.liquidations.append((t, block, i, liquidator, closed, reward,
                                      block - since_block, t - since_t))

    # vectorised views -----------------------------------------------------------------
    def _advance_clock(self, t_us: int) -> None:
        """Extend the price-time integral to ``t_us`` at the price that held until now.

        Exposure (notional × time) is accrued lazily from this integral: an account's
        size is constant between its trades, so its exposure since its last change is
        size × the integral's growth since then. Per block this is O(1), not O(accounts).
        """
        dt_years = (t_us - self._exposure_t) / YEAR_US
        self._exposure_t = t_us
        if dt_years > 0 and self.price:
            self._price_time += self.price / PPM / PPM * dt_years

    def _settle_exposure(self, i: int) -> None:
        """Book account ``i``'s exposure up to now (called before its size changes)."""
        size = self.size.item(i)
        if size:
            side = 0 if size > 0 else 1
            self.exposure[side, i] = self.exposure.item(side, i) + abs(size) * (
                self._price_time - self._price_time_at.item(i))
        self._price_time_at[i] = self._price_time

    def accrue_exposure(self, t_us: int) -> None:
        """Book every account's long and short notional × time up to ``t_us``."""
        self._advance_clock(t_us)
        held = self.size.astype(np.float64) * (self._price_time - self._price_time_at)
        self.exposure[0] += np.clip(held, 0, None)
        self.exposure[1] += np.clip(-held, 0, None)
        self._price_time_at[:] = self._price_time

    def apply_funding(self) -> None:
        """One funding payment: the crowded side pays the pool, the pool pays the other."""
        notional = self.size.astype(np.float64) * (self.price / PPM)
        # fsum: an exact sum, so the funding rate is the same on every machine
        longs = math.fsum(notional[notional > 0].tolist())
        shorts = -math.fsum(notional[notional < 0].tolist())
        if longs + shorts <= 0:
            return
        rate = self.cfg.funding_rate_cap * (longs - shorts) / (longs + shorts)
        pay = np.rint(rate * notional).astype(np.int64)
        margin_bal = self.ledger.balances[self.margin]
        payers = pay > 0
        paid = np.minimum(pay[payers], margin_bal[payers])
        self.log.funding_shortfall += int((pay[payers] - paid).sum())
        self.margin_view.stale()
        self.ledger.transfer_many(self.margin[payers], self.pool, paid, "funding")
        receivers = pay < 0
        due = -pay[receivers]
        if due.sum() > self.balance(self.pool):
            self.log.funding_shortfall += int(due.sum())
            return
        self.ledger.transfer_many(self.pool, self.margin[receivers], due, "funding")

    def margin_state(self, price_micro: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-account equity and notional (float micro-USD) at the on-chain price, or at
        ``price_micro`` (what an operator who sees a pending oracle update can compute).
        At the on-chain price these are the margin view's arrays: read them, never write."""
        if price_micro is None or price_micro == self.price:
            view = self.margin_view.refresh()
            return view.equity, view.notional
        return all_margins(self, price_micro)[:2]

    def liquidatable(self, price_micro: int | None = None) -> np.ndarray:
        """Accounts liquidatable now (as a watcher of the feed sees them), or at a price;
        none is the one read-only empty array, not a new one each block."""
        if not (self.price if price_micro is None else price_micro):
            return NO_ACCOUNTS
        if price_micro is None or price_micro == self.price:
            view = self.margin_view.refresh()
            return view.below.nonzero()[0] if view.count else NO_ACCOUNTS  # most blocks
        return np.flatnonzero(all_margins(self, price_micro)[2])

    def unrealized(self, price_micro: int) -> np.ndarray:
        """Each account's open PnL at ``price_micro`` (micro-USD; exact integers)."""
        return (self.size.astype(object) * price_micro // PPM
                - self.basis.astype(object)).astype(np.int64)

    def account_values(self, price_micro: int) -> np.ndarray:
        """Each account's wallet + margin + unrealized PnL at ``price_micro`` (micro-USD),
        plus, for the accounts in ``outside``, what a leg they hold off the chain has
        made: its ledger account less the capital deposited in it (hedgers' spot legs)."""
        bal = self.ledger.balances
        values = bal[self.wallet] + bal[self.margin] + self.unrealized(price_micro)
        if self.outside is not None:
            who, legs, deposit = self.outside
            values[who] += bal[legs] - deposit
        return values

    def lp_value(self, price_micro: int) -> int:
        """Pool plus insurance fund, less what the pool owes open positions (it is their
        counterparty), marked at ``price_micro``."""
        bal = self.ledger.balances
        return int(bal[self.pool] + bal[self.insurance] - self.unrealized(price_micro).sum())

    def state_arrays(self) -> list[np.ndarray]:
        return [self.size, self.basis, np.array([self.price, self.log.bad_debt])]

    def report(self, end: RunEnd) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
        """The perps figures and tables (``metrics.perps`` over ``run_record``), then the
        reports of the parts plugged into the market (the backrun auction, the price
        rule); what the sequencing side gained in the protocols attached to this one
        (the operator's stale-price option buys) joins its profit."""
        summary, tables = perps_report(self.run_record, self.venue_price_at)
        for part in (self.bundle, self.price_rule):
            if part is not None:
                summary.update(part.summary())
        if self.bundle is not None and self.fallback is not None:
            summary["recapture"].update(self.fallback.summary())
        by = summary["operator_profit_by_strategy"]
        for extension in self.extensions:
            if not isinstance(extension, ProtocolPort):
                continue  # the rollup's fee market: its accounts are already counted
            for strategy, micro in extension.sequencer_gains(end).items():
                by[strategy] = round(by[strategy] + micro / PPM, 2)
                summary["operator_profit_usd"] = round(summary["operator_profit_usd"]
                                                       + micro / PPM, 2)
        return summary, tables


def margin_arrays(p: PerpsProtocol, idx: np.ndarray | None, price_micro: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Equity and notional (float micro-USD) of accounts ``idx`` (None: every account)
    at ``price_micro``.

    Element by element the same arithmetic whichever accounts are asked for, so a
    partial refresh gives exactly the numbers a full one would. Every account is read
    from the arrays themselves, not gathered through an index: a pull feed's update
    every 400 ms recomputes them all each time.
    """
    price = price_micro / PPM
    size, margin, basis = (p.size, p.margin, p.basis) if idx is None else \
        (p.size[idx], p.margin[idx], p.basis[idx])
    notional = np.abs(size).astype(np.float64) * price
    equity = (p.ledger.balances[margin].astype(np.float64)
              + size.astype(np.float64) * price - basis)
    return equity, notional


def below_maintenance(p: PerpsProtocol, size: np.ndarray, equity: np.ndarray,
                      notional: np.ndarray) -> np.ndarray:
    """Open positions whose equity is below the maintenance margin."""
    return (size != 0) & (equity * PPM < p.mm_ppm * notional)


def all_margins(p: PerpsProtocol, price_micro: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Every account's ``margin_arrays`` and ``below_maintenance`` at ``price_micro``,
    and how many are below, in one compiled pass (``margin_kernel.recompute``: the
    same operations, so the same bits): what an oracle update asks of every account."""
    n = len(p.size)
    equity, notional, below = np.empty(n), np.empty(n), np.zeros(n, dtype=bool)
    count = recompute(np.arange(n), price_micro / PPM, p.mm_ppm, p.ledger.balances,
                      p.margin, p.size, p.basis, equity, notional, below)
    return equity, notional, below, count


class MarginView:
    """Every account's equity, notional and liquidatable flag at the on-chain price,
    kept current at a cost proportional to what changed.

    The protocol marks each account whose size, basis or margin it changes
    (``touched``); a refresh recomputes only those, unless the price moved or funding
    touched everyone (``stale``), when it recomputes all. Each refresh that recomputes
    anything is a new ``generation``; ``since(g)`` tells a watcher which accounts were
    recomputed after generation ``g`` (None: possibly all), so it can keep its own
    state incrementally too, however many others refresh the view in between.
    ``count`` is how many accounts are flagged: most blocks flag none, and then nobody
    need look for them.
    """

    LOG = 256  # partial refreshes remembered; a watcher further behind rereads all
    FEW = 32  # up to this many touched accounts are recomputed one by one

    def __init__(self, p: PerpsProtocol) -> None:
        self.p = p
        # accounts changed since the last refresh, in the order they were: the first
        # run of compiled trades' as the array it came in (``touch_many``), the rest as ints
        self._first: np.ndarray | None = None
        self.touched: list[int] = []
        self.price = -1  # the price the arrays hold (-1: none yet, or stale)
        self.equity = self.notional = np.empty(0)
        self.below = np.empty(0, dtype=bool)
        self.count = 0  # accounts flagged in ``below``
        self.generation = 0
        self._full = 0  # generation of the last full recompute
        self._log: list[tuple[int, np.ndarray]] = []  # partial recomputes since then

    def stale(self) -> None:
        self.price = -1

    def touch_many(self, accounts: np.ndarray) -> None:
        """``accounts`` changed (the compiled trades' touches, in order; a buffer the
        caller reuses). A block's first such array is kept as an array, not turned into
        ints and back, when nothing was touched before it."""
        if self._first is None and not self.touched:
            self._first = accounts.copy()
        else:
            self.touched.extend(accounts.tolist())

    def _touched_ids(self) -> np.ndarray:
        """Every account touched since the last refresh, in the order touched (repeats
        kept: recomputing one twice gives the same values)."""
        first = self._first
        if first is None:
            return np.array(self.touched, dtype=np.int64)
        if not self.touched:
            return first
        return np.concatenate((first, np.array(self.touched, dtype=np.int64)))

    def refresh(self) -> "MarginView":
        p = self.p
        if self.price != p.price:
            self.equity, self.notional, self.below, self.count = all_margins(p, p.price)
            self.price = p.price
            self.generation += 1
            self._full, self._log = self.generation, []
        elif self.touched or self._first is not None:
            idx = self._touched_ids()
            if len(idx) <= self.FEW:
                self._recompute_few(idx)
            else:
                equity, notional = margin_arrays(p, idx, p.price)
                self.equity[idx], self.notional[idx] = equity, notional
                self.below[idx] = below_maintenance(p, p.size[idx], equity, notional)
                self.count = int(np.count_nonzero(self.below))
            self.logged(idx)
        self.touched.clear()
        self._first = None
        return self

    def logged(self, idx: np.ndarray, flagged: int = 0) -> None:
        """A partial refresh of ``idx`` is done (by ``refresh``, or by a quiet block's
        compiled call, which says how many more accounts it ``flagged``): a new
        generation, remembered for ``since``."""
        self.count += flagged
        self.generation += 1
        self._log.append((self.generation, idx))
        if len(self._log) > self.LOG:
            del self._log[: len(self._log) // 2]

    def logged_many(self, refreshes: int, last: np.ndarray | None, price: int) -> None:
        """``refreshes`` refreshes are done at once (a stretch of quiet blocks,
        ``perps_stretch``), the arrays now at ``price``; the last a partial one of
        ``last``, or (None) a full one: each a generation, but only the last
        remembered for ``since``, which answers None (all may have changed) to a
        watcher further behind. Every watcher of a stretch is up to date before it, so
        none is."""
        self.price = price
        self.generation += refreshes - (0 if last is None else 1)
        self._full, self._log = self.generation, []
        if last is not None:
            self.logged(last)

    def _recompute_few(self, accounts: np.ndarray) -> None:
        """``margin_arrays`` and ``below_maintenance`` for a few accounts, in compiled
        code: the same IEEE operations in the same order (so the same bits), without the
        fixed cost of a dozen array operations that dominates a block touching a
        handful (``margin_kernel``)."""
        p = self.p
        self.count += recompute(accounts, p.price / PPM, p.mm_ppm, p.ledger.balances,
                                p.margin, p.size, p.basis, self.equity, self.notional,
                                self.below)

    def since(self, generation: int) -> np.ndarray | None:
        """Accounts recomputed after ``generation`` (None: all may have changed)."""
        if generation < self._full or (self._log and generation < self._log[0][0] - 1):
            return None
        parts = []
        for g, idx in reversed(self._log):  # a watcher is usually one refresh behind
            if g <= generation:
                break
            parts.append(idx)
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
