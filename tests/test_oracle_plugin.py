"""A new oracle kind is one class plus one registration line.

The toy feed below lives outside seqlab (written to a temporary folder, as a user's own
module would be): it reads the reference price every ``EVERY`` and posts what it read
``DELAY`` later, a slow relayer with no nodes and no thresholds. Registered with
``seqlab.oracle.register``, it runs by name from a scenario's ``[oracle] kind`` and as a
``DESIGN@oracle.kind=...`` row of ``compare``; its updates reach the chain at the prices
and times it chose, the ledger stays exact, and a misspelt kind is the usual one-line
error naming the file, the field, the value and the kinds allowed. A kind may own
settings, registered on the same line: the tuned clock reads its period and its delay
from ``[oracle.tuned_clock]``, bounded like every setting, and a scenario is checked
against the kind it names whatever the kind (a stale-price limit on liquidations needs
one whose updates ride in the orders).
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
    from typing import Annotated

    import numpy as np

    from seqlab.oracle import OracleKind, OracleUpdates
    from seqlab.scenario.schema import Duration, Model, PositiveDuration, at_most
    from seqlab.units import format_duration

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


    class TunedClockSettings(Model):
        """The tuned clock's period and delay (a relayer reads at least once a minute)."""

        every: Annotated[PositiveDuration, at_most(
            60_000_000, "a relayer reads at least once a minute", format_duration)] = "5s"
        delay: Duration = "700ms"


    class TunedClock(ClockFeed):
        """The clock feed with its period and delay read from [oracle.tuned_clock]."""

        interval_setting = "tuned_clock.every"

        @property
        def interval(self):
            return self.cfg.tuned_clock.every

        def publications(self, reference_at, duration_us, rng):
            own = self.cfg.tuned_clock
            read = np.arange(0, duration_us - own.delay, own.every, dtype=np.int64)
            price = np.round(reference_at(read) * 1e6).astype(np.int64)
            return OracleUpdates(read + own.delay, price)
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


def refused(path, tables: str) -> str:
    """The one error line of ``tiny`` with ``tables`` added, written to ``path``: the same
    from loading it and from ``seqlab validate`` (exit 2)."""
    path.write_text((builtin_dir() / "tiny.toml").read_text() + "\n" + tables)
    with pytest.raises(SeqlabError) as info:
        load_scenario(path)
    line = info.value.line()
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and res.stderr.strip().splitlines() == [f"error: {line}"]
    return line


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
    assert refused(path, '[oracle]\nkind = "clok"\n') == (
        f"{path}: oracle.kind: unknown oracle kind 'clok' "
        "(allowed: carried-clock, clock, pull, push)")
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


@pytest.fixture
def tuned(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "tuned_oracle", TOY)
    oracle.register("tuned-clock", module.TunedClock, "toy: the reference, read as set",
                    module.TunedClockSettings)  # the line, settings included
    yield module
    oracle.unregister("tuned-clock")
    forget("tuned_oracle")


def test_a_kind_reads_its_own_settings_from_its_section(tuned, tmp_path):
    path = tmp_path / "tuned.toml"
    path.write_text((builtin_dir() / "tiny.toml").read_text()
                    + '\n[oracle]\nkind = "tuned-clock"\n\n[oracle.tuned_clock]\n'
                    'every = "12s"\ndelay = "2s"\n')
    loaded = load_scenario(path)
    assert loaded.scenario.oracle.tuned_clock.every == 12_000_000
    data = shrunk("tiny", "fcfs").scenario.model_dump(mode="python")
    data["oracle"].update(kind="tuned-clock", tuned_clock={"every": "12s", "delay": "2s"})
    world = World(parse_scenario(data, "tuned"), 1)
    result = world.run()
    txs = result.tables["txs"]
    submit = txs["submit_us"][txs["kind"] == int(Kind.ORACLE)]
    read = np.arange(0, world.horizon - 2_000_000, 12_000_000, dtype=np.int64)
    assert submit.tolist() == (read + 2_000_000).tolist()  # its period, its delay
    assert result.summary["ledger_residual"] == 0 and world.ledger.check() == 0
    # a scenario not naming the kind still reads the section's defaults
    assert parse_scenario({}).scenario.oracle.tuned_clock.every == 5_000_000


def test_a_bad_setting_is_one_line_naming_file_field_value_and_bound(tuned, tmp_path):
    path = tmp_path / "tuned.toml"
    assert refused(path, '[oracle]\nkind = "tuned-clock"\n\n[oracle.tuned_clock]\n'
                         'every = "2min"\n') == (
        f"{path}: oracle.tuned_clock.every: must be at most 1min: a relayer reads at least "
        "once a minute (got '2min')")
    path.write_text(path.read_text().replace('every = "2min"', 'evry = "2s"'))
    with pytest.raises(SeqlabError, match=r"oracle\.tuned_clock\.evry: unknown key "
                                          r"\(allowed: every, delay\)"):
        load_scenario(path)


def test_unregistered_its_section_is_gone(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "tuned_oracle", TOY)
    oracle.register("tuned-clock", module.TunedClock, "toy", module.TunedClockSettings,
                    key="tuned_clock")
    oracle.unregister("tuned-clock")
    forget("tuned_oracle")
    assert oracle.kinds() == ["pull", "push"]
    with pytest.raises(SeqlabError, match=r"oracle\.tuned_clock: unknown key"):
        parse_scenario({"oracle": {"tuned_clock": {"every": "5s"}}}, "s.toml")
    with pytest.raises(ValueError, match="registers none"):
        oracle.register("tuned-clock", module.TunedClock, "toy", key="tuned_clock")
    with pytest.raises(ValueError, match="already has a 'poll' setting"):
        oracle.register("tuned-clock", module.TunedClock, "toy", module.TunedClockSettings,
                        key="poll")
    assert oracle.kinds() == ["pull", "push"]


def test_a_plugin_kind_is_checked_as_the_built_in_ones_are(clock, tuned):
    """What a scenario asks of its kind is asked of the kind, not of its name: a carried
    plugin kind may refuse stale liquidations as pull does, a posting one may not, and a
    kind's own step is bounded under its own setting's name."""
    base = shrunk("tiny", "fcfs").scenario.model_dump(mode="python")
    for kind, ok in (("carried-clock", True), ("pull", True), ("clock", False),
                     ("push", False)):
        data = {**base, "oracle": {**base["oracle"], "kind": kind,
                                   "max_age_liquidations": True}}
        if ok:
            assert parse_scenario(data).scenario.oracle.kind == kind
            continue
        with pytest.raises(SeqlabError) as info:
            parse_scenario(data, "s.toml")
        assert info.value.line() == (
            f"s.toml: oracle.max_age_liquidations: true needs an oracle kind whose updates "
            f"ride in the orders, not '{kind}': max_age limits the age of a carried "
            "publication (allowed: false, or true with kind = carried-clock or pull)")
    data = {**base, "duration": "24h", "oracle": {**base["oracle"], "kind": "tuned-clock",
                                                  "tuned_clock": {"every": "1ms"}}}
    with pytest.raises(SeqlabError, match=r"^s\.toml: oracle\.tuned_clock\.every: duration "
                                          r"/ oracle\.tuned_clock\.every = 86,400,000 steps"):
        parse_scenario(data, "s.toml")
