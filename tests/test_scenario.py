"""Bad scenario input: one line naming file and field, exit status 2, never a traceback."""
import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.scenario import builtin_scenarios, load_scenario

runner = CliRunner()

BAD = {
    "unknown_key": ("[market]\nvolatilty = 0.5\n", "market.volatilty", "unknown key"),
    "wrong_type": ("[agents.traders]\naccounts = \"many\"\n", "agents.traders.accounts",
                   "integer"),
    "negative_latency": ("[agents.traders]\nlatency = { median = \"-5ms\" }\n",
                         "agents.traders.latency.median", "duration"),
    "bad_duration": ("duration = \"3 fortnights\"\n", "duration", "allowed units"),
    "unknown_design": ("[sequencer]\ndesign = \"magic\"\n", "sequencer.design", "fcfs"),
    "missing_data_file": ("[market]\nmodel = \"replay\"\nseries = \"nope.csv\"\n",
                          "market.series", "eth-2020-03-12"),
    "not_toml": ("[market\nvolatility = 1\n", "", "invalid TOML"),
    "bad_margins": ("[protocol.perps]\ninitial_margin = 0.02\nmaintenance_margin = 0.03\n",
                    "protocol.perps", "maintenance_margin must be below"),
    "bad_literal": ("[market]\nmodel = \"heston\"\n", "market.model", "'gbm' or 'replay'"),
    "unreadable_series": ("[market]\nmodel = \"replay\"\nseries = \"garbage.csv\"\n",
                          "market.series", "garbage.csv"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_the_field(tmp_path, case):
    text, field, hint = BAD[case]
    (tmp_path / "garbage.csv").write_text("this is, not\na price,series\n")
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    with pytest.raises(SeqlabError) as info:
        load_scenario(str(path))
    line = info.value.line()
    assert "\n" not in line
    assert str(path) in line
    assert field in line and hint in line
    for command in (["validate", str(path)], ["run", str(path), "--json"]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        assert field in res.output


def test_missing_file_and_unknown_builtin():
    res = runner.invoke(app, ["validate", "does-not-exist.toml"])
    assert res.exit_code == 2 and "cannot read" in res.output
    res = runner.invoke(app, ["run", "no-such-builtin"])
    assert res.exit_code == 2 and "default" in res.output


def test_builtins_are_valid_and_listed():
    names = builtin_scenarios()
    assert "default" in names and all(names.values())
    for name in names:
        assert load_scenario(name).scenario.name == name
    res = runner.invoke(app, ["scenarios", "--json"])
    assert res.exit_code == 0 and '"default"' in res.output


def test_durations_and_defaults(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('duration = "90min"\n[sequencer]\nblock_time = "2s"\n')
    sc = load_scenario(str(path)).scenario
    assert sc.duration == 5_400_000_000 and sc.sequencer.block_time == 2_000_000
    assert sc.oracle.heartbeat == 3_600_000_000 and sc.oracle.latency.median == 30_000


def _leaf_keys(model, prefix=""):
    from pydantic import BaseModel

    from seqlab.scenario.schema import Latency

    for name, field in model.model_fields.items():
        args = [field.annotation, *getattr(field.annotation, "__args__", ())]
        sub = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if sub and sub[0] is not Latency:
            yield from _leaf_keys(sub[0], f"{prefix}{name}.")
        else:
            yield name


def test_every_scenario_key_is_documented():
    from pathlib import Path

    from seqlab.scenario.schema import Scenario

    doc = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text()
    missing = [k for k in _leaf_keys(Scenario) if f"`{k}`" not in doc]
    assert not missing, f"undocumented scenario keys: {missing}"
