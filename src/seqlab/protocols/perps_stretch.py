"""The rollup's runner for a perps market whose design builds blocks first come, first
served (``Design.fcfs_rule``: FCFS itself, or an extractive operator's blocks that give
it nothing to act on): stretches of quiet blocks and quiet polls played in one compiled
call (``stretch_kernel.run_stretch``), with the state handed over and back.

Everything the stretch changes is written back as the Python path leaves it: the
network's position in its bulk arrivals, the rollup's blocks and executed order, each
transaction's block, inclusion time and status, the market's skew, open interest,
price-time integral, journal rows, price and oracle log, the margin view's generations
(only the last refresh kept for ``since``: a watcher behind rereads all), the managers'
due count, the bots stopped by their loss limit, and the kernel's heap (each event it
played pushed again with the sequence number it would have had; the next tick's entry
where the stretch pushed it). ``tests/test_perps_stretch.py`` runs worlds with and without it.
"""
from __future__ import annotations

import heapq

import numpy as np

from seqlab.agents.liquidators import Liquidators
from seqlab.kernel import Simulation
from seqlab.protocols.fixed import PPM
from seqlab.protocols.perps_kernel import HELD_LONG, HELD_SHORT, SKEW
from seqlab.protocols import stretch_kernel as sk
from seqlab.rollup.chain import PRODUCE, PRODUCED, YIELDED
from seqlab.rollup.fees import FeeMarket
from seqlab.sequencing.fcfs_rule import NO_UPDATES, FcfsRule
from seqlab.txs import KindInt

CAP = 4096  # transactions, blocks and refreshed accounts a stretch holds at most


class PerpsStretch:
    """``Rollup.runner`` for the market whose ``PerpsAgents`` are ``agents``."""

    def __init__(self, agents, rollup) -> None:
        self.agents, self.rollup = agents, rollup
        self.p = agents.protocol
        self.hook = agents.on_block
        self.sc = np.zeros(sk.SC_SLOTS, np.int64)
        self.fl = np.zeros(sk.FL_SLOTS)
        self.rows = np.zeros((3 * CAP, 4), np.int64)
        self.status = np.zeros(CAP, np.int8)
        self.log = np.zeros(2 * CAP, np.int64)
        self.blocks = np.zeros((CAP, 2), np.int64)
        self.updates = np.zeros((CAP, 4), np.int64)  # (t, block, price, round) each
        self._updates = NO_UPDATES  # the rule's, where the market stores updates plainly
        self._rule: FcfsRule | None = None  # the blocks the design builds as FCFS
        self._held: tuple[np.ndarray, np.ndarray] | None = None  # what it holds, by ``ready``
        self._bots: tuple | None = None  # the liquidators' fixed arrays, made once
        self._watch_list: list[int] | None = None  # the oracle watch's bots, as scheduled
        self._watchers = np.zeros(0, np.int64)  # and as an array

    # when ------------------------------------------------------------------------------
    def applies(self) -> bool:
        """A design that builds blocks as FCFS (``Design.fcfs_rule``: FCFS itself, an
        extractive operator's blocks that give it nothing to act on) and takes no fees;
        the market's trades in its kernel; nothing on the feed but margin managers and
        bots whose polls and oracle watch the kernel can play (``QuietBlocks.applies``
        and more)."""
        r, p, agents = self.rollup, self.p, self.agents
        design, liq = r.design, agents.liquidators
        caps = design.active_capabilities()
        self._rule = design.fcfs_rule()
        self._updates = self._rule.updates if self._rule is not None \
            and self._plain_updates() else NO_UPDATES
        return self._rule is not None and type(r.sim) is Simulation \
            and not (caps.tips or caps.auctions or caps.batch_clearing) \
            and r.shortcut is not None and r._short and liq is not None \
            and type(liq) is Liquidators and liq.costs.profit == agents.bot_profit \
            and all(type(e).begin_block is FeeMarket.begin_block for e in p.extensions) \
            and agents.water_is_worthless() and self._one_row_per_account()

    def _one_row_per_account(self) -> bool:
        """Whether every per-account array the kernel indexes has one row per account of
        the market (compiled code checks no bounds)."""
        p, managers = self.p, self.agents.managers
        n = len(p.size)
        return all(len(x) == n for x in (p.basis, p.traded, p._price_time_at, p.margin,
                                         p.wallet, managers.managed, managers.pending,
                                         managers.low, managers.due)) \
            and p.exposure.shape == (2, n)

    def _plain_updates(self) -> bool:
        """Whether the market stores an oracle update with nothing around it (no mark,
        price rule, recapture auction, fallback or Dutch auction), so a stretch may run
        blocks holding one (without, it stops before them)."""
        p = self.p
        return p.mark is None and p.price_rule is None and p.bundle is None \
            and p.fallback is None and getattr(p.liquidation, "on_price", None) is None \
            and len(p.enabled_block) == len(p.size) == len(p.enabled_t)

    def ready(self) -> bool:
        """Nothing pending that a stretch would stop at before its first block, and the
        feed silent: every liquidatable account under water, every manager due broke."""
        p, agents, r = self.p, self.agents, self.rollup
        view = p.margin_view
        return view.price == p.price and agents._margin_seen == view.generation \
            and not view.touched and view._first is None and self._holds_plainly() \
            and p._kernel_applies() \
            and self._silent()

    def _holds_plainly(self) -> bool:
        """Whether the design holds only what its rule judges (kept for the stretch)."""
        self._held = self.rollup.design.held()
        return self._held is not None

    def _silent(self) -> bool:
        """Whether the feed would send nothing on the state as it is: every flagged
        account under water (none ``above_water``), every manager due broke."""
        p, agents = self.p, self.agents
        managers = agents.managers
        if p.margin_view.count and len(agents.above_water.accounts()):
            return False
        if managers.n_due:
            due = managers.due.nonzero()[0]
            return bool((p.ledger.balances[p.wallet[due]] <= 0).all())
        return True

    # the stretch ------------------------------------------------------------------------
    def run(self, now: int) -> tuple[int, int]:
        """Play from the tick ``now`` (``Runner.run``): the stretch in compiled code, the
        state handed back, then what the rollup does next, and at which tick."""
        entries, ev = self._events()
        self._load(now)
        p, r, sc, net = self.p, self.rollup, self.sc, self.rollup.network
        kernel, txs, view, managers = p._kernel, p.txs, p.margin_view, self.agents.managers
        stopped, would_stop, start, end, at, watchers, ref_t, ref_p = self._bot_arrays()
        pos = net._bulk_pos
        sk.run_stretch(net._bulk_ids, net._bulk_arrival, txs.kind, txs.sender, txs.a, txs.b,
                       txs.fill, txs.block, txs.included_us, txs.status, p.size, p.basis,
                       p.traded, p.exposure, p._price_time_at, p.ledger.balances, p.margin,
                       p.wallet, kernel.state, self.rows, kernel.touched, self.status, view.equity,
                       view.notional, view.below, managers.managed, managers.pending,
                       managers.low, managers.due, p.enabled_block, p.enabled_t, ev,
                       watchers, stopped, would_stop, start, end, at, ref_t, ref_p,
                       self.blocks, self.log, self.updates, *self._held, sc, self.fl)
        outcome = sc.item(sk.OUTCOME)
        self._store(pos, outcome)
        self._restore_heap(entries, ev, outcome)
        tick = sc.item(sk.NOW)
        if outcome == sk.BEFORE:
            r.sim.now = tick
            return PRODUCE, tick
        if outcome == sk.LOUD:  # published by the stretch, not yet seen by its feed
            ids = net._bulk_ids[sc.item(sk.BLOCK_START):sc.item(sk.BLOCK_END)]
            for hook in r.hooks:
                hook(r.next_block - 1, tick, ids, txs.status[ids])
        elif outcome == sk.PARTIAL:
            self._finish(tick)
        if outcome in (sk.LOUD, sk.PARTIAL):
            r.produced(tick)
            return PRODUCED, tick
        return YIELDED, sc.item(sk.LAST_TICK)

    def _load(self, now: int) -> None:
        """The scalars a stretch starts from (in ``stretch_kernel``'s slot order)."""
        p, r, agents = self.p, self.rollup, self.agents
        view, managers, net = p.margin_view, agents.managers, r.network
        recourse, rule = managers.recourse, self._rule
        self.sc[: sk.INPUTS] = [
            now, r.horizon_us, agents.liquidators.horizon, r.block_time,
            net._heap[0][0] if net._heap else sk.NOT_DUE, r.force_window,
            r.nonces.lowest_bound, p.next_funding, p.price,
            sk.NOT_DUE if recourse is None else recourse.next_due,
            min(view.FEW, managers.FEW), p.mm_ppm, net._bulk_pos, r.sim._seq, p._begun,
            p._exposure_t, r.next_block, view.count, managers.n_due, r.sim.until,
            self._updates, rule.wrap_least, rule.wrap_scale, rule.hold_for,
            *self._inbox()]
        self.fl[:] = [p._price_time, agents.deviation, managers.cfg.trigger,
                      p.mm_ppm / PPM, p.price / PPM, rule.wrap_fees, rule.hold_margin,
                      rule.inbox_margin, rule.stale_move]
        if r.fees is not None:
            r.fees.capabilities = r.design.active_capabilities()
        p._batch_px = None
        p._kernel.load(p, CAP)

    def _inbox(self) -> tuple[int, int, int]:
        """The delayed inbox's first message as ``stretch_kernel._inbox_waits`` reads it:
        when it was posted (``NOT_DUE``: none), the inbox's delay, and its sender where
        it is a top-up the design held before and may hold again (else -1)."""
        txs, inbox = self.p.txs, self.rollup.inbox
        if inbox is None or not len(inbox):
            return sk.NOT_DUE, 0, -1
        first = int(inbox.ids[0])
        who = int(txs.sender[first]) if self._rule.hold_for and txs.held[first] \
            and txs.kind[first] == KindInt.TOPUP else -1
        return int(inbox.posted[0]), inbox.delay_us, who

    def _store(self, pos: int, outcome: int) -> None:
        """Hand back what the stretch did (all but the heap)."""
        p, r, sc, agents = self.p, self.rollup, self.sc, self.agents
        view, net, kernel = p.margin_view, r.network, p._kernel
        state = kernel.state
        p.skew = state.item(SKEW)
        p._held[1], p._held[-1] = state.item(HELD_LONG), state.item(HELD_SHORT)
        if sc.item(sk.SHORTFALL_SUM):
            p.log.pool_shortfall += sc.item(sk.SHORTFALL_SUM)
        rows = sc.item(sk.NROWS)
        if rows:
            if sc.item(sk.ANY_UNCODED):
                kernel._code_rows(p.ledger, self.rows[:rows])
            p.ledger.record(self.rows[:rows])
        p._price_time, p._exposure_t = self.fl.item(sk.PRICE_TIME), sc.item(sk.EXPOSURE_T)
        if sc.item(sk.BEGUN) != p._begun:
            p._begun = p._now = sc.item(sk.BEGUN)
        p._liquidations_run = False
        blocks = sc.item(sk.NBLOCKS)
        self._store_updates()
        if sc.item(sk.NLOG):  # each block that touched anyone refreshed the view
            last = sc.item(sk.LAST_LOGGED)
            view.logged_many(sc.item(sk.NLOG), self.log[:last].copy() if last else None,
                             p.price)
        view.count, agents.managers.n_due = sc.item(sk.COUNT), sc.item(sk.N_DUE)
        agents._margin_seen = view.generation
        if outcome in (sk.LOUD, sk.PARTIAL):  # the feed reads that block's refreshes
            agents._margin_seen -= sc.item(sk.BLOCK_LOGS)  # (all, past a full one)
        end = sc.item(sk.POS)
        net._bulk_pos = end
        r.record(net._bulk_ids[pos:end], self.blocks[:blocks, 0].tolist(),
                 self.blocks[:blocks, 1].tolist())
        if sc.item(sk.LAST_TICK) >= 0:
            r.produced(sc.item(sk.LAST_TICK))

    def _store_updates(self) -> None:
        """The oracle updates the stretch stored: the market's price, its log, where the
        last one landed."""
        count = self.sc.item(sk.NUPDATES)
        if not count:
            return
        p = self.p
        rows = self.updates[:count].tolist()
        p.log.oracle.extend(tuple(row) for row in rows)
        p.price = self.sc.item(sk.PRICE)
        p.oracle_t, p.oracle_block = rows[-1][0], rows[-1][1]

    def _finish(self, tick: int) -> None:
        """The block the kernel stopped in: the protocol's handlers run the rest of it
        from where it stopped, then it is closed and published as the rollup would."""
        p, r, sc = self.p, self.rollup, self.sc
        start, end = sc.item(sk.BLOCK_START), sc.item(sk.BLOCK_END)
        ids = r.network._bulk_ids[start:end]
        r.network._bulk_pos = end
        touched = sc.item(sk.LOUD_TOUCHED)
        if touched:
            p.margin_view.touch_many(p._kernel.touched[:touched])
        n = len(ids)
        status = self.status[:n].copy()
        p._execute_compiled(ids, p.txs.kind[ids].tolist(), np.full(n, r.next_block, np.int64),
                            np.full(n, tick, np.int64), False, sc.item(sk.KERNEL_END), status)
        r._close_block(ids)
        r.publish(ids, tick, status)

    # the heap ---------------------------------------------------------------------------
    def _events(self) -> tuple[list, np.ndarray]:
        """The heap's entries, and as rows (``stretch_kernel.EV_*``): time, sequence,
        what it is (a bot's poll, the oracle watch, anything else), the bot, the period."""
        entries = list(self.rollup.sim._heap)
        liq = self.agents.liquidators
        poll, watch, cfgs = Liquidators._poll, Liquidators._watch, liq.cfgs
        rows: list[int] = []
        for t, seq, callback, args in entries:
            func = getattr(callback, "__func__", None)
            if func is poll and callback.__self__ is liq:
                rows += (t, seq, sk.POLL, args[1], cfgs[args[1]].poll)
            elif func is watch and callback.__self__ is liq:
                rows += (t, seq, sk.WATCH, 0, args[2])
                if args[1] is not self._watch_list:
                    self._watch_list = args[1]
                    self._watchers = np.asarray(args[1], np.int64)
            else:
                rows += (t, seq, sk.OTHER, 0, 0)
        return entries, np.array(rows, dtype=np.int64).reshape(len(entries), 5)

    def _restore_heap(self, entries: list, ev: np.ndarray, outcome: int) -> None:
        """The heap as the stretch leaves it: each entry it played pushed again with its
        new time and sequence number (or gone past the horizon), the next tick's entry
        where it pushed one, and the kernel's sequence counter."""
        sim, sc = self.rollup.sim, self.sc
        seq = sc.item(sk.SEQ)
        if seq == sim._seq:
            return  # nothing played, nothing pushed
        heap = []
        for m, entry in enumerate(entries):
            if ev.item(m, sk.EV_TYPE) == sk.GONE:
                continue
            t, s = ev.item(m, sk.EV_TIME), ev.item(m, sk.EV_SEQ)
            heap.append(entry if s == entry[1] else (t, s, entry[2], entry[3]))
        if outcome == sk.PENDING:
            nxt = sc.item(sk.LAST_TICK) + self.rollup.block_time
            heap.append((nxt, sc.item(sk.TICK_SEQ), self.rollup._tick, ()))
        heapq.heapify(heap)
        sim._heap[:] = heap
        sim._seq = seq

    def _bot_arrays(self) -> tuple:
        """The bots' stop flags, whether each is past its loss limit now, their down
        windows flattened, the watchers (as ``_events`` last found them), and the
        reference path as arrays."""
        liq, p = self.agents.liquidators, self.p
        if self._bots is None:
            down = [np.asarray(w, np.int64).reshape(-1, 2) for w in liq.down]
            at = np.zeros(len(down) + 1, np.int64)
            at[1:] = np.cumsum([len(w) for w in down])
            flat = np.concatenate(down) if down else np.zeros((0, 2), np.int64)
            ref = self.agents.reference
            self._bots = (np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1]),
                          at, np.asarray(ref._t_list, np.float64),
                          np.asarray(ref._p_list, np.float64),
                          np.asarray(p.liquidator_account[: len(liq.cfgs)], np.int64),
                          np.asarray(liq.max_loss, np.int64))
        start, end, at, ref_t, ref_p, accounts, max_loss = self._bots
        nbots = len(liq.cfgs)
        would_stop = p.ledger.balances[accounts] - p.keeper_capital[:nbots] < max_loss
        return liq.stopped, would_stop, start, end, at, self._watchers, ref_t, ref_p
