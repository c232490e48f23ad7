"""Based sequencing with preconfirmations: promises kept in order, or paid for."""
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.ledger import Ledger
from seqlab.protocols.perps import PPM
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing import make_design
from seqlab.sequencing.preconf import split_exactly
from seqlab.sequencing.txview import TxView
from seqlab.txs import TxStore
from seqlab.units import S

SLOT = 12 * S


class _Protocol:
    """What the promise book needs of a protocol: a ledger, a price, payers."""

    def __init__(self, txs: TxStore, users: int, price_usd: float) -> None:
        self.ledger, self.txs, self.price = Ledger(), txs, int(price_usd * PPM)
        self.wallet = self.ledger.open_many("wallet", users)

    def payer(self, kind: int, sender: int) -> int:
        return int(self.wallet[sender])


@settings(max_examples=40, deadline=None)
@given(share=st.floats(0.05, 1.0), missed=st.floats(0.0, 0.5), lookahead=st.integers(1, 32),
       capacity=st.integers(0, 40), latency_ms=st.integers(0, 3000),
       seed=st.integers(0, 10_000), n=st.integers(1, 400))
def test_a_promise_is_kept_in_order_or_its_preconfer_is_slashed(share, missed, lookahead,
                                                              capacity, latency_ms, seed, n):
    rng = np.random.default_rng(seed)
    txs = TxStore()
    submit = np.sort(rng.integers(0, 40 * SLOT, n))
    ids = txs.add_many(1, rng.integers(0, 20, n), submit, submit, 0, 0,
                       rng.integers(0, 1000, n))
    cfg = Sequencer(design="based", max_txs_per_block=capacity, based={
        "preconf_share": share, "missed_slot_rate": missed, "lookahead": lookahead,
        "preconf_latency": f"{latency_ms}ms", "collateral_eth": 1.0})
    design = make_design(cfg)
    protocol = _Protocol(txs, 20, 2500.0)
    design.attach(SimpleNamespace(seed=seed, txs=TxView(txs), protocol=protocol))
    place: dict[int, tuple[int, int]] = {}  # tx -> (slot, position in its block)
    for tick in range(SLOT, 80 * SLOT + 1, SLOT):  # past every promised slot
        new = (submit > tick - SLOT) & (submit <= tick)
        design.receive(ids[new], submit[new])
        blocks = design.build_blocks(np.array([tick], dtype=np.int64))
        for pos, tx in enumerate(blocks.ids.tolist()):
            place[tx] = (tick // SLOT, pos)
    promised, slots, _ = design.book.promised()
    broken = {tx: (slot, paid) for tx, slot, paid in design.book.broken}
    rank = {tx: r for r, tx in enumerate(promised.tolist())}
    for tx, slot in zip(promised.tolist(), slots.tolist()):
        if tx in broken:
            assert broken[tx][0] == slot
            continue
        assert place[tx][0] == slot  # kept: in the promised slot
    by_slot: dict[int, list[int]] = {}
    for tx, (slot, pos) in place.items():
        by_slot.setdefault(slot, []).append((pos, tx))
    for slot, rows in by_slot.items():
        order = [tx for _, tx in sorted(rows)]
        kept = [tx for tx in order if tx in rank and tx not in broken
                and slots[rank[tx]] == slot]
        assert order[: len(kept)] == sorted(kept, key=rank.get)  # first, in promise order
    collateral = int(round(1.0 * protocol.price))
    per_slot: dict[int, int] = {}
    for slot, paid in broken.values():
        per_slot[slot] = per_slot.get(slot, 0) + paid
    assert all(total == collateral for total in per_slot.values())
    paid_to = protocol.ledger.balances[protocol.wallet].sum()
    assert paid_to == sum(per_slot.values())
    assert protocol.ledger.balances[design.book.account] == 0
    assert protocol.ledger.check() == 0


@given(total=st.integers(0, 10**12), parts=st.integers(1, 5000))
def test_collateral_splits_exactly(total, parts):
    shares = split_exactly(total, parts)
    assert shares.sum() == total and shares.max() - shares.min() <= 1


def _based_world(**based):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"].update(design="based", based=based)
    return make_world(parse_scenario(data, "<test>"), 2)


def test_a_run_with_missed_slots_slashes_and_balances():
    s = _based_world(missed_slot_rate=0.3, preconf_share=0.5).run().summary
    m = s["design_metrics"]
    assert s["ledger_residual"] == 0
    assert m["broken_promises"] > 0 and m["slashed_usd"] > 0
    assert m["kept"] + m["broken_promises"] + m["open_at_end"] == m["preconfirmed"]
    assert m["preconf_latency_ms"]["p50"] < SLOT / 1000


def test_blocks_come_at_l1_block_times_only():
    world = _based_world()
    world.run()
    t = world.rollup.blocks_table()["t_us"]
    assert len(t) and (t % SLOT == 0).all()


def test_without_preconfers_every_slot_proposer_includes_the_pool():
    m = _based_world(preconf_share=0.0).run().summary["design_metrics"]
    assert m["preconfirmed"] == 0 and m["waiting_slots"] == 0 and m["fallback_blocks"] > 0


@pytest.mark.parametrize("key,value,says", [("preconf_share", 1.5, "less than or equal"),
                                            ("lookahead", 0, "greater than or equal"),
                                            ("missed_slot_rate", 0.9, "less than or equal")])
def test_bad_based_settings_are_one_line_naming_the_field(key, value, says):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["based"] = {key: value}
    with pytest.raises(SeqlabError) as err:
        parse_scenario(data, "<test>")
    text = str(err.value)
    assert "\n" not in text and f"sequencer.based.{key}" in text and says in text
