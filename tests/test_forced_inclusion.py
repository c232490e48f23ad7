"""Forced inclusion through L1: no design can censor a transaction past the window."""
import numpy as np

from seqlab import sequencing
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.sequencing.base import blocks_per_tick
from seqlab.sequencing.fcfs import FcfsDesign
from seqlab.world import World

VICTIM = 7


class CensorForever(FcfsDesign):
    """FCFS, except that account VICTIM's transactions are never sequenced."""

    name = "censor-forever"

    def attach(self, view) -> None:
        self.txs = view.txs

    def build_blocks(self, ticks):
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible, arrival, now):
        kind, origin = self.txs.kind(eligible), self.txs.origin(eligible)
        return eligible[~((origin == VICTIM) & (kind != 0) & (kind != 6))]


def run(monkeypatch, window):
    monkeypatch.setitem(sequencing.DESIGNS, "censor-forever", CensorForever)
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"].update(design="censor-forever", force_inclusion_window=window)
    w = World(parse_scenario(data))
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result


def test_censored_forever_is_included_after_exactly_the_window(monkeypatch):
    w, result = run(monkeypatch, "2min")
    txs = result.tables["txs"]
    victim = (txs["sender"] == VICTIM) & np.isin(txs["kind"], [1, 2, 3, 4])
    assert victim.sum() > 3
    done = victim & (txs["included_us"] >= 0)
    waited = txs["included_us"][done] - txs["arrival_us"][done]
    # included at the first tick once an L1 block past arrival + window exists
    assert (waited >= 120_000_000).all()
    assert (waited <= 120_000_000 + 12_000_000 + 250_000).all()
    # still pending only if the window had not run out before the end
    late = victim & (txs["included_us"] < 0)
    assert (txs["arrival_us"][late] > 600_000_000 - 120_000_000 - 12_000_000).all()
    assert result.summary["forced_inclusions"] == done.sum()


def test_a_long_window_lets_censorship_last(monkeypatch):
    _, result = run(monkeypatch, "24h")
    txs = result.tables["txs"]
    victim = (txs["sender"] == VICTIM) & np.isin(txs["kind"], [1, 2, 3, 4])
    assert (txs["included_us"][victim] < 0).all()
    assert result.summary["forced_inclusions"] == 0
