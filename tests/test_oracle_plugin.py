"""A new oracle kind is one class plus one registration line.

The toy feed below lives outside seqlab (written to a temporary folder, as a user's own
module would be): it reads the reference price every ``EVERY`` and posts what it read
``DELAY`` later, a slow relayer with no nodes and no thresholds. Registered with
``seqlab.oracle.register``, it runs by name from a scenario's ``[oracle] kind`` and as a
``DESIGN@oracle.kind=...`` row of ``compare``; its updates reach the chain at the prices
and times it chose, the ledger stays exact, and a misspelt kind is the usual one-line
error naming the file, the field, the value and the kinds allowed.
"""
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import seqlab
from seqlab import oracle
from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.loader import builtin_dir
from seqlab.txs import Kind, Status
from seqlab.world import World
from tests.pinned import shrunk
from tests.plugins import forget, import_written

TOY = textwrap.dedent('''
    """Clock feed: the reference read every EVERY, posted DELAY after the read."""
    import numpy as np

    from seqlab.oracle import OracleKind, OracleUpdates

    EVERY, DELAY = 5_000_000, 700_000


    class ClockFeed(OracleKind):
        @property
        def deviation(self):
            return 0.0  # every post carries the latest read, whatever the move

        @property
        def interval(self):
            return EVERY

        def publications(self, reference_at, duration_us, rng):
            read = np.arange(0, duration_us - DELAY, EVERY, dtype=np.int64)
            price = np.round(reference_at(read) * 1e6).astype(np.int64)
            return OracleUpdates(read + DELAY, price)


    class CarriedClock(ClockFeed):
        """The same reads, carried on-chain by the first order sent after each post."""

        attached = True
''')


@pytest.fixture
def clock(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "clock_oracle", TOY)
    oracle.register("clock", module.ClockFeed, "toy: the reference, 0.7 s late")  # the line
    oracle.register("carried-clock", module.CarriedClock, "toy: the same, in the orders")
    yield module
    oracle.unregister("clock")
    oracle.unregister("carried-clock")
    forget("clock_oracle")


def clock_world(kind: str) -> World:
    data = shrunk("tiny", "fcfs").scenario.model_dump(mode="python")
    data["oracle"]["kind"] = kind
    return World(parse_scenario(data, "clock"), 1)


def reads(module, world: World) -> tuple[np.ndarray, np.ndarray]:
    """When the toy reads the reference over the run, and what it reads (micro-USD)."""
    read = np.arange(0, world.horizon - module.DELAY, module.EVERY, dtype=np.int64)
    return read, np.round(world.reference.at(read) * 1e6).astype(np.int64)


def test_a_registered_oracle_kind_posts_its_updates_on_chain(clock):
    world = clock_world("clock")
    assert isinstance(world.feed, clock.ClockFeed)
    result = world.run()
    read, price = reads(clock, world)
    txs = result.tables["txs"]
    updates = txs["kind"] == int(Kind.ORACLE)
    # one update transaction per read, sent DELAY after it, carrying what was read
    assert txs["submit_us"][updates].tolist() == (read + clock.DELAY).tolist()
    assert txs["a"][updates].tolist() == price.tolist()
    landed = updates & (txs["status"] == int(Status.OK))
    assert landed.sum() >= len(read) - 1  # the last may still be on its way at the end
    # the protocol took each landed price in the order read, and holds the last one
    log = world.protocol.log.oracle
    seqs = [seq for *_, seq in log]
    assert len(log) == landed.sum() and seqs == sorted(seqs)
    assert [p for _, _, p, _ in log] == price[seqs].tolist()
    assert world.protocol.price == log[-1][2]
    assert result.summary["oracle_updates"] == landed.sum()
    assert result.summary["ledger_residual"] == 0 and world.ledger.check() == 0


def test_an_attached_kind_rides_in_the_orders(clock):
    world = clock_world("carried-clock")
    result = world.run()
    read, price = reads(clock, world)
    txs = result.tables["txs"]
    updates = txs["kind"] == int(Kind.ORACLE)
    orders = np.isin(txs["kind"], [Kind.TRADE, Kind.CLOSE, Kind.REDUCE])  # users' orders
    seq = world.txs.column("b")[updates]  # which read each update carries
    # each update rides in an order sent after its post, at the price that was read
    assert np.isin(txs["submit_us"][updates], txs["submit_us"][orders]).all()
    assert (txs["submit_us"][updates] >= read[seq] + clock.DELAY).all()
    assert txs["a"][updates].tolist() == price[seq].tolist()
    assert len(seq) > 0.9 * len(read) and result.summary["oracle_updates"] > 0
    assert result.summary["ledger_residual"] == 0 and world.ledger.check() == 0


def test_a_registered_kind_is_a_compare_row(clock):
    out = seqlab.compare(shrunk("tiny", "fcfs"), designs=["fcfs", "fcfs@oracle.kind=clock"],
                         report=False)
    assert set(out.summary["designs"]) >= {"fcfs@oracle.kind=clock"}


def test_a_misspelt_kind_is_one_line_naming_file_field_and_value(clock, tmp_path):
    path = tmp_path / "clok.toml"
    path.write_text((builtin_dir() / "tiny.toml").read_text() + '\n[oracle]\nkind = "clok"\n')
    with pytest.raises(SeqlabError) as info:
        load_scenario(path)
    line = info.value.line()
    assert line == (f"{path}: oracle.kind: unknown oracle kind 'clok' "
                    "(allowed: carried-clock, clock, pull, push)")
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and res.stderr.strip().splitlines() == [f"error: {line}"]
    with pytest.raises(SeqlabError, match=r": oracle\.kind: unknown oracle kind 'clok' "):
        seqlab.compare(shrunk("tiny", "fcfs"), designs=["fcfs", "fcfs@oracle.kind=clok"],
                       report=False)


def test_an_unregistered_kind_is_unknown_again(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "clock_oracle", TOY)
    oracle.register("clock", module.ClockFeed, "toy")
    assert parse_scenario({"oracle": {"kind": "clock"}}).scenario.oracle.kind == "clock"
    oracle.unregister("clock")
    forget("clock_oracle")
    assert oracle.kinds() == ["pull", "push"]
    with pytest.raises(SeqlabError, match=r"s\.toml: oracle\.kind: unknown oracle kind "
                                          r"'clock' \(allowed: pull, push\)"):
        parse_scenario({"oracle": {"kind": "clock"}}, "s.toml")


def test_registration_refuses_a_taken_or_malformed_name():
    with pytest.raises(ValueError, match="already registered"):
        oracle.register("push", oracle.KINDS["push"].factory, "again")
    with pytest.raises(ValueError, match="letters, digits"):
        oracle.register("a b", oracle.KINDS["push"].factory, "bad")
    with pytest.raises(SeqlabError, match="unknown oracle kind 'clock'"):
        oracle.unregister("clock")
    assert oracle.kinds() == ["pull", "push"]


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.text(max_size=12), st.sampled_from(["push", "pull", "-", "a-b", "x1"])))
def test_any_name_is_refused_or_selectable_then_forgotten(name):
    """Whatever the name, registering either refuses it and changes nothing, or a
    scenario may then select it; once unregistered, the kinds are what they were."""
    before = dict(oracle.KINDS)
    try:
        oracle.register(name, oracle.KINDS["push"].factory, "toy")
    except ValueError:
        assert oracle.KINDS == before
        return
    try:
        assert parse_scenario({"oracle": {"kind": name}}).scenario.oracle.kind == name
    finally:
        oracle.unregister(name)
    assert oracle.KINDS == before
