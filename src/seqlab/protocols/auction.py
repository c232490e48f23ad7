"""MakerDAO Liquidations 2.0 Dutch auction maths (the Clipper and its Abacus curves).

Pure functions and a small state object, in seqlab's integer units: prices and money in
micro-USD, time in microseconds, lots in integer position units. Nothing here touches a
ledger; the caller moves the value that :meth:`Auction.take` and :func:`keeper_incentive`
compute.

Clipper vocabulary: ``lot`` collateral for sale, ``tab`` debt to raise, ``top`` start
price (oracle × ``buf``), ``tic`` start time (``start_us`` here); an auction older than
``tail`` or whose price fell below ``cusp`` × top needs a reset (``redo``); whoever kicks
or redoes is paid ``tip + tab × chip``; ``dust`` forbids leaving a tiny tab behind.

Rounding. The Clipper works in 18/27-decimal fixed point where rounding is invisible; in
integer micro-units it is not, so every rule below rounds one documented way:

- linear curve: exact integer floor;
- exponential curves: the power is a float (Python's ``float.__pow__``, i.e. libm), then
  ``floor`` of the *exact* product of ``top`` and that float — one float rounding only.
  numpy's ``power`` is not used: on AVX-512 machines it dispatches to SIMD kernels that
  differ from libm in the last bit, which would make prices (and run digests) depend on
  the CPU. Arrays are evaluated once per distinct exponent;
- a take never charges more than ``price`` per unit (``owe`` is floored, and when a take
  is cut to the tab its lot is rounded *up*), so ``max_price`` is always honoured;
- fractions (``buf``, ``cusp``, ``chip``) are read as exact decimals (``0.4`` is 2/5),
  so ``price / top == cusp`` really is "at the boundary", as with the Clipper's RAY cusp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

import numpy as np

S_US = 1_000_000  # microseconds per second

Ratio = int | float | str | Fraction | Decimal


def exact_ratio(x: Ratio) -> Fraction:
    """A fraction parameter as an exact rational, reading floats by their decimal form,
    so that ``cusp=0.4`` compares like the Clipper's ``0.4 × RAY`` rather than like the
    binary float just above 0.4."""
    if isinstance(x, bool):
        raise TypeError("expected a number, not a bool")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            raise ValueError(f"{x!r} is not finite")
        return Fraction(str(float(x)))
    return Fraction(x)  # Decimal or str


def _check_dt(dt_us):
    """Integer, non-negative elapsed times (the Clipper's ``now - tic``)."""
    if isinstance(dt_us, np.ndarray) and dt_us.ndim == 0:
        dt_us = dt_us[()]
    if np.ndim(dt_us) == 0:
        if isinstance(dt_us, bool) or not isinstance(dt_us, (int, np.integer)):
            raise TypeError(f"dt_us must be an integer number of microseconds, "
                            f"got {type(dt_us).__name__}")
        if dt_us < 0:
            raise ValueError("dt_us must not be negative (now is before the auction start)")
        return int(dt_us)
    arr = np.asarray(dt_us)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"dt_us must be an integer array, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError("dt_us must not be negative (now is before the auction start)")
    return arr.astype(np.int64, copy=False)


def _check_top(top: int) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)):
        raise TypeError("top must be an integer price in micro-USD")
    if top < 0:
        raise ValueError("top must not be negative")
    return int(top)


def _floor_times(top: int, p: float) -> int:
    """``floor(top × p)`` computed exactly (``p`` is a binary fraction), clamped to
    ``[0, top]``: one rounding (the power's), monotone in ``p``."""
    num, den = p.as_integer_ratio()
    return max(0, min(top, top * num // den))


def _per_exponent(top: int, x, power) -> int | np.ndarray:
    """Apply ``floor(top × power(e))`` to a scalar or, once per distinct value, to an
    array of exponents ``x``."""
    if np.ndim(x) == 0:
        return _floor_times(top, power(x))
    values, inverse = np.unique(x, return_inverse=True)
    table = np.array([_floor_times(top, power(v)) for v in values.tolist()],
                     dtype=np.int64)
    return table[inverse].reshape(np.shape(x))


class PriceCurve(Protocol):
    """An Abacus: the auction price ``dt_us`` after the start, from the start price."""

    def price(self, top: int, dt_us: int | np.ndarray) -> int | np.ndarray: ...


@dataclass(frozen=True)
class LinearDecrease:
    """Abacus ``LinearDecrease``: from ``top`` straight down to 0 over ``tau_us``, then 0.
    Exact integer floor of ``top · (tau − t) / tau``."""

    tau_us: int

    def __post_init__(self) -> None:
        if isinstance(self.tau_us, bool) or not isinstance(self.tau_us, (int, np.integer)) \
                or self.tau_us <= 0:
            raise ValueError("tau_us must be a positive integer number of microseconds")

    def price(self, top: int, dt_us: int | np.ndarray) -> int | np.ndarray:
        top, dt, tau = _check_top(top), _check_dt(dt_us), int(self.tau_us)
        if isinstance(dt, int):
            return top * max(tau - dt, 0) // tau
        left = np.maximum(tau - dt, 0)  # ≤ tau, so top·left ≤ top·tau
        if top * tau < 2**63:
            return top * left // tau
        # would overflow int64: the same formula on Python integers
        return (top * left.astype(object) // tau).astype(np.int64)


@dataclass(frozen=True)
class StairstepExponentialDecrease:
    """Abacus ``StairstepExponentialDecrease``: the price is multiplied by ``cut`` every
    ``step_us`` (``top · cut^floor(t / step)``), floored. With ``step_us = 1 s`` this is
    also the Clipper's own ``ExponentialDecrease``, which only sees whole seconds."""

    cut: float
    step_us: int

    def __post_init__(self) -> None:
        if not 0.0 < float(self.cut) <= 1.0:
            raise ValueError("cut must be in (0, 1]")
        if isinstance(self.step_us, bool) or not isinstance(self.step_us, (int, np.integer)) \
                or self.step_us <= 0:
            raise ValueError("step_us must be a positive integer number of microseconds")

    def price(self, top: int, dt_us: int | np.ndarray) -> int | np.ndarray:
        top, dt = _check_top(top), _check_dt(dt_us)
        cut = float(self.cut)
        return _per_exponent(top, dt // int(self.step_us), lambda n: cut ** int(n))


@dataclass(frozen=True)
class ExponentialDecrease:
    """Continuous exponential decay, ``top · cut_per_second^(t / 1 s)``, floored: the
    Clipper's ``ExponentialDecrease`` at microsecond rather than whole-second resolution.
    The exponent is ``dt_us / 1e6`` as a float (a correctly rounded, monotone division)."""

    cut_per_second: float

    def __post_init__(self) -> None:
        if not 0.0 < float(self.cut_per_second) <= 1.0:
            raise ValueError("cut_per_second must be in (0, 1]")

    def price(self, top: int, dt_us: int | np.ndarray) -> int | np.ndarray:
        top, dt = _check_top(top), _check_dt(dt_us)
        cut = float(self.cut_per_second)
        return _per_exponent(top, dt, lambda t: cut ** (int(t) / S_US))


def keeper_incentive(tab: int, tip: int, chip: Ratio) -> int:
    """The Clipper's keeper reward for a kick or a redo, ``tip + tab × chip`` (flat ``tip``
    in micro-USD plus a ``chip`` share of the ``tab``), floored to micro-USD — it pays
    keepers to start and restart auctions that would otherwise sit idle."""
    if tab < 0 or tip < 0:
        raise ValueError("tab and tip must not be negative")
    share = exact_ratio(chip)
    if share < 0:
        raise ValueError("chip must not be negative")
    return int(tip) + math.floor(int(tab) * share)


@dataclass
class Auction:
    """One Clipper sale: ``lot`` position units auctioned to raise ``tab`` micro-USD,
    priced by a curve from ``top`` since ``start_us`` (the Clipper's ``tic``).

    :meth:`take` mutates ``lot`` and ``tab``; the auction is over (:attr:`done`) when
    either reaches 0. If the tab is covered first, the rest of the lot goes back to the
    account; if the lot runs out first, the rest of the tab is bad debt — both are the
    caller's to book, as the Clipper leaves them to the Vat and the Vow.
    """

    id: int
    account: int
    lot: int
    tab: int
    top: int
    start_us: int

    @classmethod
    def kick(cls, id: int, account: int, lot: int, tab: int, now: int, oracle_price: int,
             buf: Ratio) -> "Auction":
        """Start an auction as ``Clipper.kick`` does: ``top = oracle × buf``, ``tic = now``."""
        if lot <= 0 or tab <= 0:
            raise ValueError("an auction needs a positive lot and tab")
        a = cls(id=id, account=account, lot=int(lot), tab=int(tab), top=0, start_us=int(now))
        a.redo(now, oracle_price, buf)
        if a.top <= 0:
            raise ValueError("oracle_price × buf must be positive")
        return a

    @property
    def done(self) -> bool:
        """Nothing left to sell or nothing left to raise."""
        return self.lot <= 0 or self.tab <= 0

    def redo(self, now: int, oracle_price: int, buf: Ratio) -> None:
        """Restart the price from the oracle (``Clipper.redo``): ``top = oracle × buf``
        (floored; ``buf`` > 1 starts above market so the auction cannot open too cheap),
        ``start = now``. The caller pays the keeper :func:`keeper_incentive`."""
        if oracle_price < 0:
            raise ValueError("oracle_price must not be negative")
        factor = exact_ratio(buf)
        if factor <= 0:
            raise ValueError("buf must be positive")
        self.top = math.floor(int(oracle_price) * factor)
        self.start_us = int(now)

    def price(self, now: int, curve: PriceCurve) -> int:
        """Current price: the curve ``now − start`` after the start."""
        return curve.price(self.top, int(now) - self.start_us)

    def needs_reset(self, now: int, curve: PriceCurve, tail_us: int | None,
                    cusp: Ratio) -> bool:
        """The Clipper's ``status`` rule: ``now − tic > tail`` or ``price / top < cusp``.

        ``tail`` bounds how stale the start price may get, ``cusp`` how far the price may
        fall below it; either way the auction must be redone from a fresh oracle price
        before anyone may take. Strict inequalities: ``now − tic == tail`` and
        ``price / top == cusp`` are still live. ``tail_us=None`` means no age limit. The
        ratio is compared exactly (Clipper: ``price·RAY / top < cusp`` with integer
        division, which is the same test for any cusp of at most 27 decimals). An auction
        with ``top == 0`` always needs a reset.
        """
        dt = int(now) - self.start_us
        if tail_us is not None and dt > tail_us:
            return True
        if self.top <= 0:
            return True
        return Fraction(self.price(now, curve), self.top) < exact_ratio(cusp)

    def take(self, now: int, max_lot: int, max_price: int, curve: PriceCurve, *,
             tail_us: int | None = None, cusp: Ratio = 0, dust: int = 0,
             unit: int = 1) -> tuple[int, int]:
        """Buy up to ``max_lot`` at the current price if it is ≤ ``max_price``
        (``Clipper.take``); returns ``(lot_taken, owe)`` and reduces ``lot`` and ``tab``.

        ``owe = lot_taken × price / unit`` (``unit``: lot units per priced unit, e.g.
        1_000_000 for micro-ETH lots priced per ETH), floored. Returns ``(0, 0)`` when the
        auction is done, needs a reset (``tail_us``/``cusp``), or the price is above
        ``max_price``.

        - Never owe more than the tab: as the Clipper's ``owe > tab`` branch, ``owe = tab``
          and the lot is cut to match — rounded up (``ceil(tab·unit / price)``), so the
          bidder never pays above ``price`` per unit.
        - ``dust`` (micro-USD; the Clipper's ``chost``): a partial take (not the whole lot,
          not the whole tab) may not leave ``0 < tab < dust``. It is shrunk to leave at
          least ``dust``; if the tab is already ≤ ``dust``, partial takes are refused
          (Clipper: "no-partial-purchase") and ``(0, 0)`` is returned.
        """
        if max_lot < 0 or max_price < 0 or dust < 0 or unit <= 0:
            raise ValueError("max_lot, max_price, dust must be ≥ 0 and unit > 0")
        if self.done or max_lot == 0:
            return 0, 0
        if self.needs_reset(now, curve, tail_us, cusp):
            return 0, 0
        price = int(self.price(now, curve))
        if price > max_price:
            return 0, 0
        lot, tab = self.lot, self.tab
        take = min(lot, int(max_lot))
        owe = take * price // unit
        if owe > tab:  # price > 0 here
            owe = tab
            take = min(take, -(-tab * unit // price))
        elif owe < tab and take < lot and tab - owe < dust:
            if tab <= dust or price == 0:
                return 0, 0
            take = (tab - dust) * unit // price
            owe = take * price // unit
            if take == 0:
                return 0, 0
        self.lot = lot - take
        self.tab = tab - owe
        return take, owe


__all__ = ["Auction", "ExponentialDecrease", "LinearDecrease", "PriceCurve",
           "StairstepExponentialDecrease", "exact_ratio", "keeper_incentive"]
