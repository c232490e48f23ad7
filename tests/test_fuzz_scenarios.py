"""Fuzzed scenarios: whatever a file holds, seqlab either runs it cleanly or says why in
one line. Never a traceback, never a run finishing on a non-finite or out-of-bound value.

The base is the ``tiny`` scenario shrunk to two minutes, written out in full (every
setting), then mutated: values replaced by nan/inf/huge/negative numbers, wrong types
and odd strings, keys deleted, tables added or nested deeply, bytes that are not UTF-8.
Each input goes through ``seqlab validate`` and, when valid, ``seqlab run``.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.scenario import load_scenario, parse_scenario

runner = CliRunner()


def _base() -> dict[str, Any]:
    loaded = load_scenario("tiny")
    data = loaded.scenario.model_dump(mode="json")
    data.update(duration="2min", name="fuzz")
    data["agents"]["traders"]["accounts"] = 60
    parse_scenario(data)  # the base itself is valid
    return _drop_none(data)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


BASE = _base()


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value (tables and lists included), for mutations to aim at."""
    out = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _leaves(v, path + (i,))
    return out


PATHS = _leaves(BASE)


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


NON_FINITE = [math.nan, math.inf, -math.inf]
HUGE = [1e308, -1e308, 1e30, 10 ** 30, 2 ** 63, -(2 ** 63), 1e302]
REPLACEMENTS = st.one_of(
    st.sampled_from(NON_FINITE + HUGE),
    st.sampled_from([-1, -1.5, 0, 0.0, 1, 2, 3, 5, 1e-9, 1e6, True, False]),
    st.sampled_from(["", "x", "nan", "inf", "1e308", "999999999h", "-5ms", "1us", "30d",
                     "../../x", "a\nb", "a\x1bb", "fcfs", "replay", "eth-2020-03-12",
                     "gas-2020-03-12", "committee", "0s"]),
    st.lists(st.sampled_from([1, 0.5, -1, "x", math.nan]), max_size=3),
    st.just({"nested": {"deeper": {"deepest": 1}}}),
)
class Mutation:
    """One change to the base scenario: replace, delete or add a value at ``path``."""

    def __init__(self, kind: str, path: tuple, value: Any = None) -> None:
        self.kind, self.path, self.value = kind, path, value

    def apply(self, data: dict) -> None:
        parent = data
        for part in self.path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return  # an earlier mutation removed or replaced the way here
        last = self.path[-1]
        if not isinstance(parent, (dict, list)):
            return
        if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
            return
        if isinstance(parent, dict) and isinstance(last, int):
            return
        if self.kind == "replace":
            parent[last] = self.value
        elif self.kind == "delete":
            if isinstance(parent, dict):
                parent.pop(last, None)
            else:
                del parent[last]
        elif self.kind == "scale":
            old = parent[last]
            if isinstance(old, (int, float)) and not isinstance(old, bool):
                parent[last] = type(old)(old * self.value)
        elif self.kind == "add" and isinstance(parent, dict):
            parent[f"extra_{last}"] = self.value

    def __repr__(self) -> str:
        return f"{self.kind} {'.'.join(map(str, self.path))} = {self.value!r}"


NUMERIC_PATHS = [p for p in PATHS if isinstance(_at(BASE, p), (int, float))
                 and not isinstance(_at(BASE, p), bool)]
MUTATION = st.one_of(
    # plausible values, so that many inputs reach a run
    st.builds(Mutation, st.just("scale"), st.sampled_from(NUMERIC_PATHS),
              st.sampled_from([0, 0.5, 2, 3, 10])),
    st.builds(Mutation, st.just("replace"), st.sampled_from(PATHS), REPLACEMENTS),
    st.builds(Mutation, st.just("delete"), st.sampled_from(PATHS)),
    st.builds(Mutation, st.just("add"), st.sampled_from(PATHS), REPLACEMENTS),
)


def bad_numbers(value: Any) -> list[float]:
    """Numbers no setting allows (and no result may hold): non-finite, or beyond any
    bound (|x| >= 1e30)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in bad_numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in bad_numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [] if math.isfinite(value) and abs(value) < 1e30 else [value]
    return []


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(data: dict) -> str:
    return "\n".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in data.items()) + "\n"


@st.composite
def scenario_bytes(draw) -> tuple[bytes, list[Mutation], list[float]]:
    import copy

    data = copy.deepcopy(BASE)
    mutations = draw(st.lists(MUTATION, min_size=1, max_size=3))
    for m in mutations:
        m.apply(data)
    text = to_toml(data).encode()
    tail = draw(st.sampled_from(["", "", "", "", "", "bytes", "nest"]))
    if tail == "bytes":  # not UTF-8
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82"])) + text[cut:]
        mutations.append(Mutation("bytes", ("file",)))
    elif tail == "nest":  # nested tables deep enough to hurt a recursive parser
        depth = draw(st.sampled_from([50, 2000, 5000]))
        text += b"deep = " + b"{a = " * depth + b"1" + b"}" * depth + b"\n"
        mutations.append(Mutation("nest", ("deep",), depth))
    return text, mutations, bad_numbers(data)


def one_line_error(res) -> None:
    err = res.stderr.rstrip("\n")
    assert res.exit_code == 2, (res.exit_code, res.output, res.stderr)
    assert "Traceback" not in res.output + res.stderr
    assert err.startswith("error: ") and "\n" not in err, repr(res.stderr)
    assert res.stdout == ""


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario_bytes())
def test_fuzzed_scenarios_run_cleanly_or_fail_in_one_line(case):
    text, mutations, bad = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(text)
        checked = runner.invoke(app, ["validate", str(path), "--json"])
        ran = runner.invoke(app, ["run", str(path), "--json", "--no-report",
                                  "--out", str(Path(tmp) / "out")])
        event("rejected" if checked.exit_code else "ran")
        if checked.exit_code != 0:
            one_line_error(checked)
            one_line_error(ran)
            assert checked.stderr == ran.stderr  # run validates exactly as validate does
            assert not (Path(tmp) / "out").exists()  # nothing half-written
            return
        assert not bad, f"validated {bad} after {mutations}"
        assert ran.exit_code == 0, (mutations, ran.stdout, ran.stderr)
        summary = json.loads(ran.stdout)
        assert summary["ledger_residual"] == 0
        assert not bad_numbers(summary), "a run reported non-finite figures"
        assert {p.name for p in (Path(tmp) / "out").iterdir()} == {"results.duckdb",
                                                                  "summary.json"}
