"""Liquidation presets for ``[protocol.perps]``: the numbers of real protocols, by name.

A preset fills in every ``[protocol.perps]`` field it names; a field the user writes
beside it wins. Each number's source is in docs/scenarios.md ("Presets"). The numbers are
kept here as plain data, apart from the schema's code, so that adding a protocol is one
entry and the table in the docs can be checked against it.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

PERPS_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    # Aave v3 WETH as collateral: liquidation threshold 83 % and LTV 80 % (the Chaos Labs
    # alignment across deployments), so maintenance = 1 - LT and initial = 1 - LTV; a 5 %
    # liquidation bonus of which the protocol keeps 10 % (liquidation protocol fee); close
    # factor 50 %, 100 % below health factor 0.95 (LiquidationLogic).
    "aave-v3": {
        "liquidation": "fixed", "initial_margin": 0.20, "maintenance_margin": 0.17,
        "liquidation_bonus": 0.045, "liquidation_fee": 0.005, "close_factor": 0.5,
        "full_close_health": 0.95,
    },
    # dYdX v4 ETH-USD (large-cap liquidity tier): initial 5 %, maintenance 60 % of it = 3 %;
    # no liquidator bonus: the position is taken at the fillable price
    # P·(1 - SMMR·MMF·BA·(1 - TNC/TMMR)) bounded by the bankruptcy price; a fee of at most
    # 1.5 % to the insurance fund; at most 10 % of a position per block; taker fee 5 bps,
    # all of it to the chain's validators and stakers (none to a pool); a loss beyond an
    # account's margin falls on the insurance fund, then deleverages opposite positions.
    "dydx-v4": {
        "liquidation": "fillable", "initial_margin": 0.05, "maintenance_margin": 0.03,
        "liquidation_bonus": 0.0, "liquidation_fee": 0.015, "partial_cap": 0.1,
        "fillable_spread": 0.1, "bankruptcy_adjustment": 1.0, "taker_fee_bps": 5.0,
        "fee_to_pool_share": 0.0, "bad_debt": "insurance_then_deleverage",
    },
    # GMX v2 ETH/USD: liquidated when collateral is below minCollateralFactor 0.5 % of the
    # size; contracts allow about 100x (1 %); the whole position closes; liquidationFeeFactor
    # 0.2 % to the pool; keepers are paid for gas by the protocol, not by the account, and
    # what collateral is left goes back to the trader; position fee 5 bps, 63 % of it to
    # the market's GM pool (the rest to GMX stakers and the treasury); an insolvent close
    # leaves its unpaid loss with the pool (no insurance fund).
    "gmx-v2": {
        "liquidation": "keeper_fee", "initial_margin": 0.01, "maintenance_margin": 0.005,
        "liquidation_bonus": 0.0, "liquidation_fee": 0.002, "keeper_fee_ratio": 0.0,
        "min_keeper_fee_usd": 0.0, "max_keeper_fee_usd": 0.0,
        "liquidation_remainder": "account", "taker_fee_bps": 5.0,
        "fee_to_pool_share": 0.63, "bad_debt": "pool",
    },
    # Synthetix perps v2 sETH PERP: keeper fee 0.35 % of notional within [1, 1000] USD;
    # liquidation buffer 1 % to the stakers (the pool), and the rest of the margin with it;
    # max leverage 27x; skew scale 1,000,000 ETH for price impact. Liquidation margin =
    # buffer + keeper fee (+ a skew premium), rounded up here to a 1.5 % maintenance margin.
    # A delayed order's keeper deposit is the minimum keeper fee, paid to its settler.
    # Open interest per side at most maxMarketValue 31,000 ETH (SCCP-2034), in USD at the
    # default scenario's 2,500 USD per ETH (about 80 % of it is taken there: see the docs).
    # Every fee goes to the fee pool of the SNX stakers, who are the debt pool (the
    # counterparty), and a loss beyond a margin stays with them (no insurance fund).
    "synthetix-v2": {
        "liquidation": "keeper_fee", "initial_margin": 0.037, "maintenance_margin": 0.015,
        "liquidation_bonus": 0.0, "liquidation_fee": 0.01, "keeper_fee_ratio": 0.0035,
        "min_keeper_fee_usd": 1.0, "max_keeper_fee_usd": 1000.0,
        "settlement_keeper_fee_usd": 1.0,
        "liquidation_remainder": "pool", "skew_scale": 1_000_000.0,
        "max_open_interest_usd": 77_500_000.0,
        "fee_to_pool_share": 1.0, "bad_debt": "pool",
    },
})
