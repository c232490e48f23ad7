"""Load scenarios from TOML files or the built-in set, with errors that name the field.

A user's mistake becomes one ``SeqlabError`` line: ``file: field: what is wrong
(allowed: …)``. Built-in scenarios ship as package data under ``scenario/builtin``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from seqlab.errors import SeqlabError
from seqlab.scenario.schema import Scenario

DEFAULT_SCENARIO = "default"


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario plus where it came from (for error messages and relative paths)."""

    scenario: Scenario
    source: str
    base_dir: Path | None


def builtin_dir() -> Path:
    return Path(str(resources.files("seqlab") / "scenario" / "builtin"))


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario names mapped to their one-line descriptions."""
    out: dict[str, str] = {}
    for path in sorted(builtin_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        out[path.stem] = str(data.get("description", "")).strip().splitlines()[0] if data.get(
            "description") else ""
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The keys allowed at ``loc``'s parent, to list after an 'unknown key' error."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type)
                        and issubclass(c, BaseModel)), None)
        if current is None:
            return None
    return ", ".join(getattr(current, "model_fields", {}))


def _validation_error(exc: ValidationError, source: str) -> SeqlabError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return SeqlabError("unknown key", file=source, field=field,
                           allowed=_allowed_keys(Scenario, loc))
    msg = str(err["msg"]).replace("\n", " ")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    given = err.get("input")
    if not isinstance(given, (dict, list)) and given is not None:
        shown = repr(given)
        msg += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return SeqlabError(msg, file=source, field=field)


def parse_scenario(data: dict[str, Any], source: str = "<scenario>",
                   base_dir: Path | None = None) -> LoadedScenario:
    """Validate a scenario mapping (as read from TOML) and check cross-references."""
    # The design registry first: registering, the designs add their own [sequencer.<key>]
    # sections (imported here, not above: the designs import the schema this package holds).
    import seqlab.sequencing  # noqa: F401
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source) from None
    except RecursionError:
        raise SeqlabError("tables nested too deeply", file=source) from None
    _check_references(scenario, source, base_dir)
    return LoadedScenario(scenario, source, base_dir)


def _check_references(scenario: Scenario, source: str, base_dir: Path | None) -> None:
    """Names that point elsewhere (a design, a protocol, an oracle kind, a data file) must
    exist."""
    from seqlab.oracle import check_kind_settings, check_oracle
    from seqlab.protocols import check_protocol
    from seqlab.sequencing import check_design, make_rollups_design

    named = [("sequencer.design", scenario.sequencer.design)]
    named += [(f"rollups.designs.{i}", d) for i, d in enumerate(scenario.rollups.designs)]
    for field, design in named:
        check_design(design, field, source)
    make_rollups_design(scenario.rollups, source)  # its name, and the settings it runs with
    check_protocol(scenario.protocol.kind, "protocol.kind", source)
    check_oracle(scenario.oracle.kind, "oracle.kind", source)
    check_kind_settings(scenario, source)
    if scenario.market.model == "replay":
        _check_replay_window(scenario, source, base_dir)
    if scenario.sequencer.batch_poster.gas_series is not None:
        _check_gas_series(scenario, source, base_dir)


def _data_error(exc: SeqlabError, source: str, field: str) -> SeqlabError:
    """A data file's error, told as the scenario's field that names the file."""
    where = f"{exc.file}: " if exc.file else ""
    return SeqlabError(f"{where}{exc.message}", file=source, field=field, allowed=exc.allowed)


def _check_replay_window(scenario: Scenario, source: str, base_dir: Path | None) -> None:
    """The replayed window ``[start, start + duration]`` must lie inside the series."""
    from seqlab.market.historical import load_bars, resolve_series
    from seqlab.units import format_duration

    market = scenario.market
    try:
        path = resolve_series(market.series or "", base_dir)
        bars = load_bars(path)
    except SeqlabError as exc:
        raise _data_error(exc, source, "market.series") from None
    length = int(bars.end_us[-1]) - int(bars.start_us[0])
    if market.start + scenario.duration > length:
        raise SeqlabError(f"{path.name} covers {format_duration(length)}, but market.start "
                          f"({format_duration(market.start)}) + duration "
                          f"({format_duration(scenario.duration)}) reaches past its end",
                          file=source, field="market.start" if market.start >= length
                          else "duration", allowed="start + duration within the series")


def _check_gas_series(scenario: Scenario, source: str, base_dir: Path | None) -> None:
    """A gas series must cover the whole run from ``market.start`` (its last bucket is not
    repeated silently)."""
    from seqlab.rollup.gas import BUCKET_US, FIELD, load_gas_gwei
    from seqlab.units import format_duration

    poster = scenario.sequencer.batch_poster
    try:
        series = load_gas_gwei(poster.gas_series or "", poster.gas_percentile, base_dir)
    except SeqlabError as exc:
        raise _data_error(exc, source, FIELD) from None
    end = scenario.market.start + scenario.duration
    if len(series) * BUCKET_US < end:
        raise SeqlabError(f"{poster.gas_series} covers {format_duration(len(series) * BUCKET_US)}"
                          f" but the run ends {format_duration(end)} into it (market.start "
                          "+ duration)", file=source, field=FIELD,
                          allowed="a series covering market.start + duration")


def builtin_path(name: str, what: str = "no built-in scenario or file") -> Path:
    """The TOML file of built-in scenario ``name``; a SeqlabError listing them if none."""
    path = builtin_dir() / f"{name}.toml"
    if not path.exists():
        raise SeqlabError(f"{what} named '{name}'", file=name,
                          allowed=", ".join(builtin_scenarios()))
    return path


def load_scenario(name_or_path: str | Path | None = None) -> LoadedScenario:
    """Load a built-in scenario by name, or a TOML file by path."""
    name = str(name_or_path or DEFAULT_SCENARIO)
    path = Path(name)
    if not path.suffix and not path.exists():
        path = builtin_path(name)
        source = name
    else:
        source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeqlabError(f"cannot read file ({exc.strerror or exc})", file=source) from None
    except UnicodeDecodeError as exc:
        raise SeqlabError(f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start})", file=source,
                          allowed="a TOML file saved as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeqlabError(f"invalid TOML: {exc}", file=source) from None
    except RecursionError:
        raise SeqlabError("invalid TOML: tables or arrays nested too deeply",
                          file=source) from None
    return parse_scenario(data, source, path.parent)
