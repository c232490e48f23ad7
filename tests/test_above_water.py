"""The liquidatable accounts above water, kept as the margin view changes
(``agents.above_water``), are at every block and every poll exactly those a scan of
every flag and every flagged account's exact equity finds; and the bots, weighing only
those, do what they did weighing every flagged account."""
from __future__ import annotations

import numpy as np
import pytest

from seqlab.agents.perps_feed import PerpsAgents
from tests.worlds import tiny_world


def _scanned(p) -> list[int]:
    flagged = p.liquidatable()
    return flagged[~p.underwater(flagged)].tolist()


@pytest.mark.parametrize("variant, seed, runner", [("stress", 1, False), ("stress", 2, True),
                                                   ("losing", 3, False), ("eager", 1, True)])
def test_the_accounts_kept_are_those_a_scan_finds(monkeypatch, variant, seed, runner):
    checked = []
    on_block, scan = PerpsAgents.on_block, PerpsAgents.scan

    def check(agents):
        kept = agents.above_water.accounts()
        assert kept.tolist() == _scanned(agents.protocol)
        assert not kept.flags.writeable
        checked.append(len(kept))

    def checked_block(self, *args):
        on_block(self, *args)
        check(self)

    def checked_scan(self, *args):
        scan(self, *args)
        check(self)

    monkeypatch.setattr(PerpsAgents, "on_block", checked_block)
    monkeypatch.setattr(PerpsAgents, "scan", checked_scan)
    world = tiny_world("honest", seed, variant, runner=runner)
    world.run()
    assert len(checked) > 100 and max(checked) > 0  # some above water, met many times
    p = world.protocol
    assert len(p.liquidatable()) > len(_scanned(p)) or variant != "stress"  # and some under


def test_weighing_only_those_changes_nothing(monkeypatch):
    """The same world with the bots weighing every flagged account (as they did before
    the accounts were kept) ends the same, to the digest."""
    fast = tiny_world("honest", 2, "stress", runner=False).run().summary["digest"]
    monkeypatch.setattr(PerpsAgents, "water_is_worthless", lambda self: False)
    slow = tiny_world("honest", 2, "stress", runner=False).run().summary["digest"]
    assert fast == slow
