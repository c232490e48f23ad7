"""Liquidation presets from real protocols, and "never take more than the account has".

Every mechanism and preset is checked on the same ground: what a liquidator and the fees
take never exceeds the account's equity above zero, bad debt only comes from an account
already under water, and ``reward(i, block)`` is exactly what the next liquidation pays.
"""
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seqlab.errors import SeqlabError
from seqlab.ledger import Ledger
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.loader import builtin_scenarios
from seqlab.scenario.presets import PERPS_PRESETS
from seqlab.scenario.schema import Perps, liquidator_share
from seqlab.txs import Kind, TxStore
from tests.test_perps import OK, FAILED, bal, make, oracle, tx, usd

PPM = 1_000_000
PRESETS = sorted(PERPS_PRESETS)
# explicit mechanisms beside the presets: fixed and partial with a bonus and a fee
MECHANISMS = [
    {"preset": name} for name in PRESETS
] + [
    {"liquidation": "fixed", "liquidation_bonus": 0.02, "liquidation_fee": 0.005},
    {"liquidation": "partial", "liquidation_bonus": 0.02, "liquidation_fee": 0.005,
     "partial_cap": 0.25},
    {"liquidation": "fillable", "fillable_spread": 0.4, "partial_cap": 0.3},
    {"liquidation": "keeper_fee", "keeper_fee_ratio": 0.005, "min_keeper_fee_usd": 5.0,
     "max_keeper_fee_usd": 50.0, "liquidation_fee": 0.01, "liquidation_remainder": "pool"},
]


def protocol(cfg: dict, accounts: int = 2, margin=10_000.0) -> PerpsProtocol:
    """A protocol configured by ``cfg`` alone (presets keep their own margins), each
    account with ``margin`` USD (one number or one per account) and 100 USD in its wallet."""
    p = PerpsProtocol(Perps(**cfg), Ledger(), TxStore(), accounts=accounts,
                      liquidators=["a", "b"])
    p.fund_accounts(np.broadcast_to(np.asarray(margin, float), accounts).copy(),
                    np.full(accounts, 100.0))
    return p


def at_risk(cfg: dict, health: float, short: bool = False) -> PerpsProtocol:
    """Account 0 levered to 90 % of the preset's maximum at 2000, then the price moved to
    where equity / maintenance requirement = ``health`` (negative: under water)."""
    p = protocol(cfg)
    oracle(p, 2_000.0)
    lev = 0.9 / p.cfg.initial_margin
    sign = -1 if short else 1
    assert tx(p, Kind.TRADE, 0, a=sign * usd(10_000.0 * lev)) == OK
    q = abs(int(p.size[0])) / PPM
    m = bal(p, p.margin[0]) / PPM
    mm = p.cfg.maintenance_margin
    # long: m + q(P - 2000) = h·mm·qP ; short: m - q(P - 2000) = h·mm·qP
    price = (2_000 * q - m) / (q * (1 - health * mm)) if not short else \
        (m + 2_000 * q) / (q * (1 + health * mm))
    oracle(p, round(price, 6), block=2)
    assert p.is_liquidatable(0)
    return p


def liquidate(p: PerpsProtocol, liquidator: int, i: int, block: int) -> tuple[int, int]:
    """Run one liquidation; returns (status, what the liquidator was paid)."""
    before = bal(p, p.liquidator_account[liquidator])
    status = tx(p, Kind.LIQUIDATE, liquidator, b=i, block=block, t=block * 1_000_000)
    return status, bal(p, p.liquidator_account[liquidator]) - before


# presets in the schema -------------------------------------------------------------------
def test_a_preset_fills_its_fields_and_written_fields_win():
    for name, values in PERPS_PRESETS.items():
        cfg = Perps(preset=name)
        assert {k: getattr(cfg, k) for k in values} == dict(values)
    cfg = Perps(preset="aave-v3", close_factor=0.3)
    assert cfg.close_factor == 0.3 and cfg.liquidation_bonus == 0.045
    assert Perps.model_validate(cfg.model_dump()) == cfg  # a dump loads back the same


def test_changing_the_preset_of_a_dumped_scenario_switches_its_numbers():
    data = load_scenario("default").scenario.model_dump(mode="python")
    assert parse_scenario(data).scenario == load_scenario("default").scenario
    data["protocol"]["perps"]["preset"] = "gmx-v2"  # as a sweep or compare override does
    perps = parse_scenario(data).scenario.protocol.perps
    assert {k: getattr(perps, k) for k in PERPS_PRESETS["gmx-v2"]} == \
        dict(PERPS_PRESETS["gmx-v2"])
    kept = Perps(preset="aave-v3", close_factor=0.3, initial_margin=0.2)
    assert Perps.model_validate(kept.model_dump()) == kept
    assert kept.model_dump()["close_factor"] == 0.3 and "initial_margin" not in kept.model_dump()


def test_bare_perps_is_dydx_v4():
    """Every number but who carries bad debt: the bare default keeps the pool behind the
    insurance fund (Dutch auctions, which take it, have no deleveraging)."""
    assert Perps() == Perps(preset="dydx-v4").model_copy(
        update={"preset": None, "bad_debt": "insurance_then_pool"})
    assert Perps(preset="dydx-v4").bad_debt == "insurance_then_deleverage"


def test_unknown_preset_is_one_line_listing_the_names():
    with pytest.raises(SeqlabError) as err:
        parse_scenario({"protocol": {"perps": {"preset": "bitmex"}}}, "x.toml")
    text = str(err.value)
    assert "\n" not in text and "protocol.perps.preset" in text and "'bitmex'" in text
    for name in PRESETS:
        assert name in text


@pytest.mark.parametrize("perps, why", [
    ({"liquidation": "fixed", "liquidation_bonus": 0.05}, "liquidation_bonus (0.05)"),
    ({"preset": "aave-v3", "liquidation_bonus": 0.2}, "maintenance_margin (0.17)"),
    ({"liquidation": "fillable", "fillable_spread": 1.0}, "fillable_spread"),
    ({"preset": "gmx-v2", "keeper_fee_ratio": 0.004}, "keeper_fee_ratio (0.004)"),
])
def test_a_take_at_or_above_maintenance_is_rejected(perps, why):
    with pytest.raises(SeqlabError) as err:
        parse_scenario({"protocol": {"perps": perps}}, "x.toml")
    text = str(err.value)
    assert why in text and "must be below maintenance_margin" in text
    assert "all of an account's equity" in text


def test_the_docs_presets_table_matches_the_presets():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines()
            if line.startswith("| `") and line.split("|")[1].strip(" `") in PERPS_PRESETS}
    assert set(rows) == set(PERPS_PRESETS)
    for name, values in PERPS_PRESETS.items():
        cells = [c.strip() for c in rows[name].split("|")]
        assert cells[2] == f"`{values['liquidation']}`"
        assert cells[3] == f"{values['initial_margin']:.2f} / {values['maintenance_margin']}" \
            or cells[3] == f"{values['initial_margin']} / {values['maintenance_margin']}"
        assert f"{values['liquidation_fee']}" in cells[5]


def test_builtin_scenarios_use_a_coherent_default():
    perps = load_scenario("default").scenario.protocol.perps
    assert perps.preset == "synthetix-v2" and perps.liquidation == "keeper_fee"
    assert (perps.initial_margin, perps.maintenance_margin) == (0.037, 0.015)
    bare = Perps()  # the bare default: dYdX v4's ETH-USD market
    assert bare.liquidation == "fillable" and (bare.initial_margin, bare.maintenance_margin) \
        == (0.05, 0.03)
    for name in builtin_scenarios():  # each validates, and its take stays below maintenance
        cfg = load_scenario(name).scenario.protocol.perps
        share, setting = liquidator_share(cfg)
        assert setting is None or share + cfg.liquidation_fee < cfg.maintenance_margin


# the reproduction from the review --------------------------------------------------------
def test_a_bonus_never_takes_margin_the_open_rest_needs():
    """10 ETH long at 2000 on 1,100 USD, price 1,915: equity 240 USD. The old 5 % bonus on
    half the position paid 478.75 USD out of margin the open half needed; a 2.5 % bonus
    and 0.4 % fee (239.375 + 38.30 USD) now take together exactly the 240 USD."""
    p = make(margin=1_100.0, wallet=5_000.0, liquidation_bonus=0.025,
             liquidation_fee=0.004)
    oracle(p, 2_000.0, block=1)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000.0), block=1) == OK
    oracle(p, 1915.0, block=2)
    assert p.equity(0) == usd(240)
    ins = bal(p, p.insurance)
    status, paid = liquidate(p, 0, 0, 3)
    assert status == OK and paid == usd(239.375)
    assert bal(p, p.insurance) - ins == usd(0.625)
    assert p.equity(0) == 0 and bal(p, p.margin[0]) == usd(425)  # the open half's loss
    assert tx(p, Kind.CLOSE, 0, block=4) == OK
    assert p.log.bad_debt == 0 and bal(p, p.insurance) == ins + usd(0.625)
    assert p.ledger.check() == 0


# the mechanisms --------------------------------------------------------------------------
def test_aave_closes_half_above_health_095_and_all_below():
    cfg = {"preset": "aave-v3"}
    p = at_risk(cfg, 0.97)
    size = int(p.size[0])
    assert liquidate(p, 0, 0, 3)[0] == OK
    assert int(p.size[0]) == size - size // 2
    p = at_risk(cfg, 0.9)
    assert liquidate(p, 0, 0, 3)[0] == OK
    assert p.size[0] == 0


def test_dydx_pays_the_fillable_discount_and_the_capped_fee():
    cfg = {"preset": "dydx-v4", "fillable_spread": 0.4}
    p = at_risk(cfg, 0.4)
    size, e = int(p.size[0]), p.equity(0)
    req = Fraction(3, 100) * p.notional(size)
    abr = min(max(1 - e / req, 0), 1)
    close = size // 10  # the 10 % per-block cap
    closed = p.notional(close)
    discount = int(closed * Fraction(2, 5) * Fraction(3, 100) * abr)  # SMMR·MMF·ABR
    ins = bal(p, p.insurance)
    status, paid = liquidate(p, 1, 0, 3)
    assert status == OK and paid == discount > 0
    assert bal(p, p.insurance) - ins == closed * 15_000 // PPM  # 1.5 % of the closed
    assert int(p.size[0]) == size - close
    assert liquidate(p, 1, 0, 3) == (FAILED, 0)  # the block's 10 % is used up
    assert liquidate(p, 1, 0, 4)[0] == OK


def test_dydx_discount_is_zero_at_maintenance_and_bounded_by_bankruptcy():
    p = at_risk({"preset": "dydx-v4", "fillable_spread": 0.45, "partial_cap": 1.0}, 0.999)
    assert p.liquidation.reward(0, 3) < p.notional(int(p.size[0])) // 10_000  # ~0
    p = at_risk({"preset": "dydx-v4", "fillable_spread": 0.45, "partial_cap": 1.0}, 0.05)
    e = p.equity(0)
    status, paid = liquidate(p, 0, 0, 3)
    assert status == OK and 0 < paid <= e and p.equity(0) >= 0 and p.log.bad_debt == 0


def test_gmx_gives_the_trader_back_what_is_left():
    p = at_risk({"preset": "gmx-v2"}, 0.5)
    e, pool = p.equity(0), bal(p, p.pool)
    closed = p.notional(int(p.size[0]))
    status, paid = liquidate(p, 0, 0, 3)
    assert status == OK and paid == 0 and p.size[0] == 0
    fee = closed * 2_000 // PPM  # 0.2 % of the notional to the pool
    assert bal(p, p.margin[0]) == e - fee


def test_synthetix_pays_a_banded_keeper_fee_and_the_rest_to_the_stakers():
    p = at_risk({"preset": "synthetix-v2"}, 0.95)
    closed = p.notional(int(p.size[0]))
    status, paid = liquidate(p, 0, 0, 3)
    assert status == OK and paid == min(max(closed * 3_500 // PPM, usd(1)), usd(1_000))
    assert bal(p, p.margin[0]) == 0 and p.size[0] == 0
    assert p.ledger.totals_by_reason()["liquidation_remainder"] > 0
    small = protocol({"preset": "synthetix-v2"}, margin=20.0)
    oracle(small, 2_000.0)
    assert tx(small, Kind.TRADE, 0, a=usd(200.0)) == OK
    oracle(small, 1_825.0, block=2)  # equity 2.4 USD < 1.5 % of 182.5; 0.35 % is 0.64
    assert small.is_liquidatable(0)
    assert small.liquidation.reward(0, 3) == usd(1)  # the minimum keeper fee


@pytest.mark.parametrize("cfg", MECHANISMS, ids=lambda c: c.get("preset") or c["liquidation"])
@pytest.mark.parametrize("health", [0.98, 0.6, 0.1, -0.3])
@pytest.mark.parametrize("short", [False, True])
def test_reward_is_exactly_what_the_next_liquidation_pays(cfg, health, short):
    p = at_risk(cfg, health, short)
    for block in (3, 3, 4, 5):
        before = p.ledger.balances.copy()
        size = int(p.size[0])
        expected = p.liquidation.reward(0, block)
        assert (p.ledger.balances == before).all() and int(p.size[0]) == size  # pure
        status, paid = liquidate(p, block % 2, 0, block)
        assert paid == expected
        if status == FAILED:
            assert expected == 0
    assert p.ledger.check() == 0
    assert p.liquidation.reward(1, 6) == 0  # no position: nothing to pay


# the property ----------------------------------------------------------------------------
TAKES = ("liquidation_bonus", "liquidation_fee", "liquidation_remainder")


def taken(p: PerpsProtocol) -> int:
    """All a liquidation has taken from accounts so far: bonuses, discounts and fees."""
    totals = p.ledger.totals_by_reason()
    return sum(totals.get(reason, 0) for reason in TAKES)


ops = st.lists(st.tuples(st.integers(-900, 600),  # price move in bps
                         st.integers(1, 3),       # liquidations in this block
                         st.booleans()),          # the owner tops up first
               min_size=1, max_size=8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MECHANISMS), st.lists(st.floats(0.1, 1.0), min_size=3, max_size=3),
       st.lists(st.sampled_from([-1, 1]), min_size=3, max_size=3),
       st.lists(st.integers(50, 50_000), min_size=3, max_size=3), ops)
def test_liquidators_never_take_more_than_positive_equity(cfg, leverage, sides, margins,
                                                          steps):
    p = protocol(cfg, accounts=3, margin=margins)
    price = 2_000 * PPM
    oracle(p, price / PPM)
    for i in range(3):
        lev = leverage[i] * 0.99 / p.cfg.initial_margin
        tx(p, Kind.TRADE, i, a=sides[i] * int(margins[i] * lev * PPM))
    block = 2
    for move, count, topup in steps:
        price = max(PPM, price + price * move // 10_000)
        oracle(p, price / PPM, block=block)
        for n in range(count):
            for i in range(3):
                if topup and n == 0:
                    tx(p, Kind.TOPUP, i, a=usd(1), block=block)
                equity, bad = p.equity(i), p.log.bad_debt
                flows = taken(p)
                expected = p.liquidation.reward(i, block)
                status, paid = liquidate(p, n % 2, i, block)
                assert paid == expected
                assert 0 <= paid <= taken(p) - flows <= max(0, equity)
                if status == OK:
                    event(f"liquidated at {'negative' if equity < 0 else 'positive'} equity")
                    if equity >= 0:
                        assert p.log.bad_debt == bad  # no bad debt from a solvent account
                        assert p.equity(i) >= 0
                assert p.ledger.check() == 0
        block += 1
    assert p.ledger.check() == 0
    assert (p.ledger.balances[1:len(p.ledger.names)] >= 0).all()


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_a_world_with_an_exact_ledger(preset):
    """The tiny scenario under each preset (leverage 80-99 % of the preset's maximum):
    liquidations happen, the ledger balances, no account goes negative."""
    from seqlab.world import World

    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["market"]["jump_mean"] = -0.05  # crashes deep enough for Aave's 17 % margin
    data["protocol"]["perps"] = {"preset": preset}
    im = PERPS_PRESETS[preset]["initial_margin"]
    data["agents"]["traders"].update(leverage=[0.8 / im, 0.99 / im], leverage_weights=[1, 1])
    world = World(parse_scenario(data))
    result = world.run()
    assert result.summary["ledger_residual"] == 0
    assert result.summary["liquidations"] > 0
    balances = world.ledger.balances[1:len(world.ledger.names)]
    assert (balances >= 0).all()
