"""The first hour with seqlab: version, scenario files to start from, a design override,
tables that fit a terminal, and results loaded back into pandas."""
import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

import seqlab
from seqlab.cli import app
from seqlab.result import Result
from seqlab.scenario.loader import builtin_dir, load_scenario

runner = CliRunner()


def invoke(*args: str, columns: int = 100):
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)})


def test_version_comes_from_the_package_metadata():
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"seqlab {seqlab.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", seqlab.__version__)


def test_scenarios_lists_and_shows():
    listing = invoke("scenarios", "--json")
    assert listing.exit_code == 0
    assert "tiny" in json.loads(listing.stdout)["scenarios"]
    assert "tiny" in invoke("scenarios").stdout
    shown = invoke("scenarios", "show", "tiny")
    assert shown.exit_code == 0
    assert shown.stdout == (builtin_dir() / "tiny.toml").read_text()
    bad = invoke("scenarios", "show", "nope")
    assert bad.exit_code == 2 and "allowed: " in bad.stderr and "tiny" in bad.stderr


def test_init_copies_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mine.toml"
    assert invoke("init", "tiny", str(target)).exit_code == 0
    assert target.read_text() == (builtin_dir() / "tiny.toml").read_text()
    assert load_scenario(target).scenario.name == "tiny"
    target.write_text("edited")
    again = invoke("init", "tiny", str(target))
    assert again.exit_code == 2
    assert len(again.stderr.strip().splitlines()) == 1 and "--force" in again.stderr
    assert target.read_text() == "edited"
    assert invoke("init", "tiny", str(target), "--force").exit_code == 0
    assert target.read_text() == (builtin_dir() / "tiny.toml").read_text()
    assert invoke("init", "nope", str(tmp_path / "x.toml")).exit_code == 2


def test_run_design_overrides_the_scenario(tmp_path):
    bad = invoke("run", "tiny", "--design", "nope", "--no-report")
    assert bad.exit_code == 2
    assert "--design" in bad.stderr and "extractive" in bad.stderr
    res = invoke("run", "tiny", "--design", "extractive", "--no-report", "--json",
                 "--out", str(tmp_path / "run"))
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["design"] == "extractive"
    assert summary["digest"] == seqlab.run("tiny", design="extractive").summary["digest"]


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_compare_fits_100_columns_and_wide_prints_everything(tmp_path):
    args = ("compare", "tiny", "--designs", "honest,extractive,priority", "--seeds", "2",
            "--no-report", "--out", str(tmp_path / "cmp"))
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in _lines(res.stdout)) <= 100
    assert "…" not in res.stdout
    assert "extracted" in res.stdout and "±" in res.stdout
    wide = invoke(*args, "--wide", columns=80)
    assert wide.exit_code == 0
    assert "…" not in wide.stdout
    assert "same-block liq." in wide.stdout and "p50 ms" in wide.stdout
    assert max(len(line) for line in _lines(wide.stdout)) > 100  # one line per design


def test_run_table_fits_and_keeps_the_digest_whole(tmp_path):
    res = invoke("run", "tiny", "--no-report", "--out", str(tmp_path / "run"), columns=100)
    assert res.exit_code == 0
    assert max(len(line) for line in _lines(res.stdout)) <= 100 and "…" not in res.stdout
    digest = seqlab.run("tiny").summary["digest"]
    assert digest in re.sub(r"[│ \n]", "", res.stdout)


def test_to_pandas_and_load_folders(tmp_path):
    result = seqlab.run("tiny", out=tmp_path / "run", report=False)
    frames = result.to_pandas()
    assert set(frames) == set(result.tables)
    txs = frames["txs"]
    assert isinstance(txs, pd.DataFrame) and len(txs) == result.table_rows("txs")
    assert "oracle" in set(txs["kind"].astype(str))

    loaded = seqlab.load(tmp_path / "run")
    assert isinstance(loaded, Result)
    assert loaded.summary["digest"] == result.summary["digest"]
    assert set(loaded.tables) == set(result.tables)
    assert loaded.table_rows("liquidations") == result.table_rows("liquidations")
    assert (loaded.to_pandas()["txs"]["kind"].astype(str) == txs["kind"].astype(str)).all()

    cmp = seqlab.compare("tiny", ["honest", "extractive"], out=tmp_path / "cmp", report=False)
    back = seqlab.load(tmp_path / "cmp")
    assert back.summary["designs"].keys() == cmp.summary["designs"].keys()
    assert set(back.to_pandas()) == {"runs", "harm", "bonus", "latency_quantiles"}

    with pytest.raises(seqlab.SeqlabError):
        seqlab.load(tmp_path)
