"""Executors: how a batch of independent runs is carried out, behind one interface.

The model knows nothing of how it is executed (as in radCAD): an executor maps a
picklable function over items and yields ``(item index, outcome)`` as runs finish, in
any order. The function itself catches its errors, so one bad run never kills a sweep.
"""
from __future__ import annotations

import gc
import os
import signal
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator, Sequence

from seqlab.errors import SeqlabError

BACKENDS = ("inline", "process", "ray")


class Executor(ABC):
    """Map ``fn`` over ``items``; yield (index, result) as each finishes."""

    @abstractmethod
    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """Run ``fn(item)`` for every item; yield ``(index, result)`` as runs finish."""

    def start(self) -> None:
        """Acquire what the executor needs (before a sweep creates its store)."""

    def close(self) -> None:
        """Stop work in progress (used on Ctrl-C); finished results are already out."""


class InlineExecutor(Executor):
    """In this process, one at a time: for debugging and as the reference."""

    def imap(self, fn, items):
        gc.freeze()  # the caller's objects are not the runs' garbage (see release_run)
        try:
            for i, item in enumerate(items):
                yield i, fn(item)
        finally:
            gc.unfreeze()


def release_run() -> None:
    """Free a finished run's world now (run functions call this as they return).

    A world's parts refer to each other (the rollup's feed to the world, a protocol to its
    liquidation mechanism), so it ends as cyclic garbage holding large arrays, and the
    collector's thresholds count objects, not bytes: left alone, a long-lived pool worker
    grew by tens of MB a run. Executors freeze what was alive before their runs, so this
    collection scans only what the run made (well under a millisecond for a small run).
    What survives it is long-lived too, and is frozen in turn: the compiled kernels load
    some 50,000 objects of numba's at their first call in a process, and a full
    collection over them cost 5 ms a run, as much as a small run itself.
    """
    gc.collect()
    gc.freeze()


def _worker_start() -> None:
    """A pool worker leaves interrupts to its parent, which cancels the queue and ends
    the workers: Ctrl-C in the terminal reaches the whole process group, and a worker
    must not print its own traceback for it (nor run a handler inherited by fork). What
    it inherited is frozen out of garbage collection (see ``release_run``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.freeze()


class ProcessExecutor(Executor):
    """A local process pool using every core by default."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = None

    def imap(self, fn, items):
        self.pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_start)
        pending = {}
        queue = iter(enumerate(items))
        try:
            for i, item in queue:  # keep at most 2 runs per worker in flight
                pending[self.pool.submit(fn, item)] = i
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield pending.pop(fut), fut.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[self.pool.submit(fn, nxt[1])] = nxt[0]
            self.pool.shutdown(wait=True)  # all done: the workers exit by themselves
            self.pool = None
        finally:
            self.close()

    def close(self) -> None:
        """Cancel queued runs and end the workers (a run in progress is abandoned)."""
        if self.pool is not None:
            workers = list((self.pool._processes or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                if proc.is_alive():
                    proc.terminate()
            for proc in workers:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
            self.pool = None


class RayExecutor(Executor):
    """Ray: a local Ray started on demand, or an existing cluster at ``address``."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise SeqlabError("Ray is not installed", field="--backend",
                              allowed="inline, process (or: pip install seqlab[ray])") from None
        self.ray = ray
        self.address = address
        self.workers = workers
        self._started = False

    def start(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        kwargs = {"address": self.address} if self.address else {
            "num_cpus": self.workers or os.cpu_count(), "include_dashboard": False}
        try:
            ray.init(ignore_reinit_error=True, log_to_driver=False, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; all mean "no Ray"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SeqlabError(f"cannot start Ray ({first})", field="--address" if
                              self.address else "--backend",
                              allowed="a reachable Ray cluster address, or --backend "
                                      "process") from None
        self._started = True

    def imap(self, fn, items):
        ray = self.ray
        self.start()
        remote = ray.remote(fn)
        refs = {remote.remote(item): i for i, item in enumerate(items)}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    yield refs.pop(ref), ray.get(ref)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            self.close()

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False


def make_executor(backend: str, workers: int | None = None,
                  address: str | None = None) -> Executor:
    if workers is not None and not 1 <= workers <= 1024:
        raise SeqlabError(f"{workers} workers", field="--workers",
                          allowed="1 to 1024, or leave it out for one per core")
    if backend == "inline":
        return InlineExecutor()
    if backend == "process":
        return ProcessExecutor(workers)
    if backend == "ray":
        return RayExecutor(address, workers)
    raise SeqlabError(f"unknown backend '{backend}'", field="--backend",
                      allowed=", ".join(BACKENDS))
