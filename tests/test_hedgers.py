"""Hedgers: users whose perp offsets an off-chain leg, and what a halt does to them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.agents.hedgers import Hedgers
from seqlab.errors import SeqlabError
from seqlab.kernel import Simulation
from seqlab.ledger import Ledger
from seqlab.metrics.perps import liquidation_rows
from seqlab.network import Network
from seqlab.protocols.perps import PPM
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Hedgers as HedgersCfg
from seqlab.scenario.schema import MarginManagers, Sequencer
from seqlab.txs import Kind, TxStore
from seqlab.world import World

HEDGERS = {"share": 0.3, "long_share": 0.5, "leverage": 20.0}


def scenario(outage: bool, **hedgers):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["agents"]["hedgers"] = {**HEDGERS, **hedgers}
    if outage:
        data["sequencer"]["outages"] = [{"start": "3min", "duration": "4min"}]
    return parse_scenario(data)


def run(outage: bool, **hedgers) -> tuple[World, dict]:
    w = World(scenario(outage, **hedgers))
    summary = w.run().summary
    assert summary["ledger_residual"] == 0
    return w, summary


@pytest.fixture(scope="module")
def live():
    return run(False, leverage=3.0)  # a jump of tiny's crash is no threat at 3x


@pytest.fixture(scope="module")
def live20():
    return run(False)


@pytest.fixture(scope="module")
def halted():
    return run(True)


def test_off_chain_legs_balance_in_the_ledger(halted):
    """Each leg's ledger account holds its deposit plus its mark-to-market exactly, and
    a hedger's value is its perp account plus what the leg made."""
    w, s = halted
    h, p = w.hedgers, w.protocol
    price = int(round(float(w.reference.at(w.horizon)) * PPM))
    bal = w.ledger.balances
    assert np.array_equal(bal[h.outside], h.deposit + h.offchain_pnl(price))
    perp = bal[p.wallet[h.who]] + bal[p.margin[h.who]] + p.unrealized(price)[h.who]
    assert np.array_equal(p.account_values(price)[h.who], perp + h.offchain_pnl(price))
    assert s["hedgers"]["value_usd"] == round(float((perp + h.offchain_pnl(price)).sum())
                                              / PPM, 2)
    assert int(bal[: len(w.ledger.names)].sum()) == 0


def test_a_hedger_is_hedged_while_the_chain_runs(live):
    """With the chain live every hedger's perp cancels its off-chain leg: no bare
    exposure, and its value does not move with the price it is marked at."""
    w, s = live
    h, p = w.hedgers, w.protocol
    assert s["hedgers"]["hedgers"] > 0 and s["hedgers"]["hedger_liquidations"] == 0
    assert np.array_equal(p.size[h.who], -h.leg) and (h.leg != 0).all()
    assert s["hedgers"]["bare_usd_hours"] == 0
    lo, hi = 1_000 * PPM, 5_000 * PPM
    moved = (p.unrealized(hi)[h.who] + h.leg * (hi - h.entry) // PPM) \
        - (p.unrealized(lo)[h.who] + h.leg * (lo - h.entry) // PPM)
    assert np.abs(moved).max() <= 2  # floor division's rounding only


def test_a_halt_cuts_hedges_and_they_are_restored_after_the_restart(halted, live20):
    """Long hedgers at 20x through tiny's crash: with the chain live they top up and
    re-hedge as jumps liquidate them; under the halt nothing of theirs lands until the
    restart, where they are liquidated and left bare until the re-hedge is in, and they
    end poorer than with the chain live (same seed, same prices)."""
    w, s = halted
    h = s["hedgers"]
    start, restart = (int(x) for x in w.outages[0])
    assert h["hedger_liquidations"] > 0 and h["rehedge_orders"] > 0
    rows = liquidation_rows(w.protocol)
    mine = np.isin(rows["account"], w.hedgers.who)
    assert not ((rows["t_us"][mine] >= start) & (rows["t_us"][mine] < restart)).any()
    assert (rows["t_us"][mine] >= restart).any()
    cover = -w.protocol.size[w.hedgers.who] * PPM // w.hedgers.leg
    assert (cover >= PPM // 2).mean() > 0.9
    assert h["value_usd"] < live20[1]["hedgers"]["value_usd"]


def test_hedgers_send_no_noise_orders(live):
    """A hedger trades only to hedge: no close or reduce orders from its account."""
    w, _ = live
    noise = np.isin(w.txs.column("kind"), [Kind.CLOSE, Kind.REDUCE])
    assert not np.isin(w.txs.column("sender")[noise], w.hedgers.who).any()


def test_hedgers_leave_the_other_streams_alone(live):
    """Turning hedgers on leaves the market and the accounts' draws unchanged."""
    w, _ = live
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    plain = World(parse_scenario(data))
    plain.run()
    assert np.array_equal(plain.reference.price, w.reference.price)
    assert w.ledger.names[-len(w.hedgers.who):] != plain.ledger.names[-len(w.hedgers.who):]


@pytest.mark.parametrize("field,value,allowed", [
    ("share", 1.5, "less than or equal to 1"), ("leverage", 200.0, "at most 100"),
    ("rehedge_below", 0.0, "greater than 0")])
def test_bad_settings_name_field_value_and_bound(field, value, allowed):
    with pytest.raises(SeqlabError) as err:
        scenario(False, **{field: value})
    text = str(err.value)
    assert field in text and allowed in text


@settings(max_examples=200, deadline=None)
@given(size=st.integers(-10**9, 10**9).filter(bool), entry=st.integers(10**8, 10**10),
       price=st.integers(1, 2 * 10**10))
def test_a_fresh_hedge_nets_to_zero_at_any_price(size, entry, price):
    """A leg opened against a fill at ``entry`` cancels the perp's PnL at any mark, to
    the rounding of the two floor divisions (a short leg loses at most its capital)."""
    sim, ledger = Simulation(1), Ledger()
    h = Hedgers(HedgersCfg(share=1.0), MarginManagers(), Sequencer(), sim, TxStore(),
                Network(), ledger, 1, np.array([1_000.0]))
    h.leg[:] = -size
    h.entry[:] = entry
    h.deposit[:] = abs(size) * entry // PPM
    perp = size * price // PPM - size * entry // PPM
    leg = int(h.offchain_pnl(price)[0])
    if leg > -int(h.deposit[0]):
        assert abs(perp + leg) <= 2
    else:
        assert perp + leg >= -2  # the clamp only ever leaves the hedger more
