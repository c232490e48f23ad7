"""Real price series, read into one shape so a replay does not care where they came from.

Three formats are read, recognised by content rather than file name (names lie, copies
get renamed):

* stablesims JSON: a list of objects with ``time_period_start``/``time_period_end``
  (ISO 8601, up to 7 fractional digits) and ``price_open``/``price_close``;
* Binance-style kline CSV: no header, columns ``open_time, open, high, low, close, ...``;
* CSV with a header: columns found by name (``time``/``open_time``/``timestamp``,
  ``open``, ``close``), in any order (KuCoin puts ``close`` third).

CSV epochs may be seconds or milliseconds (values above 1e11 are milliseconds; 1e11
seconds is the year 5138). A CSV carries no bar end, so bars last the median spacing of
their starts. Everything a user can get wrong raises ``SeqlabError`` with a one-line
message naming the file.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.units import MS, S

BUILTIN_SERIES: dict[str, str] = {
    "eth-2020-03-12": "eth-usd-10min-03-12-2020.json",
    "eth-2020-09-05": "eth-usd-10min-09-05-2020.json",
    "eth-2021-01-21": "eth-usd-10min-01-21-2021.json",
    "eth-2024-08-05-binance": "eth-usdt-1min-2024-08-05-binance.csv",
    "eth-2024-08-05-kucoin": "eth-usdt-1min-2024-08-05-kucoin.csv",
}

TIME_COLUMNS = ("time", "open_time", "timestamp")
MS_THRESHOLD = 1e11  # epoch values above this are milliseconds, below are seconds
MAX_EPOCH_MS = 1e14  # year ~5138; beyond this microseconds would overflow int64 arithmetic
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                  r"(Z|[+-]\d{2}:?\d{2})?$")
_STABLESIMS_KEYS = ("time_period_start", "time_period_end", "price_open", "price_close")


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLC bars reduced to what a replay needs; arrays are read-only and sorted by start.

    Times are epoch microseconds (seqlab's one time unit); prices are USD per unit.
    """

    start_us: np.ndarray  # int64
    end_us: np.ndarray  # int64
    open: np.ndarray  # float64
    close: np.ndarray  # float64

    def __len__(self) -> int:
        return int(self.start_us.shape[0])


@dataclass
class _Raw:
    """Bars as parsed, before sorting, de-duplication and checks; ``end_us`` may be unknown."""

    start_us: list[int]
    end_us: list[int] | None
    open: list[float]
    close: list[float]


# --------------------------------------------------------------------------- public API


def load_bars(path: str | Path) -> Bars:
    """Read a price file of any supported format into sorted, de-duplicated ``Bars``."""
    name = str(path)
    text = read_data_text(Path(path), name)
    raw = _parse_json(text, name) if text.lstrip()[0] in "[{" else _parse_csv(text, name)
    return _finish(raw, name)


def price_at(bars: Bars, t_us: np.ndarray) -> np.ndarray:
    """Price at each time in ``t_us``, linear between bar closes.

    The path goes through ``(start_us[0], open[0])`` and ``(end_us[i], close[i])`` for
    every bar: a bar's close is the price at its end, and only the first open is used so
    the path stays continuous (later opens usually sit near the previous close, though
    2020-03-12 10:50 opens 9% below it). Times outside the series
    clamp to the first open or last close rather than extrapolating.
    """
    xp = np.concatenate((bars.start_us[:1], bars.end_us)).astype(np.float64)
    fp = np.concatenate((bars.open[:1], bars.close))
    return np.asarray(np.interp(np.asarray(t_us, dtype=np.float64), xp, fp), dtype=np.float64)


def resolve_series(name_or_path: str, base_dir: Path | None = None) -> Path:
    """Turn a scenario's ``market.series`` into a file: a builtin name or a path."""
    return resolve_data_file(name_or_path, base_dir, BUILTIN_SERIES, "market.series",
                             "price file")


def resolve_data_file(name_or_path: str, base_dir: Path | None, builtins: dict[str, str],
                      field: str, what: str) -> Path:
    """A shipped data file by its built-in name, or a path. Relative paths are taken
    against ``base_dir`` (the scenario's folder) so a scenario works from any current
    directory."""
    if name_or_path in builtins:
        return Path(str(resources.files("seqlab") / "data" / builtins[name_or_path]))
    candidate = Path(name_or_path).expanduser()
    if base_dir is not None and not candidate.is_absolute():
        candidate = Path(base_dir) / candidate
    if candidate.is_file():
        return candidate
    raise SeqlabError(f"{name_or_path!r} is neither a builtin series nor a file "
                      f"(looked for {str(candidate)!r})", field=field,
                      allowed=", ".join(builtins) + f", or a path to a {what}")


# --------------------------------------------------------------------------- reading


def _error(name: str, message: str, field: str | None = None,
           allowed: str | None = None) -> SeqlabError:
    """Build the error; ``message`` is forced onto one line because the CLI prints one."""
    return SeqlabError(" ".join(message.split()), file=name, field=field, allowed=allowed)


def read_data_text(path: Path, name: str) -> str:
    """The file's text without a BOM; never blank. Not stripped, so CSV line numbers hold."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _error(name, "file not found") from None
    except OSError as exc:
        raise _error(name, f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _error(name, "not a text file (not UTF-8); expected a JSON or CSV price "
                     "series") from None
    if not text.strip():
        raise _error(name, "file is empty; expected a JSON or CSV price series")
    return text


# --------------------------------------------------------------------------- stablesims JSON


def _parse_json(text: str, name: str) -> _Raw:
    """Parse stablesims JSON; other JSON (gas prices, pool reserves) is rejected by shape."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(name, f"not valid JSON ({exc.msg} at line {exc.lineno} column "
                     f"{exc.colno})") from None
    except RecursionError:
        raise _error(name, "not valid JSON (nested too deeply)") from None
    if not isinstance(doc, list):
        keys = ", ".join(map(str, list(doc)[:5])) if isinstance(doc, dict) else type(doc).__name__
        raise _error(name, f"not a price series: JSON top level is an object ({keys}), "
                     "expected a list of bars", allowed="a stablesims list of objects with "
                     "time_period_start and price_open/price_close, or a CSV")
    if not doc:
        raise _error(name, "empty series: the JSON list has no bars")
    if not isinstance(doc[0], dict) or "time_period_start" not in doc[0]:
        raise _error(name, "not a price series: JSON list items lack 'time_period_start' "
                     f"(first item: {_preview(doc[0])})",
                     allowed="objects with " + ", ".join(_STABLESIMS_KEYS))
    raw = _Raw([], [], [], [])
    for i, item in enumerate(doc):
        _append_json_bar(raw, item, i, name)
    return raw


def _append_json_bar(raw: _Raw, item: Any, i: int, name: str) -> None:
    """Add JSON item ``i`` to ``raw``, naming the item and key on any problem."""
    if not isinstance(item, dict):
        raise _error(name, f"item {i} is {type(item).__name__}, expected an object")
    for key in _STABLESIMS_KEYS:
        if key not in item:
            raise _error(name, f"item {i} has no {key!r}", field=key)
    assert raw.end_us is not None  # JSON bars always carry their end
    raw.start_us.append(_iso_to_us(item["time_period_start"], name, "time_period_start", i))
    raw.end_us.append(_iso_to_us(item["time_period_end"], name, "time_period_end", i))
    raw.open.append(_json_price(item["price_open"], name, "price_open", i))
    raw.close.append(_json_price(item["price_close"], name, "price_close", i))


def _iso_to_us(value: Any, name: str, field: str, i: int) -> int:
    """ISO 8601 to epoch microseconds; digits past the sixth (100 ns) are dropped.

    Hand-parsed because ``datetime.fromisoformat`` in 3.11 rejects stablesims' seven
    fractional digits. A missing offset means UTC.
    """
    m = _ISO.match(value) if isinstance(value, str) else None
    if m is None:
        raise _error(name, f"item {i}: {_preview(value)} is not an ISO 8601 time",
                     field=field, allowed="e.g. 2020-03-12T00:00:00.0000000Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    try:
        when = datetime(year, month, day, hour, minute, second, micros,
                        tzinfo=_tz(m.group(8)))
        return (when - _EPOCH) // timedelta(microseconds=1)
    except (ValueError, OverflowError) as exc:
        raise _error(name, f"item {i}: {value!r} is not a valid time ({exc})",
                     field=field) from None


def _tz(suffix: str | None) -> timezone:
    """The fixed offset named by an ISO suffix (``Z``, ``+02:00``, ``-0500`` or none)."""
    if suffix is None or suffix == "Z":
        return timezone.utc
    digits = suffix[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if suffix[0] == "-" else offset)


def _json_price(value: Any, name: str, field: str, i: int) -> float:
    """A JSON number as float; strings and booleans are not prices."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(name, f"item {i}: {_preview(value)} is not a number", field=field)
    try:
        return float(value)
    except OverflowError:
        raise _error(name, f"item {i}: {_preview(value)} is too large", field=field) from None


def _preview(value: Any) -> str:
    """A short one-line rendering of a user value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- CSV


def _parse_csv(text: str, name: str) -> _Raw:
    """Parse a CSV: headerless Binance-style if the first row is numeric, else by header."""
    try:
        rows = [(n, row) for n, row in _csv_rows(text) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise _error(name, f"not a readable CSV ({exc})") from None
    if not rows:
        raise _error(name, "empty series: the CSV has no rows")
    if _is_number(rows[0][1][0]):
        return _columns(rows, (0, 1, 4), name, "binance-style kline CSV (no header)")
    header = [c.strip().lower() for c in rows[0][1]]
    return _columns(rows[1:], _header_indices(header, name), name, "CSV")


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Rows with their 1-based line numbers, for error messages."""
    reader = csv.reader(io.StringIO(text))
    return [(reader.line_num, row) for row in reader]


def _header_indices(header: list[str], name: str) -> tuple[int, int, int]:
    """Column positions of (time, open, close) in a header row."""
    times = [c for c in TIME_COLUMNS if c in header]
    if not times:
        raise _error(name, f"unknown format: no time column in CSV header "
                     f"{_preview(','.join(header))}", field="time",
                     allowed=", ".join(TIME_COLUMNS) + " (or a headerless binance kline CSV, "
                     "or stablesims JSON)")
    for col in ("open", "close"):
        if col not in header:
            raise _error(name, f"no {col!r} column in CSV header "
                         f"{_preview(','.join(header))}", field=col)
    return header.index(times[0]), header.index("open"), header.index("close")


def _columns(rows: list[tuple[int, list[str]]], cols: tuple[int, int, int], name: str,
             kind: str) -> _Raw:
    """Pull time/open/close out of data rows; times stay raw (s or ms) until ``_scale``."""
    if not rows:
        raise _error(name, "empty series: the CSV has a header but no rows")
    times: list[float] = []
    opens: list[float] = []
    closes: list[float] = []
    for line, row in rows:
        if len(row) <= max(cols):
            raise _error(name, f"line {line} has {len(row)} columns, a {kind} needs at "
                         f"least {max(cols) + 1}")
        times.append(_csv_number(row[cols[0]], name, line, "time"))
        opens.append(_csv_number(row[cols[1]], name, line, "open"))
        closes.append(_csv_number(row[cols[2]], name, line, "close"))
    return _Raw(_scale_epochs(times, name), None, opens, closes)


def _csv_number(cell: str, name: str, line: int, field: str) -> float:
    """A CSV cell as float, or an error naming the line and column."""
    try:
        return float(cell)
    except ValueError:
        raise _error(name, f"line {line}: {_preview(cell)} is not a number",
                     field=field) from None


def _is_number(cell: str) -> bool:
    """Whether a cell reads as a number (tells a data row from a header row)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _scale_epochs(times: list[float], name: str) -> list[int]:
    """Epoch seconds or milliseconds (decided once per file, by magnitude) to microseconds."""
    arr = np.asarray(times, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > MAX_EPOCH_MS:
        raise _error(name, "times must be epoch seconds or milliseconds between 0 and "
                     f"{MAX_EPOCH_MS:.0e}", field="time")
    factor = MS if arr.max() > MS_THRESHOLD else S
    return [int(v) for v in np.rint(arr * factor).astype(np.int64)]


# --------------------------------------------------------------------------- checks


def _finish(raw: _Raw, name: str) -> Bars:
    """Sort, drop duplicate starts (last wins: a later row is a correction), check prices."""
    start = np.asarray(raw.start_us, dtype=np.int64)
    order = np.argsort(start, kind="stable")
    keep = order[_last_of_runs(start[order])]
    start = start[keep]
    end = _bar_ends(raw, start, keep, name)
    opens = np.asarray(raw.open, dtype=np.float64)[keep]
    closes = np.asarray(raw.close, dtype=np.float64)[keep]
    _check_prices(opens, "open", start, name)
    _check_prices(closes, "close", start, name)
    _check_times(start, end, name)
    for arr in (start, end, opens, closes):
        arr.setflags(write=False)
    return Bars(start_us=start, end_us=end, open=opens, close=closes)


def _last_of_runs(sorted_start: np.ndarray) -> np.ndarray:
    """Mask keeping the last element of each run of equal values."""
    mask = np.ones(sorted_start.shape, dtype=bool)
    mask[:-1] = sorted_start[1:] != sorted_start[:-1]
    return mask


def _bar_ends(raw: _Raw, start: np.ndarray, keep: np.ndarray, name: str) -> np.ndarray:
    """Bar ends as given (JSON) or start plus the median start spacing (CSV)."""
    if raw.end_us is not None:
        return np.asarray(raw.end_us, dtype=np.int64)[keep]
    if start.shape[0] < 2:
        raise _error(name, "a CSV needs at least two bars with distinct times to infer the "
                     "bar length")
    length = int(np.rint(np.median(np.diff(start))))
    return start + length


def _check_prices(prices: np.ndarray, field: str, start: np.ndarray, name: str) -> None:
    """Every price must be finite and positive: a zero or NaN would poison a replay."""
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise _error(name, f"{int(bad.sum())} bar(s) with a non-finite or non-positive "
                     f"{field} price, first {prices[i]!r} at {_fmt_us(int(start[i]))}",
                     field=field, allowed="finite prices > 0")


def _check_times(start: np.ndarray, end: np.ndarray, name: str) -> None:
    """Bars must end after they start and not overlap, or the price path is not a function."""
    if np.any(end <= start):
        i = int(np.argmax(end <= start))
        raise _error(name, f"bar at {_fmt_us(int(start[i]))} ends before it starts",
                     field="time_period_end")
    if np.any(np.diff(end) <= 0):
        i = int(np.argmax(np.diff(end) <= 0)) + 1
        raise _error(name, f"bar at {_fmt_us(int(start[i]))} ends no later than the bar "
                     "before it (overlapping bars)", field="time_period_end")


def _fmt_us(t_us: int) -> str:
    """Epoch microseconds as an ISO UTC time, for messages."""
    try:
        return (_EPOCH + timedelta(microseconds=t_us)).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return f"{t_us} us"
