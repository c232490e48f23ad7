"""Result folders are written whole or not at all, and a bad ``--out`` fails before any
simulation."""
import json
import os

import pytest
from typer.testing import CliRunner

import seqlab.experiments.run as run_module
from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.experiments import store
from seqlab.experiments.run import run

runner = CliRunner()
TINY = ["tiny", "--no-report", "--json"]


def no_simulation(monkeypatch):
    """Any simulation started from here on fails the test."""
    def boom(*args, **kwargs):
        raise AssertionError("a simulation ran before --out was checked")

    monkeypatch.setattr(run_module, "make_world", boom)
    import seqlab.experiments.compare as compare_module

    monkeypatch.setattr(compare_module, "make_world", boom)


@pytest.mark.parametrize("command", [["run", *TINY], ["compare", *TINY, "--seeds", "1"],
                                     ["price", *TINY, "--design", "extractive",
                                      "--seeds", "1", "--position", "perps (all)"]])
def test_out_pointing_at_a_file_fails_before_any_work(tmp_path, monkeypatch, command):
    no_simulation(monkeypatch)
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    res = runner.invoke(app, [*command, "--out", str(target)])
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and "not a folder" in res.stderr
    assert str(target) in res.stderr and "--out" in res.stderr
    assert target.read_text() == "keep me\n"


def test_out_folder_with_foreign_files_is_refused_up_front(tmp_path, monkeypatch):
    no_simulation(monkeypatch)
    (tmp_path / "notes.md").write_text("mine\n")
    res = runner.invoke(app, ["run", *TINY, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "notes.md" in res.stderr
    assert (tmp_path / "notes.md").read_text() == "mine\n"


def test_folder_is_replaced_as_a_whole_and_stale_temporaries_go(tmp_path):
    out = tmp_path / "out"
    run("tiny", out=out, report=True)
    assert {p.name for p in out.iterdir()} == {"results.duckdb", "summary.json", "report.html"}
    stale = [tmp_path / ".out.tmp-killed", tmp_path / ".out.old-killed"]
    for folder in stale:  # what a run killed mid-write leaves behind
        folder.mkdir()
        (folder / "summary.json").write_text("{")
    res = run("tiny", out=out, report=False)
    # the new folder holds only the new files: the old report went with the old folder
    assert {p.name for p in out.iterdir()} == {"results.duckdb", "summary.json"}
    assert json.loads((out / "summary.json").read_text())["digest"] == res.summary["digest"]
    assert res.summary["store"] == str(out / "results.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_write_leaves_the_previous_folder_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run("tiny", out=out, report=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(obj, path):
        (path.parent / "partial.json").write_text("{")
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        run("tiny", seed=4, out=out, report=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_check_out_allows_new_empty_and_own_folders(tmp_path):
    names = ("a.duckdb", "a.json")
    store.check_out(tmp_path / "new", names)
    store.check_out(tmp_path, names)
    (tmp_path / "a.json").write_text("{}")
    store.check_out(tmp_path, names)
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(SeqlabError, match="b.json"):
        store.check_out(tmp_path, names)


def test_out_may_not_be_the_current_folder(tmp_path, monkeypatch):
    no_simulation(monkeypatch)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", "..", str(here)):
        res = runner.invoke(app, ["run", *TINY, "--out", out])
        assert res.exit_code == 2 and "current folder" in res.stderr, res.output
    assert here.is_dir() and not any(here.iterdir())
