"""A based service's preconfirmations when the rollup buys its sequencing: each promise
is kept, broken and slashed, stranded by a switch, or open at the end, and the market's
summary says how many of each."""
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.ledger import Ledger
from seqlab.protocols.perps import PPM
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import Sequencer
from seqlab.seqmarket.services import sold_sequencer
from seqlab.sequencing import make_design
from seqlab.sequencing.txview import TxView
from seqlab.txs import TxStore
from seqlab.units import S

SLOT = 12 * S


class _Protocol:
    """What the promise book needs of a protocol: a ledger, a price, payers."""

    def __init__(self, txs: TxStore, users: int) -> None:
        self.ledger, self.txs, self.price = Ledger(), txs, 2500 * PPM
        self.wallet = self.ledger.open_many("wallet", users)

    def payer(self, kind: int, sender: int) -> int:
        return int(self.wallet[sender])


def _run(design, txs, ids, submit, ticks):
    """Feed ``design`` what arrives up to each tick and build; mark what it includes."""
    for tick in ticks:
        new = (submit > tick - SLOT) & (submit <= tick)
        design.receive(ids[new], submit[new])
        blocks = design.build_blocks(np.array([tick], dtype=np.int64))
        txs.included_us[blocks.ids] = tick


@settings(max_examples=40, deadline=None)
@given(share=st.floats(0.05, 1.0), missed=st.floats(0.0, 0.4), lookahead=st.integers(1, 32),
       switch=st.integers(1, 30), back=st.integers(31, 60), seed=st.integers(0, 10_000),
       n=st.integers(1, 300))
def test_every_promise_is_kept_slashed_stranded_or_open(share, missed, lookahead, switch,
                                                         back, seed, n):
    """Based sequences the first ``switch`` slots, another service the slots up to
    ``back`` (it includes what based leaves at once), based again to the end. Every
    promise ends exactly one way; only those for slots after a switch are stranded, and
    nobody is slashed for them; the collateral's account ends empty."""
    rng = np.random.default_rng(seed)
    txs = TxStore()
    submit = np.sort(rng.integers(0, 70 * SLOT, n))
    ids = txs.add_many(1, rng.integers(0, 20, n), submit, submit, 0, 0,
                       rng.integers(0, 1000, n))
    cfg = Sequencer(design="based", based={
        "preconf_share": share, "missed_slot_rate": missed, "lookahead": lookahead})
    protocol = _Protocol(txs, 20)
    view = SimpleNamespace(seed=seed, txs=TxView(txs), protocol=protocol)
    first, second = make_design(cfg), make_design(cfg)
    second.book = first.book
    for design in (first, second):
        design.attach(view)
    _run(first, txs, ids, submit, range(SLOT, switch * SLOT, SLOT))
    first.strand_promises(switch * SLOT)
    before = len(first.book.promised()[0])
    stranded = list(first.book.stranded)
    assert all(slot >= switch for _, slot in stranded)
    # the other service includes what based left, and what comes until ``back``
    txs.included_us[first.queue.ids] = switch * SLOT
    middle = (submit > (switch - 1) * SLOT) & (submit <= (back - 1) * SLOT)
    txs.included_us[ids[middle]] = np.maximum(submit[middle], switch * SLOT)
    second.begin(back * SLOT)
    _run(second, txs, ids, submit, range(back * SLOT, 90 * SLOT + 1, SLOT))
    promised, slots, _ = first.book.promised()
    m = first.book.metrics(txs, first.received + second.received, SLOT)
    assert m.get("unaccounted", 0) == 0
    assert m["preconfirmed"] == len(promised)
    if len(promised):
        assert (m["kept"] + m["broken_promises"] + m["stranded_promises"] + m["open_at_end"]
                == m["preconfirmed"])
    assert not {(tx, s) for tx, s, _ in first.book.broken} & set(stranded)
    assert protocol.ledger.balances[first.book.account] == 0
    assert protocol.ledger.check() == 0
    assert (slots[before:] >= back).all()  # none for a slot before the second started


def _market_world():
    """A priority sequencer whose order flow's fees sit about the reserve, and based
    sequencing: the rollup moves between them. (A Timeboost service would win every
    epoch of ``tiny``, whose crash jumps make the express lane worth far more.)"""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["based"] = {"preconf_share": 0.5}  # promises in most slots
    data["sequencing_market"] = {"enabled": True, "policy": "auction", "services": [
        {"name": "prio", "offer": "central-priority"}, {"name": "l1", "offer": "based"}]}
    return make_world(parse_scenario(data, "<test>"), 3)


def test_a_market_run_reports_based_promises_and_hands_queues_over():
    world = _market_world()
    s = world.run().summary
    m = s["market"]
    assert s["ledger_residual"] == 0
    assert m["switches"] > 0
    assert m["stranded"] == 0 and m["handed_over"] > 0  # rights sold ahead: no stranding
    p = m["preconf"]
    for key in ("preconfirmed_share", "preconf_latency_ms", "broken_promises", "slashed_usd",
                "stranded_promises", "kept", "open_at_end"):
        assert key in p
    assert p["unaccounted"] == 0
    assert (p["kept"] + p["broken_promises"] + p["stranded_promises"] + p["open_at_end"]
            == p["preconfirmed"])
    assert p["stranded_promises"] > 0  # the rollup left based with promises outstanding
    assert world.ledger.names.count("preconf collateral") == 1


def test_a_based_service_sold_epoch_by_epoch_looks_ahead_one_epoch():
    based = Sequencer(design="based")
    assert sold_sequencer(based, 12 * S).based.lookahead == 1
    assert sold_sequencer(based, 60 * S).based.lookahead == 5
    assert sold_sequencer(based, 3600 * S).based.lookahead == based.based.lookahead  # 32
    assert sold_sequencer(Sequencer(design="priority"), 12 * S) == Sequencer(design="priority")


def test_the_based_fallback_builds_in_most_of_its_slots():
    """No proposer waits for a preconfer beyond the epochs sold, so based sequencing,
    when it holds the rollup, builds in most of its slots (with the beacon chain's
    32-slot lookahead and one preconfer in ten it built in about one slot in ten)."""
    world = _market_world()
    m = world.run().summary["market"]
    slots = m["auction"]["won"].get("l1", 0)
    assert slots >= 5
    assert m["preconf"]["blocks"] >= 0.5 * slots
