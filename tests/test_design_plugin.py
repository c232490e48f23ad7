"""A new sequencer design is one module plus one registration line, settings included.

The toy design below lives outside seqlab (written to a temporary folder, as a user's own
module would be): it includes a transaction only once it has waited ``hold`` at the
sequencer, a setting of its own. Registered with ``seqlab.sequencing.register``, it is
selectable by name in a scenario, in ``run`` and in ``compare``; its setting is read from
``[sequencer.slow_lane]`` in a scenario file, a bad value is the usual one-line error,
and its rule shows in the stored transactions.
"""
import re
import textwrap
from keyword import iskeyword

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import seqlab
from seqlab import sequencing
from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.loader import builtin_dir
from seqlab.scenario.schema import Model, Scenario, Sequencer
from seqlab.txs import Status
from tests.pinned import shrunk
from tests.plugins import forget, import_written

TOY = textwrap.dedent('''
    """Slow lane: a transaction goes into a block only after waiting ``hold``."""
    from seqlab.scenario.schema import Model, PositiveDuration
    from seqlab.sequencing.base import QueuedDesign, blocks_per_tick


    class SlowLaneSettings(Model):
        """How long every transaction waits at the sequencer."""

        hold: PositiveDuration = "1s"


    class SlowLane(QueuedDesign):
        name = "slow-lane"

        def build_blocks(self, ticks):
            hold = self.cfg.slow_lane.hold
            return blocks_per_tick(ticks, self.queue,
                                   lambda ids, arrival, now: ids[arrival <= now - hold])
''')
SECTION = "[sequencer]\ndesign = \"slow-lane\"\n\n[sequencer.slow_lane]\n"


@pytest.fixture
def slow_lane(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "slow_lane_design", TOY)
    sequencing.register("slow-lane", module.SlowLane, "toy: every tx waits `hold`",
                        module.SlowLaneSettings)  # the line
    yield module
    sequencing.unregister("slow-lane")
    forget("slow_lane_design")


def tiny_with(tmp_path, table: str):
    """The built-in ``tiny`` scenario as a file of the user's, run by the toy design with
    ``table`` as its ``[sequencer.slow_lane]``."""
    path = tmp_path / "slow.toml"
    path.write_text((builtin_dir() / "tiny.toml").read_text() + "\n" + SECTION + table)
    return path


def waits(result, forced_after_us: int) -> np.ndarray:
    """How long each included transaction waited, forced inclusions left out."""
    txs = result.tables["txs"]
    done = txs["status"] == int(Status.OK)
    wait = txs["included_us"][done] - txs["arrival_us"][done]
    return wait[wait < forced_after_us]


def test_a_registered_design_runs_by_name_and_its_rule_holds(slow_lane):
    loaded = shrunk("tiny", "slow-lane")
    result = seqlab.run(loaded, report=False)
    assert result.summary["design"] == "slow-lane"
    hold = loaded.scenario.sequencer.slow_lane.hold
    assert hold == 1_000_000  # the setting's default
    wait = waits(result, loaded.scenario.sequencer.force_inclusion_window)
    assert len(wait) > 100 and (wait >= hold).all()
    fcfs = seqlab.run(shrunk("tiny", "fcfs"), report=False).tables["txs"]
    ok = fcfs["status"] == int(Status.OK)
    assert np.median(fcfs["included_us"][ok] - fcfs["arrival_us"][ok]) < hold


def test_its_setting_is_read_from_the_scenario_file(slow_lane, tmp_path):
    loaded = load_scenario(tiny_with(tmp_path, 'hold = "3s"\n'))
    cfg = loaded.scenario.sequencer
    assert cfg.slow_lane == slow_lane.SlowLaneSettings(hold="3s")
    assert cfg.slow_lane.hold == 3_000_000
    wait = waits(seqlab.run(loaded, report=False), cfg.force_inclusion_window)
    assert len(wait) > 100 and (wait >= 3_000_000).all() and wait.min() < 4_000_000


@pytest.mark.parametrize("table, field, says", [
    ('hold = "0s"\n', "sequencer.slow_lane.hold", "greater than 0 (got '0s')"),
    ('hold = "soon"\n', "sequencer.slow_lane.hold", "'soon' is not a duration"),
    ('hodl = "2s"\n', "sequencer.slow_lane.hodl", "unknown key (allowed: hold)"),
])
def test_a_bad_setting_is_one_line_naming_file_field_and_value(slow_lane, tmp_path, table,
                                                               field, says):
    path = tiny_with(tmp_path, table)
    with pytest.raises(SeqlabError) as info:
        load_scenario(path)
    line = info.value.line()
    assert line.startswith(f"{path}: {field}: ") and says in line and "\n" not in line
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"error: {line}"]


def test_a_registered_design_is_a_compare_row(slow_lane):
    out = seqlab.compare(shrunk("tiny", "fcfs"), designs=["fcfs", "slow-lane"], report=False)
    assert set(out.summary["designs"]) >= {"slow-lane"}


def test_unregistering_takes_the_section_away(tmp_path, monkeypatch):
    before = Scenario.model_json_schema()
    module = import_written(tmp_path, monkeypatch, "slow_lane_design", TOY)
    sequencing.register("slow-lane", module.SlowLane, "toy", module.SlowLaneSettings)
    assert Scenario().sequencer.slow_lane.hold == 1_000_000
    sequencing.unregister("slow-lane")
    forget("slow_lane_design")
    assert "slow_lane" not in Sequencer.model_fields
    assert "slow-lane" not in sequencing.DESIGNS
    assert Scenario.model_json_schema() == before
    with pytest.raises(SeqlabError, match=r"sequencer\.slow_lane: unknown key \(allowed: "
                                          r"design, .*, based\)"):
        parse_scenario({"sequencer": {"slow_lane": {"hold": "3s"}}}, "s.toml")


class Bare(Model):
    """A toy design's settings, for the refusals below."""

    level: int = 1


class Required(Model):
    """Settings a scenario would have to write even where the design does not run."""

    level: int


def test_registration_refuses_a_taken_or_malformed_name():
    with pytest.raises(ValueError, match="already registered"):
        sequencing.register("honest", sequencing.DESIGNS["honest"], "again")
    with pytest.raises(ValueError, match="letters, digits"):
        sequencing.register("a b", sequencing.DESIGNS["honest"], "bad")
    with pytest.raises(SeqlabError, match="slow-lane"):
        sequencing.check_design("slow-lane")


@pytest.mark.parametrize("settings_, key, says", [
    (Bare, "fair", "already has a 'fair' setting"),                 # a design's section
    (Bare, "block_time", "already has a 'block_time' setting"),     # a shared setting
    (Bare, "Level", "lower-case"),
    (Bare, "copy", "'copy' is a Python keyword or a method"),
    (Bare, "class", "'class' is a Python keyword or a method"),
    (Required, None, "needs a valid default (not: level)"),
    (dict, None, "must subclass seqlab.scenario.schema.Model (got <class 'dict'>)"),
])
def test_registration_refuses_settings_it_cannot_read_and_registers_nothing(settings_, key,
                                                                           says):
    fields = list(Sequencer.model_fields)
    with pytest.raises(ValueError, match=re.escape(says)):
        sequencing.register("toy", sequencing.DESIGNS["honest"], "toy", settings_, key)
    assert "toy" not in sequencing.DESIGNS and list(Sequencer.model_fields) == fields


def test_the_built_in_sections_are_the_designs_own_settings():
    owned = [s.key for s in sequencing.SETTINGS.values()]
    assert list(Sequencer.model_fields)[-len(owned):] == owned
    for name, (key, model) in sequencing.SETTINGS.items():
        assert Sequencer.model_fields[key].annotation is model
        assert getattr(Sequencer(design=name), key) == model()


@settings(max_examples=15, deadline=None)
@given(key=st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True),
                    st.sampled_from(["fair", "block_time", "copy", "json", "class",
                                     "model_dump"])),
       level=st.integers(min_value=-5, max_value=5))
def test_any_new_section_validates_and_leaves_the_schema_as_it_was(key, level):
    """Whatever key a design's settings take, either registering refuses it and nothing
    changes, or a scenario may set them there; once the design is gone the schema is
    exactly what it was."""
    before = Scenario.model_json_schema()
    if key in Sequencer.model_fields or iskeyword(key) or hasattr(Sequencer, key):
        with pytest.raises(ValueError, match=f"'{key}'"):  # cfg.<key> would not read it
            sequencing.register("toy", sequencing.DESIGNS["honest"], "toy", Bare, key)
        assert "toy" not in sequencing.DESIGNS and Scenario.model_json_schema() == before
        return
    sequencing.register("toy", sequencing.DESIGNS["honest"], "toy", Bare, key)
    try:
        loaded = parse_scenario({"sequencer": {"design": "toy", key: {"level": level}}})
        assert getattr(loaded.scenario.sequencer, key) == Bare(level=level)
        assert getattr(Scenario().sequencer, key) == Bare()
    finally:
        sequencing.unregister("toy")
    assert Scenario.model_json_schema() == before
