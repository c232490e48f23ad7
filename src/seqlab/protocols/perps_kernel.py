"""Compiled execution of a block's plain trades, closes and reduces.

Trades are most of a perps block, and in Python each costs a dozen small calls (plan,
fill, exposure, resize, settlement, fee split, ledger transfers). ``run_trades`` does
the same integer arithmetic in compiled code over a run of consecutive ``TRADE``,
``CLOSE`` and ``REDUCE`` transactions and stops at the first it must not decide itself,
so the protocol's Python handler runs that one exactly as before:

- another kind (an oracle update, a top-up, a liquidation, an attached protocol's);
- a product that does not fit in 64 bits (Python's integers do not overflow; here every
  product is checked first, and a trade of such size is left to Python);
- a loss beyond the account's margin (bad debt: its bearer is decided in Python).

Every effect is the Python handlers' own, in the same order: the state arrays are
updated in place, the ledger transfers and the accounts touched are written to output
arrays that the protocol appends to its journal and margin view, and fill prices go
straight to the transaction store's column. ``PerpsProtocol`` uses the kernel only when
nothing wraps or locks those handlers (no price rule, no Dutch auction locks); under
batch clearing it fills at the clearing price the protocol worked out.
``tests/test_perps_kernel`` checks it against the Python handlers on random blocks.
"""
from __future__ import annotations

import numpy as np
from numba import njit

PPM = 1_000_000
_MAX = np.iinfo(np.int64).max
# ``state`` slots (int64): market scalars in, the changed ones written back
PRICE, SKEW, HELD_LONG, HELD_SHORT, SCALE, FEE_PPM, FEE_TO_POOL_PPM, IM_PPM, OI_CAP, \
    POOL, FEES, SHORTFALL, HAS_BATCH, BATCH_PX, NROWS, NTOUCHED, UNCODED, CODES = range(18)
# the reasons of the journal rows the kernel writes, and from slot CODES on the ledger
# code of each as far as the kernel has learnt it (-1 before: a row then carries
# -1 - reason, counted in UNCODED, and Python asks the ledger)
PNL, FEE_TO_POOL, FEE = 0, 1, 2
REASONS = ("pnl", "fee_to_pool", "fee")
STATE_SLOTS = CODES + len(REASONS)
TRADE, CLOSE, REDUCE = 1, 2, 3
OK, FAILED = 1, 2
_BAIL = -1  # this transaction goes to Python


@njit(cache=True)
def _fits(x: int, y: int) -> bool:
    """Whether ``x * y`` fits in 64 bits (checked before it is computed)."""
    if x == 0 or y == 0:
        return True
    return abs(x) <= _MAX // abs(y)


_M32 = np.uint64(0xFFFFFFFF)
_ONE, _ZERO = np.uint64(1), np.uint64(0)
_SHIFT = np.uint64(32)


@njit(cache=True)
def _product128(x: np.uint64, y: np.uint64) -> tuple[np.uint64, np.uint64]:
    """``x * y`` as 128 bits (high, low), from 32-bit halves."""
    x_lo, x_hi, y_lo, y_hi = x & _M32, x >> _SHIFT, y & _M32, y >> _SHIFT
    p0, p1, p2, p3 = x_lo * y_lo, x_lo * y_hi, x_hi * y_lo, x_hi * y_hi
    mid = (p0 >> _SHIFT) + (p1 & _M32) + (p2 & _M32)
    return p3 + (p1 >> _SHIFT) + (p2 >> _SHIFT) + (mid >> _SHIFT), \
        (p0 & _M32) | ((mid & _M32) << _SHIFT)


_B = np.uint64(1) << _SHIFT  # the base of the two-digit division below


@njit(cache=True)
def _leading_zeros(x: np.uint64) -> np.uint64:
    """How many leading zero bits ``x`` (not 0) has, by halving steps."""
    n = _ZERO
    for step, top in ((32, 0xFFFFFFFF), (16, 0xFFFFFFFFFFFF), (8, 0xFFFFFFFFFFFFFF),
                      (4, 0xFFFFFFFFFFFFFFF), (2, 0x3FFFFFFFFFFFFFFF),
                      (1, 0x7FFFFFFFFFFFFFFF)):
        if x <= np.uint64(top):
            n += np.uint64(step)
            x <<= np.uint64(step)
    return n


@njit(cache=True)
def _quotient_digit(high: np.uint64, low: np.uint64, v1: np.uint64, v0: np.uint64
                    ) -> np.uint64:
    """One base-2**32 digit of the quotient: ``(high·2**32 + low) // (v1·2**32 + v0)``
    estimated from the divisor's top digit and corrected down (at most twice, the
    divisor being normalised; Knuth's algorithm D)."""
    q = high // v1
    rhat = high - q * v1
    while q >= _B or q * v0 > _B * rhat + low:
        q -= _ONE
        rhat += v1
        if rhat >= _B:
            break
    return q


@njit(cache=True)
def _divide128(hi: np.uint64, lo: np.uint64, z: np.uint64) -> tuple[np.uint64, np.uint64]:
    """``(hi·2**64 + lo) // z`` and the remainder, for ``hi < z`` (so the quotient fits
    in 64 bits): two base-2**32 digits after shifting ``z``'s top bit up (Knuth's
    algorithm D as in Hacker's Delight's ``divlu``), in wrapping 64-bit arithmetic."""
    s = _leading_zeros(z)
    v = z << s
    v1, v0 = v >> _SHIFT, v & _M32
    # no shift only for a divisor of 2**63 or more (none of _muldiv's): a 64-bit shift
    # of ``lo`` would be undefined
    top = (hi << s) | (lo >> (np.uint64(64) - s)) if s != _ZERO else hi
    shifted = lo << s
    u1, u0 = shifted >> _SHIFT, shifted & _M32
    q1 = _quotient_digit(top, u1, v1, v0)
    rest = top * _B + u1 - q1 * v  # below v: wraps to the right value
    q0 = _quotient_digit(rest, u0, v1, v0)
    return q1 * _B + q0, (rest * _B + u0 - q0 * v) >> s


@njit(cache=True)
def _muldiv(x: int, y: int, z: int) -> tuple[bool, int]:
    """``x * y // z`` exactly, with Python's floor, and whether the result fits in 64
    bits. Where ``x * y`` itself does not (a cost basis times the units closed, open
    interest times a price) the product is formed in 128 bits."""
    if _fits(x, y):
        return True, x * y // z
    negative = ((x < 0) ^ (y < 0)) ^ (z < 0)
    hi, lo = _product128(np.uint64(abs(x)), np.uint64(abs(y)))
    divisor = np.uint64(abs(z))
    if hi >= divisor:  # a quotient of 2**64 or more
        return False, 0
    q_lo, rem = _divide128(hi, lo, divisor)
    if q_lo >= np.uint64(_MAX):
        return False, 0
    q = np.int64(q_lo)
    if negative:
        return True, -q - (1 if rem != _ZERO else 0)
    return True, q


@njit(cache=True)
def _toward_zero(num: int, den: int) -> int:
    q = abs(num) // abs(den)
    return q if (num >= 0) == (den > 0) else -q


@njit(cache=True)
def _fill(state: np.ndarray, delta: int) -> int:
    """The fill price of ``delta`` units (the Python ``_fill``: the batch's clearing
    price where one is set); -1 where the product does not fit."""
    if state[HAS_BATCH]:
        return state[BATCH_PX]
    price, scale = state[PRICE], state[SCALE]
    if scale == 0:
        return price
    fits, premium = _muldiv(price, 2 * state[SKEW] + delta, 2 * scale)
    return price + premium if fits else -1


@njit(cache=True)
def _plan_trade(i: int, usd_delta: int, limit: int, size: np.ndarray, basis: np.ndarray,
                margin_bal: int, state: np.ndarray, plan: np.ndarray) -> int:
    """The Python ``_plan_trade`` into ``plan`` (delta, close, opened, px, fee, closed
    basis, pnl): OK, FAILED (the trade fails, nothing changes) or _BAIL."""
    price = state[PRICE]
    if price == 0 or usd_delta == 0:
        return FAILED
    if not _fits(usd_delta, PPM):
        return _BAIL
    delta = _toward_zero(usd_delta * PPM, price)
    if delta == 0:
        return FAILED
    px = _fill(state, delta)
    if px < 0:
        return _BAIL
    if limit != 0 and (px > limit if delta > 0 else px < limit):
        return FAILED
    s, bs = size[i], basis[i]
    close = 0
    if s != 0 and (delta > 0) != (s > 0):
        close = s if abs(delta) >= abs(s) else -delta
    opened = delta + close
    ok1, notional = _muldiv(abs(delta), price, PPM)
    ok2, fee = _muldiv(notional, state[FEE_PPM], PPM)
    ok3, closed_basis = _muldiv(bs, close, s) if close != 0 and close != s else \
        (True, bs if close != 0 else 0)
    ok4, closed_value = _muldiv(close, px, PPM)
    if not (ok1 and ok2 and ok3 and ok4):
        return _BAIL
    pnl = closed_value - closed_basis
    if opened != 0:
        new_size = s - close + opened
        if state[OI_CAP] != 0:
            side_long = new_size > 0
            held = state[HELD_LONG] if side_long else state[HELD_SHORT]
            mine = max(s, 0) if side_long else max(-s, 0)
            oi = held - mine + (new_size if side_long else -new_size)
            fits, oi_value = _muldiv(oi, price, PPM)
            if not fits:
                return _BAIL
            if oi_value > state[OI_CAP]:
                return FAILED
        ok1, opened_value = _muldiv(opened, px, PPM)
        ok2, size_value = _muldiv(new_size, price, PPM)
        ok3, notional_after = _muldiv(abs(new_size), price, PPM)
        if not (ok1 and ok2 and ok3):
            return _BAIL
        new_basis = bs - closed_basis + opened_value
        margin_after = margin_bal + pnl - fee
        equity = margin_after + size_value - new_basis
        if not (_fits(equity, PPM) and _fits(state[IM_PPM], notional_after)):
            return _BAIL
        if margin_after < 0 or equity * PPM < state[IM_PPM] * notional_after:
            return FAILED
    plan[0], plan[1], plan[2], plan[3] = delta, close, opened, px
    plan[4], plan[5], plan[6] = fee, closed_basis, pnl
    return OK


@njit(cache=True)
def _plan_close(i: int, close: int, size: np.ndarray, basis: np.ndarray, state: np.ndarray,
                plan: np.ndarray) -> int:
    """Closing ``close`` units of account ``i`` at its fill (``_close``/``_reduce``):
    ``plan`` as ``_plan_trade`` writes it; OK or _BAIL."""
    price = state[PRICE]
    px = _fill(state, -close)
    if px < 0:
        return _BAIL
    s, bs = size[i], basis[i]
    ok1, closed_basis = (True, bs) if close == s else _muldiv(bs, close, s)
    ok2, closed_value = _muldiv(close, px, PPM)
    ok3, notional = _muldiv(abs(close), price, PPM)
    ok4, fee = _muldiv(notional, state[FEE_PPM], PPM)
    if not (ok1 and ok2 and ok3 and ok4):
        return _BAIL
    plan[0], plan[1], plan[2], plan[3] = -close, close, 0, px
    plan[4], plan[5], plan[6] = fee, closed_basis, closed_value - closed_basis
    return OK


@njit(cache=True)
def _row(rows: np.ndarray, n: int, src: int, dst: int, amount: int, reason: int,
         balances: np.ndarray, state: np.ndarray) -> int:
    """One ledger transfer (none for a zero amount, as ``Ledger.transfer``), journalled
    with its reason's ledger code (``-1 - reason`` while the ledger has given none)."""
    if amount == 0:
        return n
    balances[src] -= amount
    balances[dst] += amount
    code = state[CODES + reason]
    rows[n, 0], rows[n, 1], rows[n, 2] = src, dst, amount
    if code < 0:
        code = -1 - reason
        state[UNCODED] += 1
    rows[n, 3] = code
    return n + 1


@njit(cache=True)
def run_trades(ids: np.ndarray, kinds: np.ndarray, senders: np.ndarray, a: np.ndarray,
               b: np.ndarray, fill_of: np.ndarray, start: int, size: np.ndarray,
               basis: np.ndarray, traded: np.ndarray, exposure: np.ndarray,
               price_time_at: np.ndarray, price_time: float, balances: np.ndarray,
               margin_of: np.ndarray, state: np.ndarray, status: np.ndarray,
               rows: np.ndarray, touched: np.ndarray) -> int:
    """Execute the transactions ``ids[start:]`` while the kernel may; return the index
    of the first it leaves to Python (``len(ids)``: none).

    ``kinds``, ``senders``, ``a``, ``b`` and ``fill_of`` are the store's columns, indexed
    by transaction id: a filled trade's price goes to ``fill_of``. ``status`` gets each
    handled transaction's status; ``rows``/``touched`` get the ledger transfers and
    touched accounts, counted in ``state[NROWS]``/``state[NTOUCHED]``, and what the
    pool could not pay goes to ``state[SHORTFALL]``."""
    plan = np.zeros(7, np.int64)
    nrows, ntouched = 0, 0
    state[SHORTFALL] = state[UNCODED] = 0
    pool, fees = state[POOL], state[FEES]
    n = start
    while n < len(ids):
        tx = ids[n]
        kind, i = kinds[tx], senders[tx]
        if kind != TRADE and kind != CLOSE and kind != REDUCE:
            break
        m = margin_of[i]
        if state[PRICE] == 0:
            verdict = FAILED
        elif kind == TRADE:
            verdict = _plan_trade(i, a[tx], b[tx], size, basis, balances[m], state, plan)
        elif kind == CLOSE:
            verdict = FAILED if size[i] == 0 else \
                _plan_close(i, size[i], size, basis, state, plan)
        else:
            bps = a[tx]
            if not 0 < bps <= 10_000:
                verdict = FAILED
            elif not _fits(size[i], bps):
                verdict = _BAIL
            else:
                close = _toward_zero(size[i] * bps, 10_000)
                verdict = FAILED if close == 0 else \
                    _plan_close(i, close, size, basis, state, plan)
        if verdict == _BAIL:
            break
        if verdict == FAILED:
            status[n] = FAILED
            n += 1
            continue
        delta, close, opened, px = plan[0], plan[1], plan[2], plan[3]
        fee, closed_basis, pnl = plan[4], plan[5], plan[6]
        if close != 0 and pnl < 0 and -pnl > balances[m]:
            break  # a loss beyond the margin: bad debt, decided in Python
        notional = _muldiv(abs(delta), state[PRICE], PPM)[1]  # the plan's, which fit
        if kind == TRADE:
            traded[i] += notional
        # the exposure up to now, then the new size and basis (one change)
        s = size[i]
        if s != 0:
            side = 0 if s > 0 else 1
            exposure[side, i] += abs(s) * (price_time - price_time_at[i])
        price_time_at[i] = price_time
        new_size = s - close + opened
        size[i] = new_size
        if s > 0:
            state[HELD_LONG] -= s
        elif s < 0:
            state[HELD_SHORT] += s
        if new_size > 0:
            state[HELD_LONG] += new_size
        elif new_size < 0:
            state[HELD_SHORT] -= new_size
        basis[i] = basis[i] - closed_basis + _muldiv(opened, px, PPM)[1]
        state[SKEW] += opened - close
        if kind != TRADE:
            traded[i] += notional
        if close != 0:  # the closed part's PnL against the pool
            touched[ntouched] = i
            ntouched += 1
            if pnl >= 0:
                paid = min(pnl, balances[pool])
                nrows = _row(rows, nrows, pool, m, paid, PNL, balances, state)
                state[SHORTFALL] += pnl - paid
            else:
                nrows = _row(rows, nrows, m, pool, -pnl, PNL, balances, state)
        # the fee, as far as the margin goes, split between the pool and the protocol
        touched[ntouched] = i
        ntouched += 1
        paid = min(fee, balances[m])
        to_pool = paid * state[FEE_TO_POOL_PPM] // PPM
        nrows = _row(rows, nrows, m, pool, to_pool, FEE_TO_POOL, balances, state)
        nrows = _row(rows, nrows, m, fees, paid - to_pool, FEE, balances, state)
        status[n], fill_of[tx] = OK, px
        n += 1
    state[NROWS], state[NTOUCHED] = nrows, ntouched
    return n


class CompiledTrades:
    """The protocol's side of ``run_trades``: its scalars in and out, reusable buffers,
    and the kernel's journal rows, touched accounts and pool shortfall handed to the
    ledger, the margin view and the log."""

    def __init__(self) -> None:
        self.state = np.zeros(STATE_SLOTS, np.int64)
        self.state[CODES:] = -1
        self.rows = np.zeros((64, 4), np.int64)
        self.touched = np.zeros(64, np.int64)
        self._market = None  # the market whose fixed parameters ``state`` holds

    def _bind(self, p) -> None:
        """The market's parameters that a run does not change, written once."""
        state = self.state
        state[SCALE], state[FEE_PPM] = p.scale_units, p.fee_ppm
        state[FEE_TO_POOL_PPM], state[IM_PPM] = p.fee_to_pool_ppm, p.im_ppm
        state[OI_CAP], state[POOL], state[FEES] = p.oi_cap, p.pool, p.fees
        self._market = p

    def _code_rows(self, ledger, rows: np.ndarray) -> None:
        """Code the rows whose reason the kernel had no code for: the ledger's, given at
        the reason's first use in row order if no transfer has used it yet (as
        ``Ledger.transfer`` gives it); the kernel writes it itself from then on."""
        for k in np.flatnonzero(rows[:, 3] < 0).tolist():
            reason = -1 - int(rows[k, 3])
            rows[k, 3] = self.state[CODES + reason] = ledger.reason(REASONS[reason])

    def run(self, p, ids: np.ndarray, start: int, status: np.ndarray) -> int:
        """Execute ``ids[start:]`` on market ``p`` (a ``PerpsProtocol``); return where
        Python takes over."""
        if not self.load(p, len(ids) - start):
            return start
        txs = p.txs
        end = run_trades(ids, txs.kind, txs.sender, txs.a, txs.b, txs.fill, start, p.size,
                         p.basis, p.traded, p.exposure, p._price_time_at, p._price_time,
                         p.ledger.balances, p.margin, self.state, status, self.rows,
                         self.touched)
        self.store(p)
        return end

    def load(self, p, room: int) -> bool:
        """Ready ``state`` and the buffers for ``room`` transactions on market ``p``;
        False where its batch clearing price does not fit in 64 bits (Python's
        integers then run the block)."""
        batch_px = p._batch_px
        if batch_px is not None and not 0 <= batch_px <= _MAX:
            return False
        if len(self.touched) < 2 * room:  # at most two touches and three rows a trade
            self.rows = np.zeros((3 * room, 4), np.int64)
            self.touched = np.zeros(2 * room, np.int64)
        if p is not self._market:
            self._bind(p)
        state, held = self.state, p._held
        state[PRICE], state[SKEW] = p.price, p.skew
        state[HELD_LONG], state[HELD_SHORT] = held[1], held[-1]
        if batch_px is None:
            state[HAS_BATCH] = 0
        else:
            state[HAS_BATCH], state[BATCH_PX] = 1, batch_px
        return True

    def store(self, p, touch: bool = True) -> None:
        """Hand what the kernel did to market ``p``: its scalars, the pool's shortfall,
        the journal rows and (``touch``) the touched accounts to the margin view."""
        state, held, ledger = self.state, p._held, p.ledger
        p.skew = state.item(SKEW)
        held[1], held[-1] = state.item(HELD_LONG), state.item(HELD_SHORT)
        shortfall = state.item(SHORTFALL)
        if shortfall:
            p.log.pool_shortfall += shortfall
        rows, touched = state.item(NROWS), state.item(NTOUCHED)
        if rows:
            if state.item(UNCODED):
                self._code_rows(ledger, self.rows[:rows])
            ledger.record(self.rows[:rows])
        if touch and touched:
            p.margin_view.touch_many(self.touched[:touched])
