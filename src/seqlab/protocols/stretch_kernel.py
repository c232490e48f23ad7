"""A stretch of quiet perps blocks built first come, first served, with the pollers' and
the oracle watch's quiet looks between them, in one compiled call.

Between the moments someone acts, a run is a long stretch of blocks of plain trades
that leave nobody liquidatable and no manager due, and of bots' polls and oracle watches
that find nothing. ``run_stretch`` plays that stretch as the rollup's tick loop and the
kernel's event heap would, step for step:

- each tick delivers the bulk arrivals that reached the sequencer by then, in arrival
  order (the FCFS block, no block limit), where the design's ``FcfsRule`` says it
  builds that block (``_design_builds``: the delayed inbox gives it nothing, what it
  holds stays held, no trade it would wrap; an oracle update kept in place, or put
  first where the operator adds nothing to it), and runs the block as ``perps_quiet`` does
  (the trades, the margin view's refresh, the managers' look), writing each
  transaction's block, inclusion time and status; an oracle update in it is stored as
  a plain market stores one (``PerpsProtocol._store_price``: the accounts touched so
  far refreshed, every account at the new price, the newly liquidatable marked
  enabled, the update logged), and the managers then look at every account;
- after a tick, the next one follows at once unless an event is due by then
  (``Simulation.advance``); otherwise the tick is pushed with the next sequence number
  and events are popped in (time, sequence) order until it comes up, as the heap would;
- a poll finds nothing while every liquidatable account is under water (a bot's race
  then weighs rewards of 0 against a floor of at least 0, and the runner plays only
  where no protocol keeper liquidates regardless); a watch finds nothing while the
  reference price at that moment is within the feed's deviation of the on-chain price,
  or beyond it but an update there would make nobody liquidatable who is not already
  (``PerpsAgents.forecast``); either then schedules itself again, and each bot it
  looks at is checked against its downtime and loss limit as ``Liquidators.active``
  does (a bot past its loss limit stops there).

A block is quiet when afterwards every account flagged liquidatable is under water
(equity at most 0, exactly: nobody is paid to liquidate it) and every margin manager
due has an empty wallet (nobody can top up): the feed would send nothing. A stretch
starts only where that holds of every account (``PerpsStretch.ready``), so a block
need only test the accounts it touched (every account after a price move).

It stops, before touching it, at the first thing that needs Python: a block the design
builds its own way, or holding any other kind (or an update the market wraps in a price
rule, mark, auction or fallback),
a shared nonce, funding due, a transaction sent during the run arriving, the
force-inclusion window, an owner's patience running out, an event of another kind or
one that finds something; and after a block that leaves someone to act (or inside one
its trades kernel stops in, or that touched more accounts than a quiet refresh takes).
``perps_stretch.PerpsStretch`` hands the state over and back.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seqlab.agents.trigger_kernel import examine, examine_all
from seqlab.protocols.margin_kernel import account_margin, recompute
from seqlab.protocols.perps_kernel import CLOSE, NTOUCHED, OK, REDUCE, SHORTFALL, TRADE, \
    UNCODED, run_trades
from seqlab.protocols.perps_kernel import PRICE as PRICE_SLOT
from seqlab.protocols.perps_kernel import NROWS as KERNEL_ROWS
from seqlab.sequencing.fcfs_rule import NO_UPDATES, UPDATES_FIRST

# ``sc`` slots (int64): the first ``INPUTS`` are read in (some written back), the rest out
(NOW, HORIZON, BOT_HORIZON, BLOCK_TIME, NET_NEXT, FORCE_AT, LOWEST_BOUND, FUNDING_AT,
 PRICE, RECOURSE_DUE, FEW, MM_PPM, POS, SEQ, BEGUN, EXPOSURE_T, NEXT_BLOCK, COUNT, N_DUE,
 UNTIL, UPDATES, WRAP_LEAST, WRAP_SCALE, HOLD_FOR, INBOX_AT, INBOX_DELAY, INBOX_WHO,
 INPUTS) = range(28)
(OUTCOME, NBLOCKS, NROWS, NLOG, SHORTFALL_SUM, ANY_UNCODED, TICK_SEQ, LAST_TICK,
 BLOCK_START, BLOCK_END, KERNEL_END, LOUD_TOUCHED, LAST_LOGGED, NUPDATES, BLOCK_LOGS,
 SC_SLOTS) = range(INPUTS, INPUTS + 16)
ORACLE = 0  # ``Kind.ORACLE``
_TERM = 1 << 61  # ``PerpsProtocol.underwater``'s bound on each term of the sum
# ``fl`` slots (float64)
(PRICE_TIME, DEVIATION, TRIGGER, RATE, PRICE_USD, WRAP_FEES, HOLD_MARGIN, INBOX_MARGIN,
 STALE_MOVE, FL_SLOTS) = range(10)
# ``ev`` columns: one row per heap entry
EV_TIME, EV_SEQ, EV_TYPE, EV_BOT, EV_EVERY = range(5)
OTHER, POLL, WATCH, GONE = range(4)
# outcomes
BEFORE = 0   # stopped before producing the block at sc[NOW]
LOUD = 1     # the block at sc[NOW] ran and was published; its feed must see it
PARTIAL = 2  # the kernel stopped inside the block at sc[NOW]: Python runs the rest
PENDING = 3  # the tick after sc[LAST_TICK] is in the heap, behind an event for Python
END = 4      # the horizon: no tick follows
QUIET = 5    # (a block's own: it ran, was published, and needs nothing of Python)
_EXACT = 1 << 53  # integers a float64 holds exactly
_NO_OVERFLOW = ((1 << 63) - 1) // 1_000_000  # |amount| whose micro-units fit in int64
YEAR_US = 31_536e9
NOT_DUE = np.iinfo(np.int64).max


@njit(cache=True)
def at_one(t: np.ndarray, p: np.ndarray, x: float) -> float:
    """``ReferencePrice.at_one``: numpy's interpolation of one time, step by step."""
    j = np.searchsorted(t, x, side="right") - 1
    if j < 0:
        return p[0]
    if j >= len(t) - 1:
        return p[len(p) - 1]
    if t[j] == x:
        return p[j]
    slope = (p[j + 1] - p[j]) / (t[j + 1] - t[j])
    value = slope * (x - t[j]) + p[j]
    if value != value:
        value = slope * (x - t[j + 1]) + p[j + 1]
        if value != value and p[j] == p[j + 1]:
            value = p[j]
    return value


@njit(cache=True)
def _looks(j: int, t: int, stopped: np.ndarray, would_stop: np.ndarray,
           down_start: np.ndarray, down_end: np.ndarray, down_at: np.ndarray,
           commit: bool) -> bool:
    """``Liquidators.active(j, t)``: up and within its loss limit. ``commit``: a bot
    found past its limit stops (as the call does); otherwise nothing changes."""
    if stopped[j]:
        return False
    lo, hi = down_at[j], down_at[j + 1]
    k = lo + np.searchsorted(down_start[lo:hi], t, side="right") - 1
    if k >= lo and t < down_end[k]:
        return False
    if would_stop[j]:
        if commit:
            stopped[j] = True
        return False
    return True


@njit(cache=True)
def _newly_below(price_micro: int, mm_ppm: int, size: np.ndarray, basis: np.ndarray,
                 balances: np.ndarray, margin_of: np.ndarray, below: np.ndarray) -> bool:
    """Whether any account not flagged now would be below its maintenance margin at
    ``price_micro`` (``PerpsAgents.forecast``'s accounts coming: ``margin_arrays`` and
    ``below_maintenance``'s operations, account by account)."""
    price = price_micro / 1e6
    for i in range(len(size)):
        if not below[i] and account_margin(i, price, mm_ppm, balances, margin_of, size,
                                           basis)[2]:
            return True
    return False


@njit(cache=True)
def _quiet_event(m: int, ev: np.ndarray, watchers: np.ndarray, sc: np.ndarray,
                 fl: np.ndarray, stopped: np.ndarray, would_stop: np.ndarray,
                 down_start: np.ndarray, down_end: np.ndarray, down_at: np.ndarray,
                 ref_t: np.ndarray, ref_p: np.ndarray, size: np.ndarray,
                 basis: np.ndarray, balances: np.ndarray, margin_of: np.ndarray,
                 below: np.ndarray) -> bool:
    """Whether heap entry ``m`` finds nothing now; if so its bots' checks are made."""
    t, kind = ev[m, EV_TIME], ev[m, EV_TYPE]
    if kind == POLL:  # it scans if it looks, and finds nobody worth liquidating
        _looks(ev[m, EV_BOT], t, stopped, would_stop, down_start, down_end, down_at, True)
        return True
    if kind != WATCH:
        return False
    anyone = False
    for k in range(len(watchers)):
        if _looks(watchers[k], t, stopped, would_stop, down_start, down_end, down_at,
                  False):
            anyone = True
    price = sc[PRICE]
    if anyone and price != 0:
        ref = at_one(ref_t, ref_p, np.float64(t))
        if abs(ref * 1e6 - np.float64(price)) > fl[DEVIATION] * np.float64(price):
            # an update is expected at ``ref``: quiet unless it would flag anyone new
            coming = np.int64(np.rint(ref * 1e6))
            if coming != 0 and coming != price and _newly_below(
                    coming, sc[MM_PPM], size, basis, balances, margin_of, below):
                return False
    for k in range(len(watchers)):
        _looks(watchers[k], t, stopped, would_stop, down_start, down_end, down_at, True)
    return True


@njit(cache=True)
def under_water(i: int, price: int, size: np.ndarray, basis: np.ndarray,
                balances: np.ndarray, margin_of: np.ndarray) -> int:
    """``PerpsProtocol.underwater`` of account ``i``: 1 if its equity is at most 0,
    0 if not, -1 where a term is too large for int64 (Python's integers decide)."""
    size_i, bal, basis_i = size[i], balances[margin_of[i]], basis[i]
    if not (abs(size_i) <= _TERM // max(price, 1) and abs(bal) < _TERM
            and abs(basis_i) < _TERM and size_i > -_TERM and bal > -_TERM
            and basis_i > -_TERM):
        return -1
    return 1 if bal + size_i * price // 1_000_000 - basis_i <= 0 else 0


@njit(cache=True)
def _silent(changed: np.ndarray, below: np.ndarray, due: np.ndarray, wallet: np.ndarray,
            price: int, size: np.ndarray, basis: np.ndarray, balances: np.ndarray,
            margin_of: np.ndarray) -> bool:
    """Whether the feed has nothing to do with the accounts ``changed``: each flagged
    one under water, each due one with an empty wallet."""
    for k in range(len(changed)):
        i = changed[k]
        if below[i] and under_water(i, price, size, basis, balances, margin_of) != 1:
            return False
        if due[i] and balances[wallet[i]] > 0:
            return False
    return True


@njit(cache=True)
def _refresh(changed: np.ndarray, balances: np.ndarray, margin_of: np.ndarray,
             size: np.ndarray, basis: np.ndarray, equity: np.ndarray, notional: np.ndarray,
             below: np.ndarray, log: np.ndarray, sc: np.ndarray, fl: np.ndarray) -> None:
    """The margin view's partial refresh of ``changed`` (``recompute``), counted and
    remembered as the last one."""
    sc[COUNT] += recompute(changed, fl[PRICE_USD], sc[MM_PPM], balances, margin_of, size,
                           basis, equity, notional, below)
    log[:len(changed)] = changed
    sc[NLOG] += 1
    sc[LAST_LOGGED] = len(changed)


@njit(cache=True)
def _next_event(ev: np.ndarray) -> int:
    """The heap entry that pops first (least time, then sequence); -1: none."""
    best = -1
    for m in range(ev.shape[0]):
        if ev[m, EV_TYPE] == GONE:
            continue
        if best < 0 or ev[m, EV_TIME] < ev[best, EV_TIME] or (
                ev[m, EV_TIME] == ev[best, EV_TIME] and ev[m, EV_SEQ] < ev[best, EV_SEQ]):
            best = m
    return best


@njit(cache=True)
def _at_risk(who: int, price_micro: int, margin: float, mm_ppm: int, size: np.ndarray,
             basis: np.ndarray, balances: np.ndarray, margin_of: np.ndarray
             ) -> tuple[bool, bool]:
    """Account ``who`` at ``price_micro`` as the operator's censoring reads it: whether
    it is at risk (a notional above 0, equity below ``margin`` × notional) and whether
    it is liquidatable."""
    equity, n, flag = account_margin(who, price_micro / 1e6, mm_ppm, balances, margin_of,
                                     size, basis)
    return n > 0 and equity < margin * n, flag


@njit(cache=True)
def _still_held(now: int, price_micro: int, held: np.ndarray, held_at: np.ndarray,
                senders: np.ndarray, size: np.ndarray, basis: np.ndarray,
                balances: np.ndarray, margin_of: np.ndarray, sc: np.ndarray,
                fl: np.ndarray) -> bool:
    """Whether the design keeps holding everything it holds in the block at ``now``
    whose last oracle update (if any) sets ``price_micro`` (``FcfsRule``'s hold,
    ``Operator._censor``): each top-up arrived, waiting less than the hold, its account
    at risk and not liquidatable (the operator would liquidate it)."""
    for k in range(len(held)):
        if held_at[k] > now or held_at[k] + sc[HOLD_FOR] <= now:
            return False
        risky, flagged = _at_risk(senders[held[k]], price_micro, fl[HOLD_MARGIN],
                                  sc[MM_PPM], size, basis, balances, margin_of)
        if flagged or not risky:
            return False
    return True


@njit(cache=True)
def _inbox_waits(now: int, sc: np.ndarray, fl: np.ndarray, size: np.ndarray,
                 basis: np.ndarray, balances: np.ndarray, margin_of: np.ndarray) -> bool:
    """Whether the delayed inbox gives the block at ``now`` nothing (``Rollup._delayed``):
    its first message, posted at ``sc[INBOX_AT]``, not yet includable, or includable but
    a top-up the design holds once more (``FcfsRule``'s inbox hold,
    ``Operator.admit_delayed``'s test at the on-chain price, the message held before:
    ``sc[INBOX_WHO]`` its sender, -1 where it is none such). None is forceable: that
    takes the force-inclusion window from the start, where a stretch stops anyway."""
    posted = sc[INBOX_AT]
    if posted > now - sc[INBOX_DELAY]:
        return True
    who = sc[INBOX_WHO]
    if who < 0 or sc[PRICE] == 0 or posted + sc[INBOX_DELAY] + sc[HOLD_FOR] <= now:
        return False
    return _at_risk(who, sc[PRICE], fl[INBOX_MARGIN], sc[MM_PPM], size, basis, balances,
                    margin_of)[0]


@njit(cache=True)
def _wrappable(amount: int, price: int, sc: np.ndarray, fl: np.ndarray) -> bool:
    """Whether the design's operator may wrap a trade of ``amount`` at ``price``
    (``FcfsRule``: ``Operator._sandwiches``'s test, the quotient in int64 and the ratio
    of two exactly held integers, as Python's division rounds it); True wherever int64
    cannot say exactly, so the design decides."""
    if amount < 0:
        amount = -amount
        if amount < 0:  # the least int64 has no magnitude
            return True
    if amount < sc[WRAP_LEAST] or price == 0:
        return False
    if amount > _NO_OVERFLOW or price < 0:
        return True
    units = amount * 1_000_000 // price
    if units >= _EXACT or sc[WRAP_SCALE] >= _EXACT:
        return True
    return np.float64(units) / np.float64(sc[WRAP_SCALE]) > fl[WRAP_FEES]


@njit(cache=True)
def _takeable(ids: np.ndarray, kinds: np.ndarray, a: np.ndarray, price: int,
              sc: np.ndarray, fl: np.ndarray) -> bool:
    """Plain trades, none the design's operator may wrap at ``price`` (the block's last
    update's), and (where the market stores them plainly and the design lets a block
    hold one) oracle updates only, none bound to a shared nonce."""
    for k in range(len(ids)):
        tx = ids[k]
        kind = kinds[tx]
        if kind != TRADE and kind != CLOSE and kind != REDUCE \
                and not (kind == ORACLE and sc[UPDATES] != NO_UPDATES):
            return False
        if tx >= sc[LOWEST_BOUND] or (kind == TRADE and _wrappable(a[tx], price, sc, fl)):
            return False
    return True


@njit(cache=True)
def _leads_quietly(price_micro: int, sc: np.ndarray, fl: np.ndarray, size: np.ndarray,
                   basis: np.ndarray, balances: np.ndarray, margin_of: np.ndarray) -> bool:
    """Whether an operator who puts the block's oracle updates first, the last setting
    ``price_micro``, adds nothing to them (``FcfsRule``'s ``UPDATES_FIRST``): a move
    within its stale-trade threshold of the on-chain price, and no account liquidatable
    at the new price (it would liquidate each)."""
    price = sc[PRICE]
    if price <= 0 or price_micro <= 0:
        return False
    move = abs(price_micro - price)
    if move >= _EXACT or price >= _EXACT \
            or np.float64(move) > fl[STALE_MOVE] * np.float64(price):
        return False
    at = price_micro / 1e6
    for i in range(len(size)):
        if account_margin(i, at, sc[MM_PPM], balances, margin_of, size, basis)[2]:
            return False
    return True


@njit(cache=True)
def _updates_first(ids: np.ndarray, arrival: np.ndarray, kinds: np.ndarray) -> None:
    """The block's oracle updates moved ahead of the rest, each part in its order."""
    n = len(ids)
    order = np.empty(n, np.int64)
    k = 0
    for first in (True, False):
        for q in range(n):
            if (kinds[ids[q]] == ORACLE) == first:
                order[k] = q
                k += 1
    ids[:] = ids[order]
    arrival[:] = arrival[order]


@njit(cache=True)
def _design_builds(ids: np.ndarray, arrival: np.ndarray, now: int, kinds: np.ndarray,
                   a: np.ndarray, senders: np.ndarray, held: np.ndarray,
                   held_at: np.ndarray,
                   size: np.ndarray, basis: np.ndarray, balances: np.ndarray,
                   margin_of: np.ndarray, sc: np.ndarray, fl: np.ndarray) -> bool:
    """Whether the design builds the block at ``now`` from the arrivals ``ids`` as its
    ``FcfsRule`` says (then, with updates first, ``ids`` are put in that order): the
    delayed inbox gives it nothing, what it holds stays held, nothing in the block is
    anything it acts on."""
    if sc[INBOX_AT] != NOT_DUE and not _inbox_waits(now, sc, fl, size, basis, balances,
                                                      margin_of):
        return False
    price, update = sc[PRICE], False
    for k in range(len(ids)):
        if kinds[ids[k]] == ORACLE:
            price, update = a[ids[k]], True
    if len(held) and not _still_held(now, price, held, held_at, senders, size, basis,
                                     balances, margin_of, sc, fl):
        return False
    if not _takeable(ids, kinds, a, price, sc, fl):
        return False
    if update and sc[UPDATES] == UPDATES_FIRST:
        if not _leads_quietly(price, sc, fl, size, basis, balances, margin_of):
            return False
        _updates_first(ids, arrival, kinds)
    return True


@njit(cache=True)
def _new_price(price_micro: int, block: int, now: int, size: np.ndarray, basis: np.ndarray,
               balances: np.ndarray, margin_of: np.ndarray, equity: np.ndarray,
               notional: np.ndarray, below: np.ndarray, enabled_block: np.ndarray,
               enabled_t: np.ndarray, sc: np.ndarray, fl: np.ndarray) -> None:
    """``PerpsProtocol._store_price``'s refresh at a new price (a plain market's: no
    mark, price rule, auction or Dutch auction): every account at ``price_micro``, the
    newly flagged ones marked enabled in ``block`` at ``now``, the count, and the
    refresh counted as the view's full one."""
    fl[PRICE_USD] = price_micro / 1e6
    sc[PRICE] = price_micro
    count = 0
    for i in range(len(size)):
        equity[i], notional[i], flag = account_margin(i, fl[PRICE_USD], sc[MM_PPM],
                                                      balances, margin_of, size, basis)
        if flag and not below[i]:
            enabled_block[i], enabled_t[i] = block, now
        below[i] = flag
        count += np.int64(flag)
    sc[COUNT] = count
    sc[NLOG] += 1
    sc[LAST_LOGGED] = 0  # the last refresh a full one


@njit(cache=True)
def _look(changed: np.ndarray, balances: np.ndarray, margin_of: np.ndarray,
          size: np.ndarray, basis: np.ndarray, equity: np.ndarray, notional: np.ndarray,
          below: np.ndarray, managed: np.ndarray, pending: np.ndarray, low: np.ndarray,
          due: np.ndarray, wallet: np.ndarray, log: np.ndarray, sc: np.ndarray,
          fl: np.ndarray) -> bool:
    """The feed's steps on the accounts ``changed``: the view's partial refresh, the
    managers' look; whether the feed stays silent about them."""
    _refresh(changed, balances, margin_of, size, basis, equity, notional, below, log, sc,
             fl)
    sc[N_DUE] += examine(changed, managed, pending, low, due, notional, equity,
                         fl[TRIGGER], fl[RATE])
    return _silent(changed, below, due, wallet, sc[PRICE], size, basis, balances,
                   margin_of)


@njit(cache=True)
def _begin_block(now: int, sc: np.ndarray, fl: np.ndarray) -> None:
    """``PerpsProtocol.begin_block`` with no funding due: the price-time integral to
    ``now``, once a block time."""
    if now != sc[BEGUN]:
        sc[BEGUN] = now
        dt_years = np.float64(now - sc[EXPOSURE_T]) / YEAR_US
        sc[EXPOSURE_T] = now
        if dt_years > 0 and sc[PRICE] != 0:
            fl[PRICE_TIME] += np.float64(sc[PRICE]) / 1e6 / 1e6 * dt_years


@njit(cache=True)
def _play_block(ids, now, kinds, senders, a, b, fill_of, tx_block, tx_at, tx_status, size,
                basis, traded, exposure, price_time_at, balances, margin_of, wallet, state,
                rows, touched, status, equity, notional, below, managed, pending, low, due,
                enabled_block, enabled_t, blocks, log, updates, sc, fl) -> int:
    """Block ``ids`` at ``now``, as the protocol and then its feed would run it: QUIET or
    LOUD (published either way), or PARTIAL (not published; ``sc`` says where its trade
    kernel stopped and what it touched since the last refresh)."""
    n = len(ids)
    _begin_block(now, sc, fl)
    st = status[:n]
    st[:] = 0
    kend, nt, moved, loud = 0, 0, False, False
    logs = sc[NLOG]  # the refreshes before this block
    while kend < n:
        tx = ids[kend]
        if kinds[tx] == ORACLE:  # the update: what the block touched first, then
            if nt > sc[FEW]:  # everyone at the new price
                break
            if nt:  # (the feed looks at these too, unless everyone is looked at)
                silent = _look(touched[:nt], balances, margin_of, size, basis, equity,
                               notional, below, managed, pending, low, due, wallet, log,
                               sc, fl)
                loud = loud or not silent
                nt = 0
            if a[tx] != sc[PRICE]:
                _new_price(a[tx], sc[NEXT_BLOCK], now, size, basis, balances, margin_of,
                           equity, notional, below, enabled_block, enabled_t, sc, fl)
                state[PRICE_SLOT] = a[tx]
                moved = True
            u = sc[NUPDATES]
            updates[u, 0], updates[u, 1] = now, sc[NEXT_BLOCK]
            updates[u, 2], updates[u, 3] = a[tx], b[tx]
            sc[NUPDATES] = u + 1
            st[kend] = OK
            kend += 1
            continue
        stop = run_trades(ids, kinds, senders, a, b, fill_of, kend, size, basis, traded,
                          exposure, price_time_at, fl[PRICE_TIME], balances, margin_of,
                          state, st, rows[sc[NROWS]:], touched[nt:])
        sc[NROWS] += state[KERNEL_ROWS]
        sc[SHORTFALL_SUM] += state[SHORTFALL]
        if state[UNCODED]:
            sc[ANY_UNCODED] = 1
        nt += state[NTOUCHED]
        if stop == kend or (stop < n and kinds[ids[stop]] != ORACLE):
            kend = stop  # a trade the kernel leaves to Python
            break
        kend = stop
    sc[LOUD_TOUCHED] = nt
    if kend < n or nt > sc[FEW]:
        sc[KERNEL_END] = kend
        sc[BLOCK_LOGS] = sc[NLOG] - logs
        return PARTIAL
    if nt and not moved:
        silent = _look(touched[:nt], balances, margin_of, size, basis, equity, notional,
                       below, managed, pending, low, due, wallet, log, sc, fl)
        loud = loud or not silent
    elif nt:
        _refresh(touched[:nt], balances, margin_of, size, basis, equity, notional, below,
                 log, sc, fl)
    if moved:  # the feed's look at every account: all may have moved
        sc[N_DUE] = examine_all(managed, pending, low, due, notional, equity, fl[TRIGGER],
                                fl[RATE])
        loud = not _silent(np.arange(len(below)), below, due, wallet, sc[PRICE], size,
                           basis, balances, margin_of)
    k = sc[NBLOCKS]
    blocks[k, 0], blocks[k, 1] = now, n
    sc[NBLOCKS] = k + 1
    for q in range(n):
        tx = ids[q]
        tx_block[tx], tx_at[tx], tx_status[tx] = sc[NEXT_BLOCK], now, st[q]
    sc[NEXT_BLOCK] += 1
    sc[BLOCK_LOGS] = sc[NLOG] - logs
    return LOUD if loud else QUIET


@njit(cache=True)
def _pop_to(nxt, ev, watchers, sc, fl, stopped, would_stop, down_start, down_end, down_at,
            ref_t, ref_p, size, basis, balances, margin_of, below) -> bool:
    """The tick at ``nxt`` pushed with the next sequence number, then the heap popped in
    (time, sequence) order, each quiet event played and pushed again, until the tick
    comes up (True) or the heap's turn comes: an event that is not quiet, or the
    running ``until`` passed (False, ``sc[TICK_SEQ]`` the tick's number)."""
    sc[SEQ] += 1
    tick_seq = sc[SEQ]
    while True:
        m = _next_event(ev)
        tick_first = m < 0 or ev[m, EV_TIME] > nxt or (ev[m, EV_TIME] == nxt
                                                        and ev[m, EV_SEQ] > tick_seq)
        first = nxt if tick_first else ev[m, EV_TIME]
        if first > sc[UNTIL] or not (tick_first or _quiet_event(
                m, ev, watchers, sc, fl, stopped, would_stop, down_start, down_end,
                down_at, ref_t, ref_p, size, basis, balances, margin_of, below)):
            sc[TICK_SEQ] = tick_seq
            return False
        if tick_first:
            return True
        again = ev[m, EV_TIME] + ev[m, EV_EVERY]
        if again < sc[BOT_HORIZON]:
            sc[SEQ] += 1
            ev[m, EV_TIME], ev[m, EV_SEQ] = again, sc[SEQ]
        else:
            ev[m, EV_TYPE] = GONE


@njit(cache=True)
def run_stretch(bulk_ids, bulk_arrival, kinds, senders, a, b, fill_of, tx_block, tx_at,
                tx_status, size, basis, traded, exposure, price_time_at, balances,
                margin_of, wallet, state, rows, touched, status, equity, notional, below,
                managed, pending, low, due, enabled_block, enabled_t, ev, watchers,
                stopped, would_stop, down_start, down_end, down_at, ref_t, ref_p, blocks,
                log, updates, held, held_at, sc, fl) -> None:
    """Play ticks from ``sc[NOW]`` (the tick being produced) until something needs
    Python; every count and position is written back to ``sc``/``fl`` (see the module
    notes). ``blocks`` gets each block's (tick, size), ``sc[NLOG]`` counts the
    refreshes that recomputed anyone, ``log`` the last one's accounts."""
    sc[NBLOCKS] = sc[NROWS] = sc[NLOG] = sc[SHORTFALL_SUM] = sc[ANY_UNCODED] = 0
    sc[NUPDATES] = sc[LAST_LOGGED] = 0
    sc[TICK_SEQ] = sc[LAST_TICK] = -1
    now = sc[NOW]
    while True:
        # the block at ``now``: the arrivals by then, if it may be taken whole
        if now >= sc[NET_NEXT] or (sc[FORCE_AT] > 0 and now >= sc[FORCE_AT]):
            sc[OUTCOME], sc[NOW] = BEFORE, now
            return
        pos = sc[POS]
        end = pos
        while end < len(bulk_ids) and bulk_arrival[end] <= now:
            end += 1
        n = end - pos
        ids = bulk_ids[pos:end]
        if n and ((now >= sc[FUNDING_AT] and sc[PRICE] != 0) or now >= sc[RECOURSE_DUE]
                  or sc[NROWS] + 3 * n > rows.shape[0] or 2 * n > len(log)
                  or sc[NBLOCKS] + 1 >= blocks.shape[0] or 2 * n > len(touched)
                  or n > len(status) or sc[NUPDATES] + n > updates.shape[0]) \
                or not _design_builds(ids, bulk_arrival[pos:end], now, kinds, a, senders,
                                      held, held_at, size, basis, balances, margin_of, sc,
                                      fl):
            sc[OUTCOME], sc[NOW] = BEFORE, now
            return
        if n:
            played = _play_block(ids, now, kinds, senders, a, b, fill_of, tx_block, tx_at,
                                 tx_status, size, basis, traded, exposure, price_time_at,
                                 balances, margin_of, wallet, state, rows, touched, status,
                                 equity, notional, below, managed, pending, low, due,
                                 enabled_block, enabled_t, blocks, log, updates, sc, fl)
            if played != PARTIAL:  # published
                sc[POS] = end
            if played != QUIET:  # PARTIAL: Python runs the rest; LOUD: its feed
                sc[OUTCOME], sc[NOW] = played, now
                sc[BLOCK_START], sc[BLOCK_END] = pos, end
                return
        sc[LAST_TICK] = now
        # the next tick: at once while nothing is due by then, else through the heap
        nxt = now + sc[BLOCK_TIME]
        if nxt > sc[HORIZON]:
            sc[OUTCOME] = END
            return
        m = _next_event(ev)
        if m >= 0 and ev[m, EV_TIME] <= nxt and not _pop_to(
                nxt, ev, watchers, sc, fl, stopped, would_stop, down_start, down_end,
                down_at, ref_t, ref_p, size, basis, balances, margin_of, below):
            sc[OUTCOME] = PENDING  # the heap's turn
            return
        now = nxt
