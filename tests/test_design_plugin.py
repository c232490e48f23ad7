"""A new sequencer design is one module plus one registration line.

The toy design below lives outside seqlab (written to a temporary folder, as a user's own
module would be): it includes a transaction only once it has waited ``HOLD`` at the
sequencer. Registered with ``seqlab.sequencing.register``, it is selectable by name in a
scenario, in ``run`` and in ``compare``, and its rule shows in the stored transactions.
"""
import textwrap

import numpy as np
import pytest

import seqlab
from seqlab import sequencing
from seqlab.errors import SeqlabError
from tests.plugins import forget, import_written
from seqlab.txs import Status
from tests.pinned import shrunk

TOY = textwrap.dedent('''
    """Slow lane: a transaction goes into a block only after waiting HOLD_US."""
    from seqlab.sequencing.base import QueuedDesign, blocks_per_tick

    HOLD_US = 1_000_000


    class SlowLane(QueuedDesign):
        name = "slow-lane"

        def build_blocks(self, ticks):
            return blocks_per_tick(ticks, self.queue,
                                   lambda ids, arrival, now: ids[arrival <= now - HOLD_US])
''')


@pytest.fixture
def slow_lane(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "slow_lane_design", TOY)
    sequencing.register("slow-lane", module.SlowLane, "toy: every tx waits 1 s")  # the line
    yield module
    sequencing.DESIGNS.pop("slow-lane")
    sequencing.DESCRIPTIONS.pop("slow-lane")
    forget("slow_lane_design")


def test_a_registered_design_runs_by_name_and_its_rule_holds(slow_lane):
    result = seqlab.run(shrunk("tiny", "slow-lane"), report=False)
    txs = result.tables["txs"]
    done = txs["status"] == int(Status.OK)
    assert result.summary["design"] == "slow-lane" and done.sum() > 100
    wait = txs["included_us"][done] - txs["arrival_us"][done]
    forced = wait >= shrunk("tiny", "slow-lane").scenario.sequencer.force_inclusion_window
    assert (wait[~forced] >= slow_lane.HOLD_US).all()
    fcfs = seqlab.run(shrunk("tiny", "fcfs"), report=False).tables["txs"]
    ok = fcfs["status"] == int(Status.OK)
    assert np.median(fcfs["included_us"][ok] - fcfs["arrival_us"][ok]) < slow_lane.HOLD_US


def test_a_registered_design_is_a_compare_row(slow_lane):
    out = seqlab.compare(shrunk("tiny", "fcfs"), designs=["fcfs", "slow-lane"], report=False)
    assert set(out.summary["designs"]) >= {"slow-lane"}


def test_registration_refuses_a_taken_or_malformed_name():
    with pytest.raises(ValueError, match="already registered"):
        sequencing.register("honest", sequencing.DESIGNS["honest"], "again")
    with pytest.raises(ValueError, match="letters, digits"):
        sequencing.register("a b", sequencing.DESIGNS["honest"], "bad")
    with pytest.raises(SeqlabError, match="slow-lane"):
        sequencing.check_design("slow-lane")
