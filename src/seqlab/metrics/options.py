"""What the options market did: volume, liquidations of writers, settlement, who ended
with what (marked at the final reference price).

The options protocol's own report calls these, so they read it through the narrow
``OptionsBook`` below rather than its module (importing it back would be a loop).
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from seqlab.ledger import Ledger
from seqlab.metrics.costs import penalties_paid
from seqlab.units import MICRO_USD as PPM


class OptionsBook(Protocol):
    """What the options metrics read of the options protocol."""

    ledger: Ledger
    margin: np.ndarray
    writer_wallet: np.ndarray
    wallet: np.ndarray
    pool: int
    exposure: np.ndarray
    sales: list
    liquidations: list
    premiums: int
    bad_debt: int
    buyer_accounts: Any  # BuyerAccounts: the users' buyers, then the operator's

    def values(self, t_us: int, price_micro: int) -> tuple[np.ndarray, np.ndarray]: ...

    def fair_premiums(self, reference_at: Callable) -> np.ndarray: ...


def options_summary(opt: OptionsBook, t_us: int, price_micro: int) -> dict:
    writers, buyers = opt.values(t_us, price_micro)
    buyers = buyers[: opt.buyer_accounts.users]
    liq = np.asarray(opt.liquidations, dtype=np.int64).reshape(-1, 6)
    return {"option_premiums_usd": round(opt.premiums / PPM, 2),
            "option_liquidations": int(len(liq)),
            "option_liquidation_bonus_usd": round(float(liq[:, 5].sum()) / PPM, 2),
            "option_bad_debt_usd": round(opt.bad_debt / PPM, 2),
            "option_writer_value_usd": round(float(writers.sum()) / PPM, 2),
            "option_buyer_value_usd": round(float(buyers.sum()) / PPM, 2),
            "options_pool_usd": round(float(opt.ledger.balances[opt.pool]) / PPM, 2)}


def options_tables(opt: OptionsBook, t_us: int, price_micro: int, reference_at) -> dict:
    """Writers and buyers (not the operator's account): value, exposure, and the two
    ordering-cost channels. A sale struck below its value at the reference price costs
    the writer what it gains the buyer (stale-oracle buying shows up here). Exposure is
    as the protocol accrued it up to ``t_us``."""
    writers, buyers = opt.values(t_us, price_micro)
    nw, nb = len(writers), opt.buyer_accounts.users
    short_by = np.zeros(nw)
    long_by = np.zeros(opt.buyer_accounts.count)
    if opt.sales:
        sale = np.asarray(opt.sales, dtype=np.int64)
        cheap = (opt.fair_premiums(reference_at) - sale[:, 5]) / PPM  # USD per sale
        np.add.at(short_by, sale[:, 1], cheap)
        np.add.at(long_by, sale[:, 2], -cheap)
    return {"option_writers": {"account": np.arange(nw), "value_usd": writers / PPM,
                               "usd_years": opt.exposure[0, :nw],
                               "ordering_cost_usd": penalties_paid(
                                   opt.ledger, opt.margin, opt.writer_wallet),
                               "execution_cost_usd": short_by},
            "option_buyers": {"account": np.arange(nb), "value_usd": buyers[:nb] / PPM,
                              "usd_years": opt.exposure[1, :nb],
                              "ordering_cost_usd": penalties_paid(opt.ledger,
                                                                  opt.wallet[:nb]),
                              "execution_cost_usd": long_by[:nb]}}
