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
    "too_many_colluders": ("[oracle]\nnodes = 3\n[oracle.collusion]\nnodes = 4\n", "oracle",
                           "must be at most oracle.nodes = 3"),
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
    assert sc.oracle.heartbeat == 86_400_000_000 and sc.oracle.latency.median == 30_000


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


# Found by fuzzing: each was a traceback, a hang, an allocation of terabytes, or a run
# that finished "OK" on garbage. Each must be one line naming the field, exit status 2.
REJECTED = {
    "duration_inf": ("duration = inf\n", "duration", "finite duration"),
    "duration_1e302": ("duration = 1e302\n", "duration", "finite duration"),
    "duration_huge_text": ('duration = "999999999h"\n', "duration", "100 years"),
    "duration_over_30_days": ('duration = "31d"\n', "duration", "30d"),
    "drift_nan": ("[market]\ndrift = nan\n", "market.drift", "finite"),
    "pool_inf": ("[protocol.perps]\npool_usd = inf\n", "protocol.perps.pool_usd", "finite"),
    "pool_huge": ("[protocol.perps]\npool_usd = 1e300\n", "protocol.perps.pool_usd",
                  "micro-USD"),
    "rate_1e30": ("[agents.traders]\nrate_per_s = 1e30\n", "", "expected transactions"),
    "rate_times_duration": ('duration = "30d"\n[agents.traders]\nrate_per_s = 100.0\n', "",
                            "50,000,000"),
    "negative_seed": ("seed = -1\n", "seed", "greater than or equal to 0"),
    "noise_inf": ("[oracle]\nnoise_bps = inf\n", "oracle.noise_bps", "finite"),
    "tip_inf": ("[agents.traders]\ntip_usd = inf\n", "agents.traders.tip_usd", "finite"),
    "leverage_inf": ("[agents.traders]\nleverage = [2.0, inf]\nleverage_weights = [1, 1]\n",
                     "agents.traders.leverage.1", "finite"),
    "leverage_huge": ("[agents.traders]\nleverage = [2.0, 1e9]\nleverage_weights = [1, 1]\n",
                      "agents.traders.leverage.1", "at most 1,000"),
    "accounts": ("[agents.traders]\naccounts = 2000000\n", "agents.traders.accounts",
                 "memory"),
    "name_escapes_runs": ('name = "../../x"\n', "name", "folder name"),
    "name_empty": ('name = ""\n', "name", "1 to 100"),
    "name_newline": ('name = "a\\nb"\n', "name", "control characters"),
    "committee_of_one": ("[sequencer.committee]\nnodes = 1\n", "sequencer.committee",
                         "at least 4"),
    "gbm_with_series": ('[market]\nseries = "eth-2020-03-12"\n', "market",
                        "only read when market.model = 'replay'"),
    "tiny_market_step": ('duration = "1d"\n[market]\nstep = "1us"\n', "", "market.step"),
    "replay_past_end": ('duration = "6h"\n[market]\nmodel = "replay"\n'
                        'series = "eth-2020-03-12"\nstart = "20h"\n', "duration",
                        "reaches past its end"),
    "gas_series_short": ('duration = "2d"\n[sequencer.batch_poster]\n'
                         'gas_series = "gas-2020-03-12"\n',
                         "sequencer.batch_poster.gas_series", "covers 1d"),
    "rollup_design": ('[rollups]\ncount = 2\ndesigns = ["fcfs", "magic"]\n',
                      "rollups.designs.1", "unknown design 'magic'"),
    "deep_tables": ("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n", "", "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_before_running_in_one_line(tmp_path, case):
    text, field, hint = REJECTED[case]
    path = tmp_path / "s.toml"
    path.write_text(text)
    for command in (["validate", str(path)],
                    ["run", str(path), "--json", "--out", str(tmp_path / "out")]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2, (command, res.output)
        line = res.stderr.rstrip("\n")
        assert "\n" not in line and "Traceback" not in res.output, res.output
        assert str(path) in line and field in line and hint in line, line
        assert not (tmp_path / "out").exists()


def test_non_utf8_file_is_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "not UTF-8" in res.stderr and "0xe9" in res.stderr


def test_control_characters_in_errors_are_escaped(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[sequencer]\ndesign = "fc\\nfs\\u001b[31m"\n')
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "\x1b" not in res.stderr
    assert "fc\\nfs\\x1b[31m" in res.stderr
    assert SeqlabError("a\nb\tc", field="x\ry").line() == "x\\ry: a\\nb\\tc"


@pytest.mark.parametrize("args,field", [
    (["run", "tiny", "--seed", "-5"], "--seed"),
    (["run", "tiny", "--seed", str(2 ** 40)], "--seed"),
    (["compare", "tiny", "--designs", ""], "--designs"),
    (["compare", "tiny", "--designs", " , "], "--designs"),
    (["compare", "tiny", "--seeds", "0"], "--seeds"),
    (["compare", "tiny", "--seeds", "100000"], "--seeds"),
    (["sweep", "tiny", "--designs", ""], "--designs"),
    (["sweep", "tiny", "--workers", "0"], "--workers"),
])
def test_contradictory_options_fail_up_front(tmp_path, monkeypatch, args, field):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and field in res.stderr
    assert not (tmp_path / "runs").exists()


def test_builtins_stay_valid_under_the_bounds():
    for name in builtin_scenarios():
        sc = load_scenario(name).scenario
        assert sc.duration <= 30 * 86_400_000_000
