"""A shared sequencer as each rollup's assembly meets it: the first rollup seated brings
the down windows and every later one runs under them; committees join one consensus in
the order the rollups are seated, other designs join nothing."""
import json
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab import sequencing
from seqlab.cluster import Cluster
from seqlab.errors import SeqlabError
from seqlab.experiments.compare import variant
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.loader import builtin_dir
from seqlab.scenario.schema import Rollups, Sequencer
from seqlab.sequencing import make_design
from seqlab.sequencing.committee import CommitteeDesign
from seqlab.sequencing.isolated import IsolatedSequencers
from seqlab.sequencing.shared import SharedSequencer
from tests.plugins import forget, import_written
from tests.test_cluster import MIN, blocks_in, world


def test_the_first_rollup_brings_the_outages_and_committees_join_in_order():
    shared = SharedSequencer(Rollups(count=2, sequencing="shared"))
    first = np.array([[10, 20]], dtype=np.int64)
    designs = [make_design(Sequencer(design="committee")) for _ in range(3)]
    assert all(isinstance(d, CommitteeDesign) for d in designs)
    assert shared.seat(designs[0], first) is first
    own = np.array([[5, 50], [60, 70]], dtype=np.int64)  # a later rollup's own draw
    assert shared.seat(designs[1], own) is first
    assert shared.seat(designs[2], np.empty((0, 2), np.int64)) is first
    assert shared.rounds.members == designs
    assert all(d.shared is shared.rounds for d in designs)


def test_a_design_without_consensus_joins_nothing():
    shared = SharedSequencer(Rollups(count=2, sequencing="shared"))
    fcfs = make_design(Sequencer(design="fcfs"))
    none = np.empty((0, 2), np.int64)
    assert shared.seat(fcfs, none) is none and not shared.rounds.members
    committee = make_design(Sequencer(design="committee"))
    assert shared.seat(committee, np.array([[1, 2]], np.int64)) is none
    assert shared.rounds.members == [committee]


# A design for several rollups written outside seqlab, as a user's module would be: one
# operator runs every rollup's sequencer (a rollup-as-a-service operator), so an outage
# halts them all, but it restarts them one after another, ``lag`` apart; bundles are not
# its business (each leg goes to its own rollup).
TOY = textwrap.dedent('''
    """One operator, staggered restarts: rollup k comes back k × lag after rollup a."""
    import numpy as np

    from seqlab.scenario.schema import Duration, Model
    from seqlab.sequencing.rollups_design import RollupsDesign


    class OneOperatorSettings(Model):
        """How long the operator takes to restart each further rollup."""

        lag: Duration = "2min"


    class OneOperator(RollupsDesign):
        name = "one-operator"

        def __init__(self, cfg):
            super().__init__(cfg)
            self.first = None
            self.seated = 0

        def seat(self, design, outages):
            if self.first is None:
                self.first = outages
            windows = self.first.copy()
            windows[:, 1] += self.seated * self.cfg.one_operator.lag
            self.seated += 1
            return windows

        def lead(self, now, up):
            return [None] * len(up)
''')


@pytest.fixture
def one_operator(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "one_operator_design", TOY)
    sequencing.register("one-operator", module.OneOperator, "toy: staggered restarts",
                        module.OneOperatorSettings, rollups=True)  # the line
    yield module
    sequencing.unregister("one-operator")
    forget("one_operator_design")


def test_a_registered_design_for_several_rollups_runs_by_name(one_operator):
    loaded = world("one-operator", count=3, rollups__one_operator={"lag": "3min"})
    cluster = Cluster(loaded, 1)
    assert isinstance(cluster.sequencing, one_operator.OneOperator)
    assert cluster.bundles is None  # the arbitrageurs send leg by leg
    result = cluster.run()
    assert result.summary["ledger_residual"] == 0
    first = cluster.chains[0].outages
    assert first.tolist() == [[10 * MIN, 15 * MIN]]  # the scenario's outage, rollup a's
    for k, chain in enumerate(cluster.chains):
        assert chain.outages.tolist() == [[10 * MIN, (15 + 3 * k) * MIN]]
        down = blocks_in(result, k, 10 * MIN + 1, (15 + 3 * k) * MIN)
        assert down == 0 and blocks_in(result, k, (16 + 3 * k) * MIN, 30 * MIN) > 0
    assert variant("fcfs@one-operator") == ("fcfs", {"rollups.sequencing": "one-operator"})


def test_its_setting_is_checked_in_the_scenario_file(one_operator, tmp_path):
    path = tmp_path / "staggered.toml"
    base = (builtin_dir() / "shared-outage.toml").read_text()
    path.write_text(base.replace('sequencing = "shared"', 'sequencing = "one-operator"')
                    + '\n[rollups.one_operator]\nlag = "-1min"\n')
    with pytest.raises(SeqlabError) as info:
        load_scenario(path)
    assert info.value.line().startswith(f"{path}: rollups.one_operator.lag: ")
    assert "'-1min'" in info.value.line()
    path.write_text(path.read_text().replace('"-1min"', '"90s"'))
    assert load_scenario(path).scenario.rollups.one_operator.lag == 90_000_000


def test_an_unknown_or_forgotten_one_is_one_line(one_operator):
    with pytest.raises(SeqlabError) as info:
        parse_scenario({"rollups": {"sequencing": "one-operater"}}, "s.toml")
    assert info.value.line() == ("s.toml: rollups.sequencing: unknown sequencing of several "
                                 "rollups 'one-operater' (allowed: isolated, one-operator, "
                                 "shared)")
    with pytest.raises(ValueError, match="already registered"):
        sequencing.register("shared", one_operator.OneOperator, "again", rollups=True)
    with pytest.raises(ValueError, match="already registered"):
        sequencing.register("fcfs", one_operator.OneOperator, "again", rollups=True)


def test_unregistered_it_is_unknown_and_its_section_gone(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "one_operator_design", TOY)
    sequencing.register("one-operator", module.OneOperator, "toy",
                        module.OneOperatorSettings, rollups=True)
    sequencing.unregister("one-operator")
    forget("one_operator_design")
    assert sorted(sequencing.ROLLUP_DESIGNS) == ["isolated", "shared"]
    assert "one_operator" not in Rollups.model_fields
    with pytest.raises(SeqlabError, match=r"rollups\.one_operator: unknown key"):
        parse_scenario({"rollups": {"one_operator": {"lag": "1min"}}}, "s.toml")


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.text(max_size=12),
                 st.sampled_from(["shared", "isolated", "fcfs", "-", "a-b", "x1"])))
def test_any_name_is_refused_or_selectable_then_forgotten(name):
    """Whatever the name, registering a design for several rollups either refuses it and
    changes nothing, or a scenario may then select it; once unregistered, the designs of
    both kinds are what they were."""
    before = (dict(sequencing.ROLLUP_DESIGNS), dict(sequencing.DESIGNS))
    try:
        sequencing.register(name, IsolatedSequencers, "toy", rollups=True)
    except ValueError:
        assert (sequencing.ROLLUP_DESIGNS, sequencing.DESIGNS) == before
        return
    try:
        loaded = parse_scenario({"rollups": {"sequencing": name}})
        assert loaded.scenario.rollups.sequencing == name
    finally:
        sequencing.unregister(name)
    assert (sequencing.ROLLUP_DESIGNS, sequencing.DESIGNS) == before


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 10**9)),
                         max_size=3), min_size=1, max_size=6))
def test_every_seat_of_a_shared_sequencer_runs_under_the_first_draw(draws):
    """Whatever each rollup drew for itself, a shared sequencer runs every rollup under
    the first rollup's windows; isolated sequencers leave each rollup its own."""
    windows = [np.array([(s, s + d) for s, d in w], dtype=np.int64).reshape(-1, 2)
               for w in draws]
    cfg = Rollups(count=len(draws), sequencing="shared")
    shared, isolated = SharedSequencer(cfg), IsolatedSequencers(cfg)
    fcfs = make_design(Sequencer(design="fcfs"))
    assert all(shared.seat(fcfs, w) is windows[0] for w in windows)
    assert all(isolated.seat(fcfs, w) is w for w in windows)
    assert isolated.lead(0, [True] * len(draws)) == [None] * len(draws)


def test_seqlab_designs_lists_the_designs_for_several_rollups():
    """`seqlab designs --json` names what `[rollups] sequencing` accepts beside the
    one-rollup designs, so a user can find `shared` without reading the schema."""
    from typer.testing import CliRunner

    from seqlab.cli import app

    res = CliRunner().invoke(app, ["designs", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert {"isolated", "shared"} <= set(data["rollups"])
    assert "fcfs" in data["designs"] and "shared" not in data["designs"]
