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
        msg += f" (got {given!r})"
    return SeqlabError(msg, file=source, field=field)


def parse_scenario(data: dict[str, Any], source: str = "<scenario>",
                   base_dir: Path | None = None) -> LoadedScenario:
    """Validate a scenario mapping (as read from TOML) and check cross-references."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source) from None
    _check_references(scenario, source, base_dir)
    return LoadedScenario(scenario, source, base_dir)


def _check_references(scenario: Scenario, source: str, base_dir: Path | None) -> None:
    """Names that point elsewhere (a design, a data file) must exist."""
    from seqlab.sequencing import DESIGNS

    if scenario.sequencer.design not in DESIGNS:
        raise SeqlabError(f"unknown design '{scenario.sequencer.design}'", file=source,
                          field="sequencer.design", allowed=", ".join(sorted(DESIGNS)))
    if scenario.market.model == "replay":
        from seqlab.market.historical import load_bars, resolve_series

        try:
            path = resolve_series(scenario.market.series or "", base_dir)
            load_bars(path)
        except SeqlabError as exc:
            where = f"{exc.file}: " if exc.file else ""
            raise SeqlabError(f"{where}{exc.message}", file=source, field="market.series",
                              allowed=exc.allowed) from None


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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeqlabError(f"invalid TOML: {exc}", file=source) from None
    return parse_scenario(data, source, path.parent)
