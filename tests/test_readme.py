"""The README's examples cannot go stale: its Python snippets run, and every ``seqlab``
command line in it names a real command with real options (the cheap ones run)."""
import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seqlab.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
runner = CliRunner()


def blocks(lang: str | None = None) -> list[str]:
    """Fenced blocks of the README (``lang=None``: every block but python and toml)."""
    found = FENCE.findall(README.read_text(encoding="utf-8"))
    if lang is not None:
        return [body for tag, body in found if tag == lang]
    return [body for tag, body in found if tag not in ("python", "toml")]


def command_lines() -> list[str]:
    """Every ``seqlab …`` line in a shell block, with its continuation lines joined."""
    commands: list[str] = []
    for body in blocks():
        for line in body.splitlines():
            text = line.split("  #")[0].rstrip().rstrip("\\").rstrip()
            if text.startswith("$ "):
                text = text[2:]
            if text.startswith("seqlab "):
                commands.append(text)
            elif commands and line.startswith(" ") and text.strip().startswith(("[", "--")):
                commands[-1] += " " + text.strip()
    return commands


def command_path(line: str) -> list[str]:
    """The subcommand words of a command line (``scenarios show``, ``run``, …)."""
    group = typer.main.get_command(app)
    path = []
    for word in line.split()[1:]:
        sub = getattr(group, "commands", {}).get(word)
        if sub is None:
            break
        path.append(word)
        group = sub
    return path


def test_readme_has_the_command_block():
    lines = command_lines()
    assert len(lines) >= 12
    assert {tuple(command_path(line)) for line in lines} >= {
        ("scenarios",), ("scenarios", "show"), ("init",), ("validate",), ("run",),
        ("compare",), ("sweep",), ("price",), ("designs",), ("bench",)}


@pytest.mark.parametrize("line", command_lines())
def test_readme_command_names_real_options(line):
    path = command_path(line)
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, (line, res.output)
    for option in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line)) - {"--help"}:
        assert option in res.stdout, f"README: {line!r}: {option} is not an option"


@pytest.mark.parametrize("line", ["seqlab --version", "seqlab scenarios", "seqlab designs",
                                  "seqlab scenarios show tiny", "seqlab validate tiny",
                                  "seqlab scenarios --json", "seqlab designs --json"])
def test_cheap_readme_commands_run(line):
    assert any(c.split()[:2] == line.split()[:2] for c in command_lines()), line
    res = runner.invoke(app, shlex.split(line)[1:], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert res.stdout.strip()


def test_readme_python_snippets_run(tmp_path, monkeypatch):
    snippets = blocks("python")
    assert snippets
    monkeypatch.chdir(tmp_path)  # the snippets write under runs/
    for snippet in snippets:
        exec(compile(snippet, str(README), "exec"), {"__name__": "readme"})


def test_readme_scenario_example_is_valid():
    import tomllib

    from seqlab.scenario.loader import parse_scenario

    (example,) = blocks("toml")
    assert parse_scenario(tomllib.loads(example), "README.md").scenario.name == "my-crash"
