"""European calls and puts on the reference asset, beside the perps market.

A clearing pool is the central counterparty: buyers buy from it, writers sell to it,
and at expiry it pays the buyers and collects from the writers, cash-settled at the
on-chain oracle price. A buy is matched to the writer with the most free margin at the
Black-Scholes mark (the protocol's marking volatility); the premium goes from the
buyer's wallet to the writer's margin.

Writers' margin follows Aevo's standard-margin shape, per unit of a short option:
mark + max(base × spot − out-of-the-money amount, min × spot), with 15 %/10 % for the
initial and 7.5 %/5 % for the maintenance requirement. A writer whose equity (margin
minus the marks of its shorts) falls below maintenance can be liquidated: the pool
takes its shorts over at the mark, paid from the writer's margin, and the liquidator
earns ``liquidation_bonus`` of the underlying notional; what the margin cannot pay
falls on the insurance fund, then on bad debt. Writers' owners top up on margin calls.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.ledger import Ledger
from seqlab.metrics.options import options_summary, options_tables
from seqlab.pricing import black_scholes
from seqlab.protocols.market_view import MarketView
from seqlab.protocols.option_dutch import WriterAuctions
from seqlab.protocols.options_market import OptionsMarketView
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.protocols.port import ProtocolPort, RunEnd
from seqlab.scenario.schema import Options
from seqlab.txs import Kind, TxStore

YEAR_US = 31_536e9


@dataclass(frozen=True)
class BuyerAccounts:
    """The buyers' wallets by name: the users' first, then the sequencing side's own
    buyer (its stale-oracle buys). Opened in that order, once (a run's digest lists
    balances by account, so the order is part of every pinned result)."""

    users: int     # buyers [0, users) are users
    operator: int  # the operator's buyer

    @classmethod
    def after(cls, users: int) -> "BuyerAccounts":
        return cls(users=users, operator=users)

    @property
    def count(self) -> int:
        """Every buyer account, the operator's included."""
        return self.operator + 1


class OptionsProtocol(ProtocolPort):
    """Series, positions, margin and settlement; its handlers run inside perps blocks."""

    def __init__(self, cfg: Options, ledger: Ledger, txs: TxStore, perps: PerpsProtocol,
                 spot_usd: float) -> None:
        self.cfg, self.ledger, self.txs, self.perps = cfg, ledger, txs, perps
        grid = [(kind, m, e) for e in sorted(cfg.expiries) for m in cfg.moneyness
                for kind in (0, 1)]  # sorted by expiry: buyers pick among a suffix
        self.is_put = np.array([g[0] for g in grid], dtype=bool)
        self.strike = np.array([round(g[1] * spot_usd, 2) for g in grid])  # USD
        self.expiry = np.array([g[2] for g in grid], dtype=np.int64)
        self.settled = np.zeros(len(grid), dtype=bool)
        n_series = len(grid)
        self.short = np.zeros((cfg.writers, n_series), dtype=np.int64)  # micro-units
        self.buyer_accounts = buyers = BuyerAccounts.after(cfg.buyers)
        self.operator_deposit = 0  # what the operator's buyer brought (micro-USD)
        self.long = np.zeros((buyers.count, n_series), dtype=np.int64)
        self.pool_short = np.zeros(n_series, dtype=np.int64)  # taken over from writers
        self.margin = ledger.open_many("opt_margin", cfg.writers)
        self.writer_wallet = ledger.open_many("opt_writer_wallet", cfg.writers)
        self.wallet = ledger.open_many("opt_wallet", buyers.count)
        self.pool = ledger.open("options_pool")
        ledger.transfer(0, self.pool, int(round(cfg.pool_usd * PPM)), "deposit")
        self.exposure = np.zeros((2, max(cfg.writers, buyers.count)), dtype=np.float64)
        # every sale: (t, writer, buyer, series, qty micro-units, premium micro-USD)
        self.sales: list[tuple[int, int, int, int, int, int]] = []
        self._exposure_t = 0
        self.liquidations: list[tuple[int, int, int, int, int, int]] = []
        self.bad_debt = 0
        self.premiums = 0
        self.auctions = WriterAuctions(self) if cfg.liquidation == "dutch" else None
        self._marks_key: tuple[int, int] | None = None
        self._marks = np.zeros(0)
        self.t_us = 0  # the time of the last block begun
        self._market = OptionsMarketView(self)

    def fund(self, writer_margin_usd: np.ndarray, writer_wallet_usd: np.ndarray,
             buyer_wallet_usd: np.ndarray, operator_usd: float = 0.0) -> None:
        """Deposits: the writers' margin and wallets, the users' buyers' wallets and the
        operator's buyer's (its strategy capital, counted back out of its gains)."""
        buyers = np.zeros(self.buyer_accounts.count)
        buyers[: self.buyer_accounts.users] = buyer_wallet_usd
        buyers[self.buyer_accounts.operator] = operator_usd
        for accounts, usd in ((self.margin, writer_margin_usd),
                              (self.writer_wallet, writer_wallet_usd),
                              (self.wallet, buyers)):
            micro = np.round(np.asarray(usd, dtype=np.float64) * PPM).astype(np.int64)
            self.ledger.transfer_many(0, accounts[: len(micro)], micro, "deposit")
        self.operator_deposit = int(micro[self.buyer_accounts.operator])

    def market_view(self) -> MarketView:
        return self._market

    def report(self, end: RunEnd) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
        """Volume, writers' liquidations, settlement and who ended with what, marked at
        the reference at the end; exposure accrued up to the end for the tables."""
        mark = end.mark_micro()
        summary = options_summary(self, end.t_us, mark)
        self._accrue(end.t_us)
        return summary, options_tables(self, end.t_us, mark, end.reference.at)

    def sequencer_gains(self, end: RunEnd) -> dict[str, int]:
        """The operator's stale-price option buys: its buyer's wallet and options marked
        at the end, less what it brought; they belong to its stale-oracle profit."""
        value = self.values(end.t_us, end.mark_micro())[1][self.buyer_accounts.operator]
        return {"stale_oracle": int(value) - self.operator_deposit}

    def state_arrays(self) -> list[np.ndarray]:
        """Open shorts and longs per series, and what the pool took over."""
        return [self.short, self.long, self.pool_short]

    def handlers(self) -> dict:
        return {Kind.OPT_BUY: self._buy, Kind.OPT_TOPUP: self._topup,
                Kind.OPT_LIQUIDATE: self._liquidate}

    def payer(self, kind: int, sender: int) -> int:
        """The ledger account that pays a priority fee on one of our transactions."""
        if kind == Kind.OPT_TOPUP:
            return int(self.writer_wallet[sender])
        if kind == Kind.OPT_LIQUIDATE:
            return int(self.perps.liquidator_account[sender])
        return int(self.wallet[sender])

    # marks and margin -------------------------------------------------------------------
    def marks(self, t_us: int, price_micro: int | None = None) -> np.ndarray:
        """Black-Scholes mark per unit of each series (USD), 0 once expired.

        Marks depend only on the time and the price, and a block asks for the same pair
        several times (margin calls, liquidation scans, buys), so the last one is kept;
        the array is read-only so no caller can corrupt it.
        """
        price = self.perps.price if price_micro is None else price_micro
        if self._marks_key == (t_us, price):
            return self._marks
        self._marks_key, self._marks = (t_us, price), self._compute_marks(t_us, price)
        self._marks.flags.writeable = False
        return self._marks

    def _compute_marks(self, t_us: int, price_micro: int) -> np.ndarray:
        spot = price_micro / PPM
        years = np.clip((self.expiry - t_us) / YEAR_US, 0, None)
        kinds = np.where(self.is_put, "put", "call")
        live = years > 0
        out = np.zeros(len(years))
        if spot > 0 and live.any():
            out[live] = black_scholes(kinds[live], spot, self.strike[live], years[live], 0.0,
                                      self.cfg.vol)
        return out

    def _free_margin(self, marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial requirement per unit of each series, and each writer's margin left
        over its initial requirement (micro-USD)."""
        im = self._per_unit(marks, self.perps.price / PPM, self.cfg.im_base, self.cfg.im_min)
        return im, self.ledger.balances[self.margin] - (self.short / PPM @ im) * PPM

    def capacity(self, t_us: int, series: int) -> int:
        """The most of ``series`` (micro-units) one writer can sell now."""
        marks = self.marks(t_us)
        im, free = self._free_margin(marks)
        unit_im = im[series] - marks[series]  # the premium received pays the mark part
        return int(max(float(free.max()), 0.0) / unit_im) if unit_im > 0 else 0

    def fair_premiums(self, reference_at) -> np.ndarray:
        """Each sale's Black-Scholes value at the reference price of its time (micro-USD):
        what it was worth, whatever the on-chain price the sale was struck at."""
        if not self.sales:
            return np.zeros(0)
        t, _, _, series, qty, _ = np.asarray(self.sales, dtype=np.int64).T
        years = (self.expiry[series] - t) / YEAR_US
        kinds = np.where(self.is_put[series], "put", "call")
        unit = black_scholes(kinds, reference_at(t), self.strike[series], years, 0.0,
                             self.cfg.vol)
        return unit * qty

    def _per_unit(self, marks: np.ndarray, spot: float, base: float, floor: float) -> np.ndarray:
        otm = np.where(self.is_put, np.clip(spot - self.strike, 0, None),
                       np.clip(self.strike - spot, 0, None))
        return marks + np.maximum(base * spot - otm, floor * spot)

    def margin_state(self, t_us: int, price_micro: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Writers' equity and maintenance requirement (micro-USD, floats)."""
        spot = (self.perps.price if price_micro is None else price_micro) / PPM
        marks = self.marks(t_us, price_micro)
        units = self.short / PPM
        equity = self.ledger.balances[self.margin] - units @ marks * PPM
        need = units @ self._per_unit(marks, spot, self.cfg.mm_base, self.cfg.mm_min) * PPM
        return equity, need

    def liquidatable(self, t_us: int, price_micro: int | None = None) -> np.ndarray:
        if not (self.perps.price if price_micro is None else price_micro):
            return np.empty(0, dtype=np.int64)
        equity, need = self.margin_state(t_us, price_micro)
        return np.flatnonzero((need > 0) & (equity < need))

    # transactions -----------------------------------------------------------------------
    def _buy(self, buyer: int, qty: int, series: int, block: int, t: int) -> bool:
        p = self.perps
        if not p.price or qty <= 0 or not 0 <= series < len(self.expiry) or t >= self.expiry[series]:
            return False
        marks = self.marks(t)
        premium = int(qty * marks[series])  # qty micro-units × USD/unit = micro-USD
        if premium <= 0 or self.ledger.balances[self.wallet[buyer]] < premium:
            return False
        im, free = self._free_margin(marks)
        free = free + premium - qty / PPM * im[series] * PPM
        writer = int(np.argmax(free))
        if free[writer] < 0:
            return False
        self.ledger.transfer(int(self.wallet[buyer]), int(self.margin[writer]), premium,
                             "option_premium")
        self.short[writer, series] += qty
        self.long[buyer, series] += qty
        self.premiums += premium
        self.sales.append((t, writer, buyer, series, qty, premium))
        return True

    def _topup(self, writer: int, amount: int, b: int, block: int, t: int) -> bool:
        if self.auctions is not None and self.auctions.locks(writer):
            return False  # seized at kick, as a Maker vault
        amount = min(amount, int(self.ledger.balances[self.writer_wallet[writer]]))
        if amount <= 0:
            return False
        self.ledger.transfer(int(self.writer_wallet[writer]), int(self.margin[writer]), amount,
                             "topup")
        return True

    def reward(self, writer: int, t_us: int) -> int:
        """What liquidating ``writer`` now would pay its liquidator (micro-USD; 0 when it
        is not liquidatable, or under Dutch auctions, where the auction sets the price).
        Pure: nothing changes."""
        if self.auctions is not None or not self.perps.price:
            return 0
        equity, need = self.margin_state(t_us)
        if not (need[writer] > 0 and equity[writer] < need[writer]):
            return 0
        notional = int(self.short[writer].sum() * self.perps.price // PPM)
        left = int(self.ledger.balances[self.margin[writer]]) \
            - int(self.short[writer] @ self.marks(t_us))  # after the pool's buyback
        return max(0, min(notional * int(round(self.cfg.liquidation_bonus * PPM)) // PPM, left))

    def liquidate(self, liquidator: int, writer: int, block: int, t: int) -> bool:
        """Liquidate ``writer`` now, as a liquidation transaction of ``liquidator`` would."""
        return self._liquidate(liquidator, 0, writer, block, t)

    def _liquidate(self, liquidator: int, a: int, writer: int, block: int, t: int) -> bool:
        if not 0 <= writer < len(self.margin) or not self.perps.price \
                or self.perps.too_old_to_liquidate(t):
            return False
        equity, need = self.margin_state(t)
        liquidatable = bool(need[writer] > 0 and equity[writer] < need[writer])
        if self.auctions is not None:
            return self.auctions.liquidate(liquidator, a, writer, block, t, liquidatable)
        if not liquidatable:
            return False
        notional = self.take_over(writer, self.short[writer].copy(), t)
        bonus = min(notional * int(round(self.cfg.liquidation_bonus * PPM)) // PPM,
                    int(self.ledger.balances[self.margin[writer]]))
        self.ledger.transfer(int(self.margin[writer]), self.perps.liquidator_account[liquidator],
                             bonus, "liquidation_bonus")
        self.liquidations.append((t, block, writer, liquidator, notional, bonus))
        return True

    def take_over(self, writer: int, units: np.ndarray, t: int) -> int:
        """The pool takes ``units`` (per series) of the writer's shorts at the mark, paid
        from the writer's margin; returns their underlying notional (micro-USD)."""
        cost = int(units @ self.marks(t))
        self._pay(writer, self.pool, cost, "option_buyback")
        self.pool_short += units
        self.short[writer] -= units
        return int(units.sum() * self.perps.price // PPM)

    def quotes(self, t_us: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Writers under Dutch auction and their prices (None with a fixed bonus)."""
        return None if self.auctions is None else self.auctions.quotes(t_us)

    def _pay(self, writer: int, to: int, amount: int, reason: str) -> None:
        """A writer pays ``amount``; the insurance fund covers what its margin cannot."""
        led, m = self.ledger, int(self.margin[writer])
        paid = min(amount, int(led.balances[m]))
        led.transfer(m, to, paid, reason)
        short = amount - paid
        if short:
            covered = min(short, int(led.balances[self.perps.insurance]))
            led.transfer(self.perps.insurance, to, covered, "insurance")
            self.bad_debt += short - covered

    # time -------------------------------------------------------------------------------
    def begin_block(self, t_us: int) -> None:
        """Accrue exposure, then settle every series that has expired."""
        self.t_us = t_us
        self._accrue(t_us)
        due = np.flatnonzero(~self.settled & (self.expiry <= t_us))
        for s in due.tolist():
            self._settle(s)

    def _settle(self, s: int) -> None:
        spot = self.perps.price
        strike = int(round(self.strike[s] * PPM))
        payoff = max(strike - spot, 0) if self.is_put[s] else max(spot - strike, 0)
        for w in np.flatnonzero(self.short[:, s]).tolist():
            self._pay(w, self.pool, int(self.short[w, s]) * payoff // PPM, "option_settlement")
        holders = np.flatnonzero(self.long[:, s])
        owed = self.long[holders, s] * payoff // PPM
        if len(holders):
            budget = int(self.ledger.balances[self.pool])
            scale = min(1.0, budget / owed.sum()) if owed.sum() > 0 else 1.0
            paid = np.floor(owed * scale).astype(np.int64)
            self.ledger.transfer_many(self.pool, self.wallet[holders], paid, "option_settlement")
            self.bad_debt += int(owed.sum() - paid.sum())
        self.short[:, s] = 0
        self.long[:, s] = 0
        self.pool_short[s] = 0
        self.settled[s] = True

    def _accrue(self, t_us: int) -> None:
        dt = (t_us - self._exposure_t) / YEAR_US
        self._exposure_t = t_us
        if dt <= 0 or not self.perps.price:
            return
        spot = self.perps.price / PPM / PPM  # USD per micro-unit
        w, b = self.short.sum(axis=1) * spot * dt, self.long.sum(axis=1) * spot * dt
        self.exposure[0, : len(w)] += w
        self.exposure[1, : len(b)] += b

    def values(self, t_us: int, price_micro: int) -> tuple[np.ndarray, np.ndarray]:
        """Writers' and buyers' value (micro-USD) marked at ``price_micro``.

        A series that has expired but not yet been settled (no block has started since
        its expiry, as at the end of a run) is owed its payoff, not nothing: it is marked
        at its intrinsic value, so whether a design happens to produce a block at the
        expiry does not move value between writers and buyers.
        """
        marks = self.marks(t_us, price_micro).copy()
        due = ~self.settled & (self.expiry <= t_us)
        spot = price_micro / PPM
        marks[due] = np.where(self.is_put[due], np.clip(self.strike[due] - spot, 0, None),
                              np.clip(spot - self.strike[due], 0, None))
        bal = self.ledger.balances
        writers = bal[self.margin] + bal[self.writer_wallet] - self.short / PPM @ marks * PPM
        buyers = bal[self.wallet] + self.long / PPM @ marks * PPM
        return writers, buyers
