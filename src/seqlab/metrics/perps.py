"""What a perps run did to people: liquidations, operator profit, censorship, user value.

Pure functions over a finished run's protocol, ledger and transactions. They read the
protocol through the narrow ``PerpsBook`` below, not its module: the protocol's own report
calls them, so importing it back would be a loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from seqlab.accounts import OperatorAccounts
from seqlab.ledger import Ledger
from seqlab.market import ReferencePrice
from seqlab.metrics.core import latency_stats_ms
from seqlab.metrics.auction import auction_summary
from seqlab.metrics.liquidation_gap import (first_of_episode, liquidation_gap,
                                            liquidator_profit)
from seqlab.metrics.costs import penalties_paid
from seqlab.metrics.venue import realized_vol, venue_path
from seqlab.metrics.oracle_error import oracle_error_bps
from seqlab.metrics.recourse import recourse_summary
from seqlab.rollup.fees import SEARCHER_DEPOSIT, SequencerAccounts
from seqlab.scenario.schema import STRATEGIES
from seqlab.txs import Kind, Status, TxStore
from seqlab.units import MICRO_USD as PPM

class PerpsBook(Protocol):
    """What the perps metrics read of the perps protocol."""

    size: np.ndarray
    margin: np.ndarray
    wallet: np.ndarray
    traded: np.ndarray
    exposure: np.ndarray
    keeper_capital: np.ndarray
    liquidator_account: list[int]
    insurance: int    # ledger account of the insurance fund
    log: Any          # PerpsLog
    liquidation: Any  # the liquidation mechanism (Dutch auctions report their takes)

    def market_view(self) -> Any: ...

    def account_values(self, price_micro: int) -> np.ndarray: ...

    def lp_value(self, price_micro: int) -> int: ...

    def accrue_exposure(self, t_us: int) -> None: ...


@dataclass
class PerpsRun:
    """The pieces of a finished perps run that its metrics read."""

    protocol: PerpsBook
    ledger: Ledger
    txs: TxStore
    reference: ReferencePrice
    liquidator_names: list[str]   # outside bots, then the operator's identities
    operator: OperatorAccounts    # the operator's perps accounts and liquidator identities
    users: int                    # accounts [0, users) belong to users
    capital_micro: int            # operator capital per trading account
    oracle_submit_us: np.ndarray
    horizon_us: int
    price_step_us: int
    managed: np.ndarray           # per user: whether the owner manages margin
    leverage: np.ndarray          # per user: preferred leverage
    # the rollup's fee market accounts (priority fees, searchers, treasury, proposer)
    sequencer_side: SequencerAccounts
    venue_depth_usd: float = 0.0  # L2 venue where liquidations are hedged (0: none)
    arb_half_life_us: int = 30_000_000
    bot_strategies: tuple[str, ...] = ()  # per outside bot (the first liquidator ids)
    bot_capital: tuple[int, ...] = ()     # per outside bot: its starting funds (micro-USD)
    # the margin managers' recourse against held top-ups (one entry per group, None where
    # switched off) and the delayed inbox's gas they paid from
    recourses: list = field(default_factory=list)
    inbox_fee: Any = None


def usd(micro: float | int) -> float:
    return round(float(micro) / PPM, 2)


def liquidation_rows(p: PerpsBook) -> np.ndarray:
    """Every liquidation of the run (``market_view.LIQUIDATION`` fields)."""
    return p.market_view().events_since(0).liquidations


def oracle_rows(p: PerpsBook) -> np.ndarray:
    """Every oracle update executed (``market_view.ORACLE_UPDATE`` fields)."""
    return p.market_view().events_since(0).oracle_updates


def final_price_micro(run: PerpsRun) -> int:
    """Mark-to-market price for account values: the reference at the end of the run."""
    return int(round(float(run.reference.at(run.horizon_us)) * PPM))


# where the operator's profit comes from: each strategy's account, tips, the lane auction
PROFIT_SOURCES = (*STRATEGIES, "priority_fees", "auction")


def operator_profit(run: PerpsRun) -> dict[str, float]:
    """Ledger profit of the operator, by strategy (each strategy has its own account);
    where independent builders extract instead, theirs is summed in."""
    p, bal, seq = run.protocol, run.ledger.balances, run.sequencer_side
    values = p.account_values(final_price_micro(run))
    sides, capital = run.operator.parties, run.capital_micro
    return {
        # less the capital its liquidator identities brought to buy Dutch auction lots
        "backrun": usd(sum(int(bal[p.liquidator_account[op.backrun]]
                               - p.keeper_capital[op.backrun]) for op in sides)),
        "censor": usd(sum(int(bal[p.liquidator_account[op.censor]]
                              - p.keeper_capital[op.censor]) for op in sides)),
        "stale_oracle": usd(sum(values[op.stale] - capital for op in sides)),
        "sandwich": usd(sum(values[op.sandwich] - capital for op in sides)),
        "priority_fees": usd(bal[seq.sequencer]),
        "auction": usd(bal[seq.searchers] - run.capital_micro
                       - run.ledger.totals_by_reason().get(SEARCHER_DEPOSIT, 0)),
    }


def censorship(txs: TxStore, horizon_us: int) -> dict[str, float | int]:
    """How long the operator held transactions back (from arrival to inclusion)."""
    held = np.flatnonzero(txs.column("held") == 1)
    if not len(held):
        return {"held_txs": 0, "max_censorship_delay_ms": 0.0, "mean_censorship_delay_ms": 0.0}
    end = np.where(txs.included_us[held] >= 0, txs.included_us[held], horizon_us)
    wait_ms = (end - txs.arrival_us[held]) / 1000.0
    return {"held_txs": int(len(held)), "max_censorship_delay_ms": round(float(wait_ms.max()), 3),
            "mean_censorship_delay_ms": round(float(wait_ms.mean()), 3)}


def liquidator_figures(run: PerpsRun) -> dict:
    """The outside bots' attempts (each paid gas, won or lost), gas and net profit."""
    p, txs = run.protocol, run.txs
    bots = len(run.bot_strategies)
    kinds, sender = txs.column("kind"), txs.column("sender")
    tries = ((kinds == Kind.LIQUIDATE) | (kinds == Kind.OPT_LIQUIDATE)) & (sender < bots) \
        & (txs.column("block") >= 0)
    failed = tries & (txs.column("status") == Status.FAILED)
    balances = run.ledger.balances[np.asarray(p.liquidator_account[:bots], dtype=np.int64)]
    return {"liquidator_attempts": int(tries.sum()),
            "liquidator_failed_attempts": int(failed.sum()),
            "liquidator_gas_usd": usd(run.ledger.totals_by_reason().get("gas", 0)),
            "liquidator_profit_by_strategy": liquidator_profit(
                list(run.bot_strategies), balances, np.asarray(run.bot_capital, np.int64))}


def bad_debt_borne(p: PerpsBook) -> dict[str, float]:
    """Who carried the perps losses beyond accounts' margins (USD): the insurance fund,
    the owners of deleveraged positions, and the pool (what is left: ``bad_debt_usd``,
    which also holds Dutch keeper incentives the fund could not pay)."""
    log = p.log
    return {"insurance fund": usd(log.insurance_covered),
            "deleveraged accounts": usd(log.deleveraged), "liquidity pool": usd(log.bad_debt)}


def perps_summary(run: PerpsRun) -> dict:
    p, txs = run.protocol, run.txs
    flows = run.ledger.totals_by_reason()
    liq = liquidation_rows(p)
    names = run.liquidator_names
    who, bonus = liq["liquidator"], liq["bonus"]
    bonus_by = {n: usd(bonus[who == j].sum()) for j, n in enumerate(names)}
    total_bonus = bonus.sum()
    op_bonus = bonus[who >= run.operator.backrun].sum()  # the operator's come last
    kinds, status = txs.column("kind"), txs.column("status")
    oracle = kinds == Kind.ORACLE
    profit = operator_profit(run)
    values = p.account_values(final_price_micro(run))
    gap = liq["us_after_oracle"] / 1000.0
    first = liq[first_of_episode(liq["t_us"], liq["account"], liq["us_after_oracle"])]
    return {
        "accounts": run.users,
        "oracle_updates": int(oracle.sum()),
        "oracle_latency_ms": latency_stats_ms(txs.column("submit_us")[oracle],
                                              txs.column("included_us")[oracle]),
        "liquidations": int(len(liq)),
        "accounts_liquidated": int(len(np.unique(liq["account"]))),
        "liquidated_usd": usd(liq["closed"].sum()),
        "liquidation_bonus_usd": usd(total_bonus),
        "liquidation_bonus_by_liquidator": bonus_by,
        "operator_bonus_share": round(float(op_bonus / total_bonus), 4) if total_bonus else 0.0,
        "same_block_liquidation_share": round(float((liq["blocks_after_oracle"] == 0).mean()),
                                              4) if len(liq) else 0.0,
        "oracle_to_liquidation_blocks": round(float(liq["blocks_after_oracle"].mean()), 3)
        if len(liq) else 0.0,
        "oracle_to_liquidation_ms": round(float(gap.mean()), 3) if len(liq) else 0.0,
        "liquidation_gap": liquidation_gap(first["blocks_after_oracle"],
                                           first["us_after_oracle"]),
        **liquidator_figures(run),
        # gross: auction payments only move part of it from searchers to the treasury
        "operator_profit_usd": round(sum(v for k, v in profit.items() if k != "auction"), 2),
        "operator_profit_by_strategy": profit,
        "auction_revenue_usd": usd(run.ledger.balances[run.sequencer_side.treasury]),
        "proposer_revenue_usd": usd(run.ledger.balances[run.sequencer_side.proposer]),
        **censorship(txs, run.horizon_us),
        "topups": int(((kinds == Kind.TOPUP) & (status == Status.OK)).sum()),
        "user_value_usd": usd(values[: run.users].sum()),
        "lp_value_usd": usd(p.lp_value(final_price_micro(run))),
        "traded_notional_usd": usd(p.traded[: run.users].sum()),
        "bad_debt_usd": usd(p.log.bad_debt),
        "bad_debt_borne_usd": bad_debt_borne(p),
        "insurance_paid_usd": usd(flows.get("insurance", 0)),
        "insurance_fund_end_usd": usd(run.ledger.balances[p.insurance]),
        "fees_usd": usd(flows.get("fee", 0) + flows.get("fee_to_pool", 0)),
        "fees_to_pool_usd": usd(flows.get("fee_to_pool", 0)),
        "funding_usd": usd(flows.get("funding", 0)),
        "price_start": round(float(run.reference.price[0]), 2),
        "price_end": round(float(run.reference.price[-1]), 2),
        "price_min": round(float(run.reference.price.min()), 2),
        **auction_summary(p.liquidation),
    }


def perps_report(run: PerpsRun, venue_price_at: Callable[[np.ndarray], np.ndarray] | None
                 ) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """The perps figures and tables of a run, then what users did about held top-ups and
    how far the prices sat from the reference; those figures are read off the tables, so
    the two come out together. ``venue_price_at``: a live L2 pool's price path, drawn in
    the price table instead of the replayed venue's."""
    summary, tables = perps_summary(run), perps_tables(run)
    if venue_price_at is not None:
        prices = tables["prices"]
        prices["venue"] = venue_price_at(np.rint(prices["t_s"] * 1e6).astype(np.int64))
    txs = {c: run.txs.column(c) for c in ("sender", "kind", "held")}
    summary.update(recourse_summary(run.recourses, run.inbox_fee, txs,
                                    tables["liquidations"]["account"]))
    summary.update(volatility(tables["prices"]))
    summary.update(oracle_error_bps(tables["prices"]))
    return summary, tables


def perps_tables(run: PerpsRun) -> dict[str, dict[str, np.ndarray]]:
    p = run.protocol
    p.accrue_exposure(run.horizon_us)
    liq, orc = liquidation_rows(p), oracle_rows(p)
    names = np.asarray(run.liquidator_names)
    values = p.account_values(final_price_micro(run))[: run.users]
    liq_count = np.bincount(liq["account"], minlength=len(p.size))[: run.users]
    return {
        "liquidations": {"t_s": liq["t_us"] / 1e6, "block": liq["block"].copy(),
                         "account": liq["account"].copy(),
                         "liquidator": names[liq["liquidator"]],
                         "closed_usd": liq["closed"] / PPM, "bonus_usd": liq["bonus"] / PPM,
                         "blocks_after_oracle": liq["blocks_after_oracle"].copy(),
                         "ms_after_oracle": liq["us_after_oracle"] / 1000.0},
        "oracle_updates": {"submit_s": run.oracle_submit_us[orc["seq"]] / 1e6,
                           "included_s": orc["t_us"] / 1e6, "block": orc["block"].copy(),
                           "price": orc["price"] / PPM},
        "prices": price_table(run, orc),
        "accounts": {"account": np.arange(run.users, dtype=np.int64),
                     "value_usd": values / PPM, "traded_usd": p.traded[: run.users] / PPM,
                     "liquidations": liq_count, "managed": run.managed[: run.users],
                     "leverage": run.leverage[: run.users],
                     "long_usd_years": p.exposure[0, : run.users],
                     "short_usd_years": p.exposure[1, : run.users],
                     "ordering_cost_usd": penalties_paid(run.ledger, p.margin[: run.users],
                                                         p.wallet[: run.users])},
    }


def price_table(run: PerpsRun, orc: np.ndarray) -> dict[str, np.ndarray]:
    """Reference, on-chain and L2-venue price on a grid of at most ~20,000 points."""
    step = max(run.price_step_us, run.horizon_us // 20_000)
    t = np.arange(0, run.horizon_us + 1, step, dtype=np.int64)
    onchain = np.full(len(t), np.nan)
    if len(orc):
        k = np.searchsorted(orc["t_us"], t, side="right") - 1
        onchain = np.where(k >= 0, orc["price"][np.maximum(k, 0)] / PPM, np.nan)
    table = {"t_s": t / 1e6, "reference": run.reference.at(t), "oracle": onchain}
    if run.venue_depth_usd > 0:
        table["venue"] = _venue(run, t, table["reference"])
    return table


def _venue(run: PerpsRun, t: np.ndarray, reference: np.ndarray) -> np.ndarray:
    p = run.protocol
    fills = p.market_view().liquidated_units()
    return venue_path(t, reference, fills["t_us"], fills["units"] / PPM, run.venue_depth_usd,
                      run.arb_half_life_us)


def volatility(prices: dict[str, np.ndarray]) -> dict[str, float]:
    """Realized volatility of the reference and the venue, and the distortion."""
    if "venue" not in prices:
        return {}
    t = (prices["t_s"] * 1e6).astype(np.int64)
    ref = realized_vol(t, prices["reference"])
    ven = realized_vol(t, prices["venue"])
    return {"reference_realized_vol": round(ref, 6), "venue_realized_vol": round(ven, 6),
            "vol_distortion": round(ven / ref - 1, 6) if ref > 0 else 0.0}
