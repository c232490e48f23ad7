"""What one design did to each owner against the baseline, on the same seed.

``seqlab compare`` and ``seqlab price`` both read a design's harm from the same paired
runs, so the measure lives here once: the *direct ordering cost* (penalties, fees,
execution against the baseline's fills, option sales against their value;
:mod:`seqlab.metrics.costs`), the *final-value difference* beside it, the split of both
by who pays, and the split of the direct cost by position type that the premium is
built on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqlab.experiments.stats import mean_ci, significance
from seqlab.metrics.costs import execution_cost
from seqlab.metrics.premium import Parts, group_parts, premium_parts

__all__ = ["RunView", "direct_harm", "premium_by_type", "payer_harm", "who_pays", "PAYERS"]

PAYERS = ("traders", "margin users", "hedgers", "option writers", "option buyers",
          "liquidity pool", "insurance fund")


@dataclass
class RunView:
    """What a paired experiment keeps of one run."""

    summary: dict
    values: np.ndarray        # per user account, USD
    managed: np.ndarray       # per user account: manages margin (tops up)
    accounts: dict            # the run's accounts table (exposure, leverage)
    option_tables: dict       # option writers and buyers (value, exposure), if any
    liquidated: np.ndarray    # accounts liquidated at least once
    bonus: dict[str, float]
    latency_ms: np.ndarray    # quantiles 0..1 of inclusion latency
    fills: dict               # executed trades with their fill price (``trade_fills``)
    cost_events: dict         # timed penalties per owner group (``costs.cost_events``)
    reference: tuple          # (t µs, price): the reference path, for stress events
    horizon_us: int
    #: every liquidation per owner group, ``(t µs, owner, notional USD)``
    #: (``costs.liquidation_times``): it times the costs the ledger books without one
    liquidation_times: dict = field(default_factory=dict)


def direct_harm(run: RunView, base: RunView) -> dict[str, np.ndarray]:
    """Per owner (USD): the extra penalties and fees it paid under the design, and the
    extra execution cost: for perps users their trades against the baseline's fills, for
    option writers and buyers their sales against the options' value at the reference."""
    out = {}
    for name, table in [("accounts", base.accounts), *base.option_tables.items()]:
        mine = run.accounts if name == "accounts" else run.option_tables[name]
        out[name] = mine["ordering_cost_usd"] - table["ordering_cost_usd"]
        if "execution_cost_usd" in table:  # options: sales against their value
            out[name] = out[name] + mine["execution_cost_usd"] - table["execution_cost_usd"]
    out["accounts"] = out["accounts"] + execution_cost(run.fills, base.fills,
                                                       len(base.values))
    return out


def premium_by_type(run: RunView, base: RunView, harm: dict[str, np.ndarray]) -> dict[str, Parts]:
    """Harm (USD) and baseline exposure (USD·years) per position type in one seed; the
    event-based premium is built from these (``premium_events.event_parts``)."""
    acc = base.accounts
    out = premium_parts(harm["accounts"], acc["long_usd_years"], acc["short_usd_years"],
                        acc["leverage"])
    for name, table in base.option_tables.items():
        out[name.replace("_", " ")] = group_parts(harm[name], table["usd_years"])
    return out


def payer_harm(run: RunView, base: RunView, direct: dict[str, np.ndarray] | None = None
               ) -> dict[str, tuple[float, float]]:
    """Who pays, in USD, for one seed: (direct ordering cost, final-value difference).

    Traders and margin users (perps accounts that do not and do manage their margin),
    hedgers (whose value counts their off-chain leg; where the scenario has them, they
    are neither of the first two), option writers and buyers: the direct cost beside the
    total. The liquidity pool and the insurance fund have no trades or penalties of
    their own: what stale-oracle trading and bad debt take from them is their value
    difference, so both columns hold it. The fund's is its balance at the end
    (``insurance_fund_end_usd``: payouts less the fees it receives); the pool's is
    ``lp_value_usd`` less that balance, since ``lp_value_usd`` counts the fund with the
    pool (a payout from the fund to the pool moves nothing in it): a payout is counted
    once, as the fund's. A value one user pays another (a stale option sale is the
    writer's loss and the buyer's gain) cancels in the sum over payers, which is
    therefore what left the users, the pool and the fund together.
    """
    if direct is None:  # ``direct_harm(run, base)``, unless the caller has it already
        direct = direct_harm(run, base)
    total = base.values - run.values
    managed = np.asarray(base.managed, dtype=bool)
    hedger = np.asarray(base.accounts.get("hedger", np.zeros(len(managed), dtype=bool)))
    groups = {"traders": ~managed & ~hedger, "margin users": managed & ~hedger}
    if hedger.any():
        groups["hedgers"] = hedger
    out = {name: (float(direct["accounts"][who].sum()), float(total[who].sum()))
           for name, who in groups.items()}
    for name, table in base.option_tables.items():
        diff = float((table["value_usd"] - run.option_tables[name]["value_usd"]).sum())
        out[name.replace("_", " ")] = (float(direct[name].sum()), diff)
    ins = float(base.summary.get("insurance_fund_end_usd", 0.0)
                - run.summary.get("insurance_fund_end_usd", 0.0))
    lp = float(base.summary.get("lp_value_usd", 0.0)
               - run.summary.get("lp_value_usd", 0.0)) - ins
    out["liquidity pool"] = (lp, lp)
    out["insurance fund"] = (ins, ins)
    return out


def usd_figure(values: list[float], seeds: int) -> dict:
    """Mean over seeds (USD), its 95 % interval and whether it excludes zero. One seed
    shows no spread: its interval is ``None`` (unknown), not a zero-width point."""
    mean, ci = mean_ci(values)
    interval = [round(x, 2) for x in ci] if seeds > 1 else None
    return {"mean_usd": round(mean, 2), "ci95_usd": interval,
            **significance(mean, interval, seeds)}


def who_pays(per_seed: list[dict[str, tuple[float, float]]]) -> dict[str, dict]:
    """Each payer's direct ordering cost and final-value difference over seeds
    (``per_seed``: :func:`payer_harm` of every seed), in the order of :data:`PAYERS`."""
    n = len(per_seed)
    return {name: {"direct": usd_figure([s[name][0] for s in per_seed], n),
                   "final_value_difference": usd_figure([s[name][1] for s in per_seed], n)}
            for name in PAYERS if per_seed and name in per_seed[0]}
