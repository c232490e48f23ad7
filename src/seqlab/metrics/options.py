"""What the options market did: volume, liquidations of writers, settlement, who ended
with what (marked at the final reference price)."""
from __future__ import annotations

import numpy as np

from seqlab.metrics.costs import penalties_paid
from seqlab.protocols.options import OptionsProtocol
from seqlab.protocols.perps import PPM


def options_summary(opt: OptionsProtocol, t_us: int, price_micro: int) -> dict:
    writers, buyers = opt.values(t_us, price_micro)
    buyers = buyers[: opt.cfg.buyers]
    liq = np.asarray(opt.liquidations, dtype=np.int64).reshape(-1, 6)
    return {"option_premiums_usd": round(opt.premiums / PPM, 2),
            "option_liquidations": int(len(liq)),
            "option_liquidation_bonus_usd": round(float(liq[:, 5].sum()) / PPM, 2),
            "option_bad_debt_usd": round(opt.bad_debt / PPM, 2),
            "option_writer_value_usd": round(float(writers.sum()) / PPM, 2),
            "option_buyer_value_usd": round(float(buyers.sum()) / PPM, 2),
            "options_pool_usd": round(float(opt.ledger.balances[opt.pool]) / PPM, 2)}


def options_tables(opt: OptionsProtocol, t_us: int, price_micro: int, reference_at) -> dict:
    """Writers and buyers (not the operator's account): value, exposure, and the two
    ordering-cost channels. A sale struck below its value at the reference price costs
    the writer what it gains the buyer (stale-oracle buying shows up here)."""
    opt._accrue(t_us)
    writers, buyers = opt.values(t_us, price_micro)
    nw, nb = len(writers), opt.cfg.buyers
    short_by = np.zeros(nw)
    long_by = np.zeros(nb + 1)
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


def operator_option_value(opt: OptionsProtocol, t_us: int, price_micro: int) -> int:
    """The operator's option account: wallet plus its options marked (micro-USD)."""
    return int(opt.values(t_us, price_micro)[1][opt.operator_buyer])
