"""What the options market did: volume, liquidations of writers, settlement, who ended
with what (marked at the final reference price)."""
from __future__ import annotations

import numpy as np

from seqlab.protocols.options import OptionsProtocol
from seqlab.protocols.perps import PPM


def options_summary(opt: OptionsProtocol, t_us: int, price_micro: int) -> dict:
    writers, buyers = opt.values(t_us, price_micro)
    liq = np.asarray(opt.liquidations, dtype=np.int64).reshape(-1, 6)
    return {"option_premiums_usd": round(opt.premiums / PPM, 2),
            "option_liquidations": int(len(liq)),
            "option_liquidation_bonus_usd": round(float(liq[:, 5].sum()) / PPM, 2),
            "option_bad_debt_usd": round(opt.bad_debt / PPM, 2),
            "option_writer_value_usd": round(float(writers.sum()) / PPM, 2),
            "option_buyer_value_usd": round(float(buyers.sum()) / PPM, 2),
            "options_pool_usd": round(float(opt.ledger.balances[opt.pool]) / PPM, 2)}


def options_tables(opt: OptionsProtocol, t_us: int, price_micro: int) -> dict:
    opt._accrue(t_us)
    writers, buyers = opt.values(t_us, price_micro)
    nw, nb = len(writers), len(buyers)
    return {"option_writers": {"account": np.arange(nw), "value_usd": writers / PPM,
                               "usd_years": opt.exposure[0, :nw]},
            "option_buyers": {"account": np.arange(nb), "value_usd": buyers / PPM,
                              "usd_years": opt.exposure[1, :nb]}}
