"""Block production: tick, ask the design for an order, execute it, publish the block.

The rollup owns the loop between the network, the design and the protocol. When nobody
subscribes to individual blocks and no other event is due, it hands the design a whole
window of ticks at once; the design answers exactly as it would tick by tick, so the
result is the same and the per-block overhead disappears.
"""
from __future__ import annotations

from typing import Callable, Protocol as TypingProtocol

import numpy as np

from seqlab.kernel import Simulation
from seqlab.network import Network
from seqlab import outages as outage_windows
from seqlab.rollup.fees import FeeMarket
from seqlab.rollup.inbox import DelayedInbox
from seqlab.rollup.nonces import Nonces
from seqlab.sequencing.base import Blocks, Design
from seqlab.txs import Status, TxStore

BlockHook = Callable[[int, int, np.ndarray, np.ndarray], None]
RefusedHook = Callable[[int, np.ndarray], None]


class Executor(TypingProtocol):
    """What a protocol offers the rollup: execute transactions in order, then close the
    block."""

    def execute(self, ids: np.ndarray, block: np.ndarray, t_us: np.ndarray,
                batch: bool = False) -> np.ndarray:
        """Run ``ids`` in order (``block``/``t_us`` per tx; ``batch``: the block clears
        as one batch); return each tx's status."""

    def end_block(self, ids: np.ndarray) -> None:
        """After the block's transactions and the rollup's fees (gas per attempt)."""


class Shortcut(TypingProtocol):
    """A protocol's faster way through a single block that needs nothing of the rollup
    beyond ordering (no fees charged, no auction paid, no batch clearing, no shared
    nonce): it executes the block and does what the subscriber ``hook`` would do with
    it, exactly as they would, or declines before doing anything; the rollup closes
    the block as always."""

    protocol: object  # the executor it stands in for
    hook: BlockHook  # the one subscriber it answers for

    def applies(self) -> bool:
        """Whether any block may be taken (asked once the world is assembled)."""

    def run(self, ids: np.ndarray, block: int, t_us: int) -> tuple[np.ndarray, bool] | None:
        """Execute ``ids`` as block ``block`` at ``t_us``: the statuses, and whether
        ``hook`` has nothing left to do; None: declined, nothing done."""


# what a runner's stretch ended with (``Runner.run``)
PRODUCE = 0   # the rollup produces the block at the tick returned, as always
PRODUCED = 1  # the block at the tick returned is done, published and seen by its feed
YIELDED = 2   # the next tick is in the heap behind an event, or past the horizon


class Runner(TypingProtocol):
    """Plays a stretch of ticks and the events between them at once, exactly as the tick
    loop and the kernel's heap would, up to the first thing it leaves to the rollup
    (``protocols/perps_stretch.py``). It hands the rollup the blocks it ran with
    ``record`` (or, for one its feed must still see, ``publish``) and its last tick with
    ``produced``."""

    hook: BlockHook  # the one subscriber it answers for

    def applies(self) -> bool:
        """Whether the rollup's set-up lets it run at all (asked once assembled)."""

    def ready(self) -> bool:
        """Whether a stretch may start at this tick (asked before each one it could
        take, so cheap)."""

    def run(self, now: int) -> tuple[int, int]:
        """Play from the tick ``now`` (not yet produced): ``PRODUCE``, ``PRODUCED`` or
        ``YIELDED``, and the tick it means."""


class Rollup:
    """Drives block ticks on the kernel and records where every transaction landed."""

    def __init__(self, sim: Simulation, design: Design, network: Network, txs: TxStore,
                 protocol: Executor, horizon_us: int, drain: bool = False,
                 window_ticks: int = 4096, fees: FeeMarket | None = None) -> None:
        """``fees``: the rollup's fee market (None: a protocol whose rollup charges
        nothing, so it has no sequencer-side accounts)."""
        self.sim = sim
        self.design = design
        self.network = network
        self.txs = txs
        self.protocol = protocol
        self.fees = fees
        self.horizon_us = horizon_us
        self.drain = drain
        self.window_ticks = window_ticks
        self.block_time = design.block_time
        self.hooks: list[BlockHook] = []
        self.progress: Callable[[int], None] | None = None
        self.next_block = 0
        self.outages = np.empty((0, 2), dtype=np.int64)  # (start, end) windows, sorted
        self.force_window = 0   # txs waiting this long are force-included via L1 (0: never)
        self.l1_block_time = 12_000_000
        self.forced = 0
        self.inbox: DelayedInbox | None = None  # messages sent through L1 (none: no inbox)
        self.nonces = Nonces()  # versions of one transaction: only the first executed counts
        self.last_tick = 0  # the latest tick the sequencer produced (its feed's freshness)
        # what a down sequencer does with what reaches it: "queue" keeps it for the
        # restart, "reject" fails it (``_refuse``); ``refused`` counts those failed
        self.while_down = "queue"
        self.refused = 0
        self.refused_hooks: list[RefusedHook] = []
        # each block's tick and size as plain ints (an array per block cost more to make
        # and, at the end, to join than the numbers themselves)
        self._block_ticks: list[int] = []
        self._block_sizes: list[int] = []
        self._order_chunks: list[np.ndarray] = []
        self.shortcut: Shortcut | None = None  # in use only while ``_short`` says so
        self._short = False
        self.runner: Runner | None = None  # in use only while ``_running`` says so
        self._running = False

    def start(self) -> None:
        self.sim.schedule(self.block_time, self._tick)

    def subscribe(self, hook: BlockHook) -> None:
        """Call ``hook(block, t_us, ids, status)`` after every non-empty block."""
        self.hooks.append(hook)
        self._short = self._shortcut_applies()
        self._running = self._runner_applies()

    def use_shortcut(self, shortcut: Shortcut | None) -> None:
        """Let ``shortcut`` take the blocks it can, while it answers for every subscriber
        and the rollup runs its protocol (set once the world is assembled; None: every
        block takes the general path)."""
        self.shortcut = shortcut
        self._short = self._shortcut_applies()

    def use_runner(self, runner: Runner | None) -> None:
        """Let ``runner`` play the stretches it can, while it answers for every
        subscriber and the rollup drives itself (None: tick by tick)."""
        self.runner = runner
        self._running = self._runner_applies()

    def _runner_applies(self) -> bool:
        """A runner is used only while it answers for the one subscriber there is and the
        rollup drives its own ticks to the horizon (not drained)."""
        run = self.runner
        return run is not None and not self.drain and self.hooks == [run.hook] \
            and run.applies()

    def _shortcut_applies(self) -> bool:
        """A shortcut is used only while it answers for the one subscriber there is, the
        rollup runs its protocol, and the design's blocks may need nothing of the rollup."""
        cut = self.shortcut
        return cut is not None and cut.protocol is self.protocol \
            and self.hooks == [cut.hook] and not self._always_asks() and cut.applies()

    def _always_asks(self) -> bool:
        """Whether every block of the design asks the rollup for fees, auction payments
        or batch clearing (its capabilities fixed, not the service in use's)."""
        design = self.design
        caps = design.capabilities
        return type(design).active_capabilities is Design.active_capabilities \
            and (caps.tips or caps.auctions or caps.batch_clearing)

    def on_refused(self, hook: RefusedHook) -> None:
        """Call ``hook(restart_us, ids)`` when the restarted sequencer's backlog turns out
        to hold transactions it refused while down (``while_down = "reject"``)."""
        self.refused_hooks.append(hook)

    # the loop -----------------------------------------------------------------------
    def _window(self, now: int) -> np.ndarray:
        """Tick times to process now: one, or a run of ticks nothing else can interrupt."""
        if self.hooks or len(self.outages) or (self.inbox is not None and len(self.inbox)):
            return np.array([now], dtype=np.int64)
        end = now + (self.window_ticks - 1) * self.block_time
        if not self.drain:
            end = min(end, self.horizon_us)
        nxt = self.sim.peek()
        if nxt is not None:
            end = min(end, nxt - 1)
        end = max(end, now)
        return np.arange(now, end + 1, self.block_time, dtype=np.int64)

    def _tick(self) -> None:
        """The block(s) due now, then the next tick: at once while no other event is due
        before it (``Simulation.advance``), through the kernel's heap otherwise."""
        sim = self.sim
        while True:
            now = sim.now
            restart = self.down_until(now)
            if restart is not None:  # down: nothing is sequenced; resume at the first tick after
                nxt = -(-restart // self.block_time) * self.block_time
                if nxt <= self.horizon_us or self.drain:
                    sim.schedule(nxt, self._tick)
                return
            step = PRODUCE
            if self._running and not len(self.outages) and self.runner.ready():
                step, now = self.runner.run(now)
                if step == YIELDED:
                    return
            last = self.produce(now) if step == PRODUCE else now
            nxt = last + self.block_time
            if not (nxt <= self.horizon_us or (self.drain and self._busy())):
                return
            if not sim.advance(nxt):
                sim.schedule(nxt, self._tick)
                return

    def down_until(self, now: int) -> int | None:
        """When the sequencer comes back, if it is down at ``now``."""
        return outage_windows.down_until(self.outages, now) if len(self.outages) else None

    def produce(self, now: int, lead: np.ndarray | None = None) -> int:
        """Build and execute the block(s) due at ``now``; ``lead`` txs (a shared
        sequencer's bundle legs) go first. Returns the last tick processed."""
        ticks = self._window(now) if lead is None else np.array([now], dtype=np.int64)
        ids, arrival = self.network.deliver(int(ticks[-1]))
        if self.while_down == "reject" and len(self.outages) and len(ids):
            ids, arrival = self._refuse(int(ticks[-1]), ids, arrival)
        self.design.receive(ids, arrival)
        single = len(ticks) == 1
        # nothing can be overdue before a whole window has passed (arrivals are >= 0)
        forced = self._overdue(now) if single and self.force_window \
            and now >= self.force_window else None
        delayed = self._delayed(now) if single and self.inbox is not None else None
        blocks = self.design.build_blocks(ticks)
        if lead is not None or delayed is not None or forced is not None:
            blocks = self._led(blocks, (lead, delayed, forced))
        if len(blocks.ids):
            self._execute(ticks, blocks.ids, blocks.tick_index)
        last = int(ticks[-1])
        self.produced(last)
        return last

    @staticmethod
    def _led(blocks: Blocks, heads: tuple[np.ndarray | None, ...]) -> Blocks:
        """``blocks`` with the non-empty ``heads`` (bundle legs, delayed-inbox messages,
        force-included txs) ahead of them in its first block."""
        first = [x for x in heads if x is not None and len(x)]
        if not first:
            return blocks
        head = np.concatenate(first)
        return Blocks(np.concatenate((head, blocks.ids)),
                      np.concatenate((np.zeros(len(head), np.int64), blocks.tick_index)))

    def _refuse(self, until: int, ids: np.ndarray, arrival: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Fail what reached the sequencer while it was down; return the rest, with
        whatever the hooks send at the restart in reply.

        A stalled sequencer does not keep a backlog for its restart: Nitro's fails a
        transaction that has waited 12 s in its queue (``queue-timeout``), an OP Stack
        node returns the sequencer's error to the sender. Refused transactions are never
        sequenced and pay nothing; the hooks tell their senders at the restart, and those
        who act on it (bots, margin managers, the oracle's transmitter) send new ones."""
        down = outage_windows.inside(self.outages, arrival)
        if not down.any():
            return ids, arrival
        refused = ids[down]
        self.txs.status[refused] = Status.FAILED
        self.refused += len(refused)
        k = int(self.outages[:, 0].searchsorted(arrival[down][-1], side="right")) - 1
        restart = int(self.outages[k, 1])
        for hook in self.refused_hooks:
            hook(restart, refused)
        ids, arrival = ids[~down], arrival[~down]
        more, more_at = self.network.deliver(until)
        if len(more):
            ids, arrival = np.r_[ids, more], np.r_[arrival, more_at]
            order = np.lexsort((ids, arrival))
            ids, arrival = ids[order], arrival[order]
        return ids, arrival

    def _overdue(self, now: int) -> np.ndarray:
        """Txs the sequencer has kept waiting past the window, as seen from the latest L1
        block: they go first in this block (the delayed inbox), in arrival order."""
        l1_now = now - now % self.l1_block_time
        forced = self.design.take_overdue(l1_now - self.force_window)
        if len(forced):
            forced = forced[np.argsort(self.txs.arrival_us[forced], kind="stable")]
            self.forced += len(forced)
        return forced

    def _delayed(self, now: int) -> np.ndarray | None:
        """Delayed-inbox messages this block takes, in inbox order: the prefix the design
        admits of those an honest sequencer would include by now, or, when longer, the
        prefix that has waited out the force-inclusion window (anyone forces it in)."""
        inbox = self.inbox
        if inbox is None or not len(inbox):
            return None
        ready = inbox.ready(now)
        forced = inbox.forceable(now, self.force_window)
        taken = self.design.admit_delayed(inbox.ids[:ready], inbox.ready_at(ready), now) \
            if ready else 0
        if forced > taken:
            self.forced += forced - taken
        return inbox.pop(max(taken, forced))

    def _busy(self) -> bool:
        inbox = 0 if self.inbox is None else len(self.inbox)
        return self.network.in_flight() > 0 or self.design.pending() > 0 or inbox > 0

    def _execute(self, ticks: np.ndarray, ids: np.ndarray, tick_index: np.ndarray) -> None:
        if len(ticks) == 1:  # one tick: one block, no need to sort anything
            block, tick = self.next_block, int(ticks[0])
            taken = self._take(ids, block, tick) if self._short else None
            if taken is None:
                block_no, t_us = np.empty(len(ids), np.int64), np.empty(len(ids), np.int64)
                block_no.fill(block)  # np.full costs twice as much
                t_us.fill(tick)
                taken = self._run(ids, block_no, t_us), False
            self.publish(ids, tick, *taken)
            return
        used, block_of = np.unique(tick_index, return_inverse=True)
        block_no = self.next_block + block_of
        t_us = ticks[tick_index]
        self.next_block += len(used)
        used_ticks = ticks[used]
        first_tick = int(used_ticks[0])
        self._block_ticks.extend(used_ticks.tolist())
        self._block_sizes.extend(np.bincount(block_of, minlength=len(used)).tolist())
        status = self._run(ids, block_no, t_us)
        txs = self.txs
        txs.block[ids] = block_no
        txs.included_us[ids] = t_us
        txs.status[ids] = status
        self._order_chunks.append(ids)
        for hook in self.hooks:
            hook(int(block_no[0]), first_tick, ids, status)

    def publish(self, ids: np.ndarray, tick: int, status: np.ndarray,
                seen: bool = False) -> None:
        """Block ``next_block``, ``ids`` executed at ``tick`` with ``status``, is
        recorded and (unless its subscribers have ``seen`` it already) fed to them."""
        block = self.next_block
        self.next_block += 1
        self._block_ticks.append(tick)
        self._block_sizes.append(len(ids))
        txs = self.txs
        txs.block[ids] = block
        txs.included_us[ids] = tick
        txs.status[ids] = status
        self._order_chunks.append(ids)
        if seen:
            return
        for hook in self.hooks:
            hook(block, tick, ids, status)

    def record(self, ids: np.ndarray, ticks: list[int], sizes: list[int]) -> None:
        """Blocks a runner executed and wrote to the store: ``ids`` in order, each
        block's tick and size."""
        self.next_block += len(ticks)
        self._block_ticks.extend(ticks)
        self._block_sizes.extend(sizes)
        if len(ids):
            self._order_chunks.append(ids)

    def produced(self, tick: int) -> None:
        """The tick ``tick`` is done (its block, if any, seen by its subscribers)."""
        self.last_tick = tick
        if self.progress is not None:
            self.progress(tick)

    def _take(self, ids: np.ndarray, block: int, t_us: int) -> tuple[np.ndarray, bool] | None:
        """The shortcut's run of the block, where the rollup asks nothing of it."""
        caps = self.design.active_capabilities()
        if caps.tips or caps.auctions or caps.batch_clearing or self.nonces.has_bound(ids):
            return None
        if self.fees is not None:
            self.fees.capabilities = caps
        taken = self.shortcut.run(ids, block, t_us)
        if taken is not None:
            self._close_block(ids)
        return taken

    def _run(self, ids: np.ndarray, block_no: np.ndarray, t_us: np.ndarray) -> np.ndarray:
        """Execute ``ids`` under the producing design's capabilities, then charge the
        fees; a version of a transaction whose nonce an earlier version already spent
        fails without reaching the protocol (and pays nothing)."""
        caps = self.design.active_capabilities()
        if self.fees is not None:
            self.fees.capabilities = caps
        ok = self.nonces.claim(ids)
        if ok is None or ok.all():
            status = self.protocol.execute(ids, block_no, t_us, caps.batch_clearing)
            self._close_block(ids)
            return status
        status = np.full(len(ids), Status.FAILED, dtype=np.int8)
        if ok.any():
            ran = ids[ok]
            status[ok] = self.protocol.execute(ran, block_no[ok], t_us[ok], caps.batch_clearing)
            self._close_block(ran)
        return status

    def _close_block(self, ids: np.ndarray) -> None:
        """After the transactions ``ids`` ran: the fee market's fees, then the protocol's
        end of block (the order of charges matters where a payer runs short)."""
        if self.fees is not None:
            self.fees.after_block(ids)
        self.protocol.end_block(ids)

    def executed_order(self) -> np.ndarray:
        """Every executed tx id, in execution order."""
        if len(self._order_chunks) > 1:  # joined once: the run's end asks more than once
            self._order_chunks = [np.concatenate(self._order_chunks)]
        return self._order_chunks[0] if self._order_chunks else np.empty(0, np.int64)

    def blocks_table(self) -> dict[str, np.ndarray]:
        t = np.array(self._block_ticks, dtype=np.int64)
        return {"block": np.arange(len(t), dtype=np.int64), "t_us": t,
                "n_txs": np.array(self._block_sizes, dtype=np.int64)}
