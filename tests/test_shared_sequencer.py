"""A shared sequencer as each rollup's assembly meets it: the first rollup seated brings
the down windows and every later one runs under them; committees join one consensus in
the order the rollups are seated, other designs join nothing."""
import numpy as np

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing import make_design
from seqlab.sequencing.committee import CommitteeDesign
from seqlab.sequencing.shared import SharedSequencer


def test_the_first_rollup_brings_the_outages_and_committees_join_in_order():
    shared = SharedSequencer()
    first = np.array([[10, 20]], dtype=np.int64)
    designs = [make_design(Sequencer(design="committee")) for _ in range(3)]
    assert all(isinstance(d, CommitteeDesign) for d in designs)
    assert shared.seat(designs[0], first) is first
    own = np.array([[5, 50], [60, 70]], dtype=np.int64)  # a later rollup's own draw
    assert shared.seat(designs[1], own) is first
    assert shared.seat(designs[2], np.empty((0, 2), np.int64)) is first
    assert shared.rounds.members == designs
    assert all(d.shared is shared.rounds for d in designs)


def test_a_design_without_consensus_joins_nothing():
    shared = SharedSequencer()
    fcfs = make_design(Sequencer(design="fcfs"))
    none = np.empty((0, 2), np.int64)
    assert shared.seat(fcfs, none) is none and not shared.rounds.members
    committee = make_design(Sequencer(design="committee"))
    assert shared.seat(committee, np.array([[1, 2]], np.int64)) is none
    assert shared.rounds.members == [committee]
