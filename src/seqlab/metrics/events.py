"""Stress events in a price path, and the calendar that says how often they happen.

A sequencer's ordering cost is not spread evenly over time: it lands where the price
moves fast (liquidations, censored margin calls, stale-oracle trades). A premium measured
over a few stressed hours and scaled to a year "as if every hour were that hour" is
therefore meaningless. Instead the cost is measured *per event*, for events classified
by the size and speed of the move, and annualised by how often such events happen in a
stated calendar; what is left outside the events is a calm-market rate per year.

An :class:`EventClass` is a move of at least ``move`` (as a log return, either way)
within ``window``. :func:`find_events` marks the times at which the price has moved that
much since some point of the preceding window, merges overlapping episodes into events,
and gives each the most severe class it reaches. Severity is the size of the move first
and its speed second (:attr:`EventClass.severity`): a liquidation follows the cumulative
move against a position whatever its speed, so a 5 % slide over an hour liquidates what a
5 % crash in ten minutes does, and the faster move adds what speed costs (stale oracles,
margin calls with no time to answer).

A :class:`Calendar` holds events per year for each class and says where the numbers come
from; :func:`historical_calendar` counts them in the shipped historical series. Those
series are *stress days only* (crash days picked from 2020-2024), so they bound a year's
rate: spread over the five years they come from (a floor, the default) or as if every
day were such a day (a ceiling no year reaches); both are printed as what they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from seqlab.errors import SeqlabError
from seqlab.units import DAY, MINUTE

__all__ = ["EventClass", "Events", "Calendar", "DEFAULT_CLASSES", "find_events",
           "historical_calendar", "parse_calendar", "event_mask"]

YEAR_DAYS = 365.0


@dataclass(frozen=True)
class EventClass:
    """A move of at least ``move`` (fraction, e.g. 0.05) within ``window_us``."""

    name: str
    move: float
    window_us: int

    @property
    def severity(self) -> tuple[float, int]:
        """Sort key, least severe first: the larger move, then the shorter window."""
        return (self.move, -self.window_us)

    def describe(self) -> str:
        return f"≥ {self.move:.0%} within {self.window_us / MINUTE:g} min"


#: Moderate and large fast moves, and slow slides, least severe first. 5 % in 10 minutes
#: is a crash move; 2 % in 10 minutes is a fast move that still triggers liquidations at
#: 20x. A slide is the same 5 % reached within an hour: at 20x leverage (5 % initial
#: margin) a 5 % adverse move liquidates whatever its speed, and an hour is slower than
#: any keeper's or margin user's reaction, so a slide is an event for its liquidations,
#: not for its speed.
DEFAULT_CLASSES: tuple[EventClass, ...] = (
    EventClass("moderate", 0.02, 10 * MINUTE),
    EventClass("slide", 0.05, 60 * MINUTE),
    EventClass("large", 0.05, 10 * MINUTE),
)


@dataclass(frozen=True)
class Events:
    """Events found in a path: start and end (µs: where the move began and where it last
    extended), class index into ``classes`` (least severe first), and signed move."""

    start_us: np.ndarray
    end_us: np.ndarray
    cls: np.ndarray
    move: np.ndarray
    classes: tuple[EventClass, ...]

    def counts(self) -> dict[str, int]:
        return {c.name: int(np.sum(self.cls == i)) for i, c in enumerate(self.classes)}


def _window_range(t_us: np.ndarray, logp: np.ndarray,
                  window_us: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Highest and lowest log price over the trailing window ending at each point, and
    the window in steps (a regular grid is assumed: the window is a number of steps)."""
    step = float(np.median(np.diff(t_us))) if len(t_us) > 1 else float(window_us)
    n = max(int(round(window_us / step)) + 1, 2)
    origin = (n - 1) // 2  # trailing window: [i - n + 1, i]
    hi = maximum_filter1d(logp, n, origin=origin, mode="nearest")
    lo = minimum_filter1d(logp, n, origin=origin, mode="nearest")
    return hi, lo, n


def _origin(logp: np.ndarray, i: int, n: int, fell: bool) -> int:
    """Where the move reaching point ``i`` began: the last high (a fall) or low (a rise)
    of its trailing window."""
    seg = logp[max(i - n + 1, 0):i + 1]
    extreme = seg.max() if fell else seg.min()
    return max(i - n + 1, 0) + int(np.flatnonzero(seg == extreme)[-1])


def find_events(t_us: np.ndarray, price: np.ndarray,
                classes: tuple[EventClass, ...] = DEFAULT_CLASSES) -> Events:
    """Events of ``price`` sampled at the regular times ``t_us``.

    A class is *hit* at the times the price has moved at least its ``move`` within its
    window. A maximal run of times at which any class is hit is an episode: it starts
    where the move of each class's first hit began (the last high before a fall, the last
    low before a rise) and ends at the last time a move was still growing, not when the
    window lets go of it, which for a one-hour
    window would be up to an hour of flat price later. Overlapping episodes merge. Each
    event takes the most severe class it reaches (classes are sorted by
    :attr:`EventClass.severity`).
    """
    t = np.asarray(t_us, dtype=np.int64)
    p = np.asarray(price, dtype=np.float64)
    if len(t) < 2 or np.any(~np.isfinite(p)) or np.any(p <= 0):
        empty = np.empty(0, dtype=np.int64)
        return Events(empty, empty, empty, np.empty(0), classes)
    classes = tuple(sorted(classes, key=lambda c: c.severity))
    logp = np.log(p)
    ranges = [_window_range(t, logp, c.window_us) for c in classes]
    moved = [np.maximum(hi - logp, logp - lo) for hi, lo, _ in ranges]
    hit = [m >= math.log1p(c.move) for m, c in zip(moved, classes)]
    extending = np.zeros(len(t), dtype=bool)  # a hit whose move grew since the last step
    for h, m in zip(hit, moved):
        extending[1:] |= h[1:] & (m[1:] > m[:-1])
    any_hit = np.logical_or.reduce(hit)
    starts, ends = [], []
    idx = np.flatnonzero(any_hit)
    if idx.size:
        breaks = np.flatnonzero(np.diff(idx) > 1)
        for a, b in zip(np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]]):
            origins = []
            for h, (hi, lo, n) in zip(hit, ranges):
                if h[a:b + 1].any():
                    i = a + int(np.argmax(h[a:b + 1]))  # the class's first hit
                    fell = bool(hi[i] - logp[i] >= logp[i] - lo[i])
                    origins.append(_origin(logp, i, n, fell))
            last = np.flatnonzero(extending[a:b + 1])
            start = int(t[min(origins)])
            end = int(t[a + int(last[-1]) if last.size else a])
            if starts and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
                continue
            starts.append(start)
            ends.append(end)
    cls, move = [], []
    for s, e in zip(starts, ends):
        inside = (t >= s) & (t <= e)
        top = max((i for i, h in enumerate(hit) if h[inside].any()), default=0)
        seg = logp[inside]
        size = float(moved[top][inside].max())
        cls.append(top)
        move.append(math.expm1(math.copysign(size, seg[-1] - seg[0])))
    return Events(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64),
                  np.asarray(cls, dtype=np.int64), np.asarray(move), classes)


def event_mask(events: Events, t_us: np.ndarray, after_us: int = 0,
               cls: int | None = None) -> np.ndarray:
    """Which of the times ``t_us`` fall in an event (of class ``cls``, or any), counting
    ``after_us`` past its end: the cost of a move (a liquidation, a censored margin call)
    can land shortly after the move itself."""
    t = np.asarray(t_us, dtype=np.int64)
    out = np.zeros(t.shape, dtype=bool)
    for s, e, c in zip(events.start_us, events.end_us, events.cls):
        if cls is None or c == cls:
            out |= (t >= s) & (t <= e + after_us)
    return out


#: Annualised volatility of a calm ETH market, to which calm-time costs are scaled. A
#: quiet month is about 40 % (one-month realised volatility, Glassnode, December 2022: a
#: level seen three times in ETH's history); 50 % is a calm but not exceptional month.
CALM_VOL = 0.5

#: A year's traded notional per dollar of open interest (volume ÷ open interest), to which
#: the calm execution cost per dollar traded is carried. Perps venues turn their open
#: interest over about twice a day: GMX v2 traded 6.22 bn USD in 30 days on 94 m USD of
#: open interest (DefiLlama, 2026: 2.2 a day), Hyperliquid 14.3 bn USD in a day on
#: 7.18 bn (22 October 2025: 2.0 a day). Two a day is 730 a year.
TURNOVER = 730.0
#: Bounds of the turnover a calendar may state: none (no calm trading) up to a hundred
#: times the open interest a day, far above any venue's.
TURNOVER_MAX = 36_500.0


@dataclass(frozen=True)
class Calendar:
    """Events per year of each class, the volatility of the calm time between them, and
    where those numbers come from."""

    per_year: dict[str, float]
    source: str
    classes: tuple[EventClass, ...] = DEFAULT_CLASSES
    notes: tuple[str, ...] = field(default=())
    calm_vol: float = CALM_VOL
    turnover: float = TURNOVER

    def describe(self) -> str:
        rates = ", ".join(f"{c.name} ({c.describe()}) {self.per_year.get(c.name, 0.0):,.1f}/yr"
                          for c in self.classes)
        return (f"{rates}, calm volatility {self.calm_vol:.0%}, calm turnover "
                f"{self.turnover:,.0f}/yr (volume ÷ open interest); source: {self.source}")

    def as_dict(self) -> dict:
        return {"per_year": dict(self.per_year), "calm_vol": self.calm_vol,
                "turnover_per_year": self.turnover,
                "source": self.source, "classes": {c.name: c.describe() for c in self.classes},
                "notes": list(self.notes)}


#: The years the shipped crash days were picked from: each is among the sharpest ETH
#: sell-offs of 2020-2024 (Black Thursday 2020-03-12, 2020-09-05, 2021-01-21 and the
#: 2024-08-05 carry-trade unwind).
HISTORY_YEARS = 5.0


def historical_calendar(classes: tuple[EventClass, ...] = DEFAULT_CLASSES,
                        ceiling: bool = False) -> Calendar:
    """Events per year counted in every shipped historical series.

    The shipped series are crash days picked from the five years 2020-2024 (2020-03-12,
    2020-09-05, 2021-01-21, 2024-08-05 from two exchanges, counted once each). By default
    their events are spread over those five years: a *floor* on a real year's rate, since
    other days of those years had fast moves too, but the right order of magnitude for
    the large class, whose moves cluster on such days. ``ceiling`` instead counts per day
    of data × 365, as if every day were a crash day: a stress ceiling no year reaches.
    Each series is put on a 1-minute grid (linear between closes, as a replay does).
    """
    counts, days, dates = _shipped_event_counts(classes)
    per_year = {k: v / (days / YEAR_DAYS if ceiling else HISTORY_YEARS)
                for k, v in counts.items()}
    if ceiling:
        source = (f"shipped historical series ({len(dates)} crash days, as if every day "
                  "were one: a ceiling)")
    else:
        source = (f"shipped historical series ({len(dates)} crash days of 2020-2024 over "
                  f"{HISTORY_YEARS:g} years: a floor)")
    other = "the ceiling (historical-ceiling)" if not ceiling else "the floor (historical)"
    return Calendar(per_year, source, classes,
                    ("the shipped series are stress days only; " + other + " bounds the "
                     "rate from the other side; supply a desk's own count with "
                     "--calendar CLASS=EVENTS_PER_YEAR,…",))


def _shipped_event_counts(classes: tuple[EventClass, ...]
                          ) -> tuple[dict[str, int], float, set[str]]:
    """Events of each class in the shipped series, the days of data, and the dates."""
    from seqlab.market.historical import BUILTIN_SERIES, load_bars, price_at, resolve_series

    counts = {c.name: 0 for c in classes}
    days = 0.0
    seen_dates: set[str] = set()
    for name in BUILTIN_SERIES:
        date = name.split("-", 1)[1][:10]
        if date in seen_dates:  # one exchange per day: the same day twice is not two days
            continue
        seen_dates.add(date)
        bars = load_bars(resolve_series(name))
        t = np.arange(int(bars.start_us[0]), int(bars.end_us[-1]) + 1, MINUTE, dtype=np.int64)
        found = find_events(t, price_at(bars, t), classes)
        for k, v in found.counts().items():
            counts[k] += v
        days += (t[-1] - t[0]) / DAY
    return counts, days, seen_dates


def parse_calendar(text: str | None,
                   classes: tuple[EventClass, ...] = DEFAULT_CLASSES) -> Calendar:
    """``None`` or ``"historical"``: :func:`historical_calendar` (its floor);
    ``"historical-ceiling"``: its ceiling; otherwise
    ``"large=4,moderate=40"`` (events per year of each class; a class left out has 0).
    Either may add ``calm_vol=0.6`` (the calm market's annualised volatility) and
    ``turnover=730`` (a year's traded notional per dollar of open interest)."""
    parts = [p for p in (text or "").split(",") if p.strip()]
    settings = [p for p in parts if p.partition("=")[0].strip() in _SETTINGS]
    rest = [p for p in parts if p not in settings]
    names = {c.name for c in classes}
    allowed = ("historical, historical-ceiling, or CLASS=EVENTS_PER_YEAR,… with CLASS in "
               + ", ".join(c.name for c in classes) + "; optionally calm_vol=VOLATILITY "
               f"(above 0) and turnover=VOLUME_PER_OPEN_INTEREST_PER_YEAR (0 to "
               f"{TURNOVER_MAX:,.0f})")
    values = {"calm_vol": CALM_VOL, "turnover": TURNOVER}
    for part in settings:
        key = part.partition("=")[0].strip()
        values[key] = _number(part, allowed)
        if not _SETTINGS[key](values[key]):
            raise SeqlabError(f"'{part.strip()}' is out of bounds", field="--calendar",
                              allowed=allowed)
    if not rest or [p.strip() for p in rest] in (["historical"], ["historical-ceiling"]):
        ceiling = [p.strip() for p in rest] == ["historical-ceiling"]
        return replace(historical_calendar(classes, ceiling), **values)
    per_year = {c.name: 0.0 for c in classes}
    for part in rest:
        key = part.partition("=")[0].strip()
        if key not in names:
            raise SeqlabError(f"'{part.strip()}' is not CLASS=EVENTS_PER_YEAR",
                              field="--calendar", allowed=allowed)
        per_year[key] = _number(part, allowed)
    return Calendar(per_year, "user-supplied", classes, **values)


#: The calendar's settings besides the classes, and the values each allows.
_SETTINGS = {"calm_vol": lambda v: v > 0, "turnover": lambda v: 0 <= v <= TURNOVER_MAX}


def _number(part: str, allowed: str) -> float:
    """The non-negative number after ``=`` in ``part``."""
    _, eq, value = part.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not eq or not math.isfinite(number) or number < 0:
        raise SeqlabError(f"'{part.strip()}' is not NAME=NUMBER", field="--calendar",
                          allowed=allowed)
    return number

