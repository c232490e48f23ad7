"""Leg risk of cross-rollup arbitrage and what a shared operator takes from the bundles.

From the arbitrageurs' attempt table: how many pairs of legs were sent, how many executed
on both rollups, how many left one leg filled alone (by the rollup whose leg reverted),
the naked positions' size and what unwinding them cost. Under a shared sequencer with
inclusion-only bundles a leg reverts on its rollup while the other executes; under atomic
execution that cannot happen (a bundle that would fail is dropped whole); under isolated
sequencers each leg is on its own.
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.perps import PPM


def marked_profit_usd(cluster, first: int, count: int, capital_usd: float) -> float:
    """Accounts ``first`` … ``first + count - 1`` on every rollup, marked at the reference
    price at the horizon, less the ``capital_usd`` each started with on each rollup."""
    mark = int(round(float(cluster.reference.at(cluster.horizon)) * PPM))
    accounts = slice(first, first + count)
    value = sum(int(chain.protocol.account_values(mark)[accounts].sum())
                for chain in cluster.chains)
    return round(value / PPM - capital_usd * count * len(cluster.chains), 2)


def leg_risk_summary(cluster, names: str) -> dict:
    """The run's leg-risk figures (flat, so every view prints them as they are)."""
    arbs = cluster.arbs
    table = arbs.table()
    outcome = table["outcome"]
    one_leg = outcome == "failed_leg"
    unhedged = float(table["unhedged_usd"].sum())
    cost = float(table["unwind_cost_usd"].sum())
    if cluster.bundles is None:
        execution = "per-rollup"
    else:
        execution = "atomic" if cluster.bundles.atomic else "inclusion"
    out = {"execution": execution, "sent": int(len(outcome)),
           "both_executed": int((outcome == "filled").sum()),
           "one_leg_reverted": int(one_leg.sum())}
    for k in range(len(cluster.chains)):
        out[f"reverted_on_{names[k]}"] = int((one_leg & (table["reverted_rollup"] == k)).sum())
    out.update(both_reverted=int((outcome == "both_failed").sum()),
               dropped=int((outcome == "reverted").sum()),
               unhedged_usd=round(unhedged, 2), unwind_cost_usd=round(cost, 2),
               unwind_cost_bps=round(cost / unhedged * 1e4, 3) if unhedged else 0.0,
               stopped_arbitrageurs=int(np.sum(arbs.stopped)))
    return out


def cross_operator_summary(cluster) -> dict:
    """What the shared operator did with the bundles it saw: copies placed ahead of them,
    their notional, the gain it expected, and its accounts' profit marked at the end."""
    operator = cluster.bundles.operator
    log = operator.log
    capital = cluster.sc.agents.arbitrageurs.capital_usd
    return {"copies": log.copies, "notional_usd": round(log.notional_usd, 2),
            "expected_gain_usd": round(log.expected_gain_usd, 2),
            "profit_usd": marked_profit_usd(cluster, operator.account, 1, capital)}
