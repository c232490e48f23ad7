"""Tests for reading real price series and interpolating them (seqlab.market.historical)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.errors import SeqlabError
from seqlab.market.historical import (BUILTIN_SERIES, Bars, load_bars, price_at,
                                      resolve_series)

MINUTE_US = 60_000_000
TEN_MIN_US = 600_000_000


def _us(iso: str) -> int:
    """UTC ISO time to epoch microseconds, for readable expectations."""
    when = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc)
    return int(when.timestamp()) * 1_000_000


def _check_sorted_unique(bars: Bars) -> None:
    assert bars.start_us.dtype == np.int64 and bars.end_us.dtype == np.int64
    assert bars.open.dtype == np.float64 and bars.close.dtype == np.float64
    assert np.all(np.diff(bars.start_us) > 0)
    assert np.all(bars.end_us > bars.start_us)


# --------------------------------------------------------------------------- real files


def test_stablesims_json_loads() -> None:
    bars = load_bars(resolve_series("eth-2020-03-12"))
    _check_sorted_unique(bars)
    assert len(bars) == 144
    assert bars.start_us[0] == _us("2020-03-12T00:00:00")
    assert np.all(bars.end_us - bars.start_us == TEN_MIN_US)
    for prices in (bars.open, bars.close):
        assert prices.min() > 80 and prices.max() < 250
    assert bars.open[0] == 195.21 and bars.close[0] == 194.52


def test_stablesims_duplicates_are_dropped() -> None:
    # The 2020-09-05 file repeats its first bar (00:20) three times: 144 rows, 142 bars.
    bars = load_bars(resolve_series("eth-2020-09-05"))
    _check_sorted_unique(bars)
    assert len(bars) == 142
    assert bars.start_us[0] == _us("2020-09-05T00:20:00")


def test_binance_csv_loads() -> None:
    bars = load_bars(resolve_series("eth-2024-08-05-binance"))
    _check_sorted_unique(bars)
    assert len(bars) == 1440
    assert bars.start_us[0] == _us("2024-08-05T00:00:00")  # milliseconds detected
    assert np.all(bars.end_us - bars.start_us == MINUTE_US)
    for prices in (bars.open, bars.close):
        assert prices.min() > 2000 and prices.max() < 3000
    assert bars.open[0] == 2688.91 and bars.close[0] == 2693.0


def test_kucoin_csv_loads_and_sorts() -> None:
    path = resolve_series("eth-2024-08-05-kucoin")
    first_data_line = path.read_text().splitlines()[1]
    assert not first_data_line.startswith("1722816000,")  # the file really is unsorted
    bars = load_bars(path)
    _check_sorted_unique(bars)
    assert len(bars) == 1440
    assert bars.start_us[0] == _us("2024-08-05T00:00:00")  # seconds detected
    assert np.all(bars.end_us - bars.start_us == MINUTE_US)
    for prices in (bars.open, bars.close):
        assert prices.min() > 2000 and prices.max() < 3000
    # The row for 1722896940 is: open 2457.78, close 2458.74, high 2459.78 (close is col 3).
    i = int(np.searchsorted(bars.start_us, 1722896940 * 1_000_000))
    assert bars.open[i] == 2457.78 and bars.close[i] == 2458.74


def test_binance_and_kucoin_agree() -> None:
    binance = load_bars(resolve_series("eth-2024-08-05-binance"))
    kucoin = load_bars(resolve_series("eth-2024-08-05-kucoin"))
    common, bi, ki = np.intersect1d(binance.start_us, kucoin.start_us, return_indices=True)
    assert len(common) == 1440
    rel = np.abs(binance.close[bi] / kucoin.close[ki] - 1)
    assert np.median(rel) < 0.001
    # Venues agree within 1% except in the two minutes of the 01:10 UTC crash, when
    # KuCoin traded 1.5% and 2.2% below Binance.
    outliers = common[rel > 0.01]
    assert set(outliers.tolist()) == {_us("2024-08-05T01:10:00"), _us("2024-08-05T01:11:00")}
    assert rel.max() < 0.03


def test_every_builtin_loads() -> None:
    for name, fname in BUILTIN_SERIES.items():
        path = resolve_series(name)
        assert path.name == fname and path.is_file()
        assert len(load_bars(path)) > 100


def test_duplicates_keep_last_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("time,open,close\n120,5,6\n60,1,2\n120,7,8\n180,9,10\n")
    bars = load_bars(path)
    np.testing.assert_array_equal(bars.start_us, [60_000_000, 120_000_000, 180_000_000])
    np.testing.assert_array_equal(bars.open, [1.0, 7.0, 9.0])
    np.testing.assert_array_equal(bars.close, [2.0, 8.0, 10.0])


def test_json_time_offsets_and_fraction(tmp_path: Path) -> None:
    path = tmp_path / "tz.json"
    path.write_text(json.dumps([{"time_period_start": "2020-01-01T02:00:00.1234567+02:00",
                                 "time_period_end": "2020-01-01T00:10:00",
                                 "price_open": 1, "price_close": 2.5}]))
    bars = load_bars(path)
    assert bars.start_us[0] == _us("2020-01-01T00:00:00") + 123_456
    assert bars.end_us[0] == _us("2020-01-01T00:10:00")


# --------------------------------------------------------------------------- price_at


def _toy_bars() -> Bars:
    start = np.array([0, 10, 20], dtype=np.int64)
    return Bars(start_us=start, end_us=start + 10, open=np.array([100.0, 111.0, 90.0]),
                close=np.array([110.0, 95.0, 120.0]))


def test_price_at_hits_first_open_and_each_close() -> None:
    bars = _toy_bars()
    t = np.concatenate((bars.start_us[:1], bars.end_us))
    np.testing.assert_array_equal(price_at(bars, t), [100.0, 110.0, 95.0, 120.0])


def test_price_at_is_linear_between_points() -> None:
    bars = _toy_bars()
    np.testing.assert_allclose(price_at(bars, np.array([5, 15, 25, 12])),
                               [105.0, 102.5, 107.5, 110.0 - 15 * 0.2])


def test_price_at_clamps_outside_the_series() -> None:
    bars = _toy_bars()
    out = price_at(bars, np.array([-1_000, -1, 31, 10**12]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [100.0, 100.0, 120.0, 120.0])


def test_price_at_on_real_data() -> None:
    bars = load_bars(resolve_series("eth-2021-01-21"))
    t = np.concatenate((bars.start_us[:1], bars.end_us))
    np.testing.assert_array_equal(price_at(bars, t), np.concatenate((bars.open[:1], bars.close)))
    mid = (bars.end_us[:-1] + bars.end_us[1:]) // 2
    np.testing.assert_allclose(price_at(bars, mid), (bars.close[:-1] + bars.close[1:]) / 2)


# --------------------------------------------------------------------------- resolve_series


def test_resolve_series_paths(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("time,open,close\n60,1,2\n120,2,3\n")
    assert resolve_series("p.csv", base_dir=tmp_path) == f
    assert resolve_series(str(f)) == f
    with pytest.raises(SeqlabError) as info:
        resolve_series("eth-1999-01-01", base_dir=tmp_path)
    assert info.value.field == "market.series"
    assert "eth-2020-03-12" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- bad input


def _assert_user_error(path: Path) -> SeqlabError:
    with pytest.raises(SeqlabError) as info:
        load_bars(path)
    text = str(info.value)
    assert "\n" not in text and path.name in text
    assert info.value.file == str(path)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _assert_user_error(tmp_path / "nope.csv")
    assert "not found" in err.message


def test_gas_file_is_not_a_price_series() -> None:
    data = resolve_series("eth-2020-03-12").parent
    err = _assert_user_error(data / "gas-gwei-10min-03-12-2020.json")
    assert "not a price series" in err.message


def test_reserves_file_is_not_a_price_series() -> None:
    data = resolve_series("eth-2020-03-12").parent
    err = _assert_user_error(data / "uniswap-eth-dai-reserves-10min-09-05-2020.json")
    assert "not a price series" in err.message


@pytest.mark.parametrize("name, content", [
    ("empty-list.json", "[]"),
    ("empty.csv", ""),
    ("header-only.csv", "time,open,close\n"),
    ("garbage.txt", "this is not\na price series\n"),
    ("broken.json", '[{"time_period_start": '),
    ("binary.bin", b"\xff\xfe\x00\x01garbage"),
    ("one-row.csv", "1722816000,1,2,3,4\n"),
    ("short-row.csv", "1722816000000,1,2,3,4\n1722816060000,1,2\n"),
    ("word-price.csv", "time,open,close\n60,1,abc\n120,2,3\n"),
    ("no-close.csv", "time,open,high\n60,1,2\n"),
    ("bad-time.json", json.dumps([{"time_period_start": "yesterday",
                                   "time_period_end": "today",
                                   "price_open": 1, "price_close": 2}])),
    ("missing-key.json", json.dumps([{"time_period_start": "2020-01-01T00:00:00Z",
                                      "price_open": 1, "price_close": 2}])),
    ("string-price.json", json.dumps([{"time_period_start": "2020-01-01T00:00:00Z",
                                       "time_period_end": "2020-01-01T00:10:00Z",
                                       "price_open": "1", "price_close": 2}])),
    ("backwards.json", json.dumps([{"time_period_start": "2020-01-01T00:10:00Z",
                                    "time_period_end": "2020-01-01T00:00:00Z",
                                    "price_open": 1, "price_close": 2}])),
    ("number.json", "42"),
])
def test_bad_input_raises_one_line_error(tmp_path: Path, name: str,
                                         content: str | bytes) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    _assert_user_error(path)


@pytest.mark.parametrize("bad", ["-5.0", "0", "nan", "inf"])
def test_bad_price_raises(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "neg.csv"
    path.write_text(f"time,open,close\n60,1.0,2.0\n120,2.0,{bad}\n180,3.0,4.0\n")
    err = _assert_user_error(path)
    assert err.field == "close"


def test_directory_is_an_error(tmp_path: Path) -> None:
    _assert_user_error(tmp_path)


# --------------------------------------------------------------------------- round trip

_prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def _bar_rows(draw: st.DrawFn) -> tuple[list[int], list[float], list[float]]:
    starts = draw(st.lists(st.integers(min_value=1_000_000_000, max_value=2_000_000_000),
                           min_size=2, max_size=40, unique=True))
    starts.sort()
    opens = draw(st.lists(_prices, min_size=len(starts), max_size=len(starts)))
    closes = draw(st.lists(_prices, min_size=len(starts), max_size=len(starts)))
    return starts, opens, closes


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_bar_rows(), time_col=st.sampled_from(["time", "open_time", "timestamp"]),
       millis=st.booleans(), reverse=st.booleans())
def test_csv_round_trip(tmp_path: Path, rows: tuple[list[int], list[float], list[float]],
                        time_col: str, millis: bool, reverse: bool) -> None:
    starts, opens, closes = rows
    scale = 1000 if millis else 1
    # Columns in an unusual order: the reader must find them by header name.
    lines = [f"{c!r},{s * scale},{o!r},1.0" for s, o, c in zip(starts, opens, closes)]
    if reverse:
        lines.reverse()
    path = tmp_path / "round.csv"
    path.write_text("\n".join([f"close,{time_col},open,volume"] + lines) + "\n")
    bars = load_bars(path)
    expected_start = np.array(starts, dtype=np.int64) * 1_000_000
    np.testing.assert_array_equal(bars.start_us, expected_start)
    np.testing.assert_array_equal(bars.open, opens)
    np.testing.assert_array_equal(bars.close, closes)
    length = int(np.rint(np.median(np.diff(expected_start))))
    np.testing.assert_array_equal(bars.end_us, expected_start + length)
