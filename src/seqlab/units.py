"""Time and money units.

Time is an integer number of microseconds everywhere; money inside the ledger is an
integer number of micro-USD. These helpers are the only place strings like ``"250ms"``
or ``"6h"`` become integers, so every part of seqlab agrees on the conversion.
"""
from __future__ import annotations

import re

US = 1
MS = 1_000
S = 1_000_000
MINUTE = 60 * S
HOUR = 60 * MINUTE
DAY = 24 * HOUR

MAX_DURATION_US = 100 * 365 * DAY  # anything longer is a typo (and overflows int64 soon)
MICRO_USD = 1_000_000  # micro-USD per USD

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|min|h|d)\s*$")
_UNIT_US = {"us": US, "µs": US, "ms": MS, "s": S, "m": MINUTE, "min": MINUTE, "h": HOUR,
            "d": DAY}


def parse_duration(value: str | int | float) -> int:
    """Parse ``"250ms"``, ``"1.5s"``, ``"6h"`` (or a number of seconds) into microseconds.

    Raises ``ValueError`` with the allowed forms, which the scenario schema turns into a
    field-level error.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '250ms', '10s', '6h'")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration must not be negative")
        us = float(value) * S
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{str(value)!r} is not a duration (allowed units: us, ms, s, "
                             "min, h, d; e.g. '250ms', '6h')")
        us = float(m.group(1)) * _UNIT_US[m.group(2)]
    if not us <= MAX_DURATION_US:  # also catches nan and inf
        raise ValueError(f"{value!r} is not a finite duration of at most 100 years")
    return int(round(us))


def format_duration(us: int | float) -> str:
    """Human form of a microsecond count, e.g. ``250ms`` or ``1.5h``."""
    us = float(us)
    for unit, size in (("d", DAY), ("h", HOUR), ("min", MINUTE), ("s", S), ("ms", MS)):
        if abs(us) >= size:
            return f"{us / size:.4g}{unit}"
    return f"{us:.4g}us"



def ceil_to(t_us, step_us: int):
    """The first multiple of ``step_us`` at or after ``t_us`` (scalar or array): when
    something sent at ``t_us`` is taken by a process that runs every ``step_us``, such as
    an L1 transaction by the next L1 block."""
    return -(-t_us // step_us) * step_us
