"""The safety bound of the committee: equivocation by at most f byzantine members never
certifies two blocks at one height; beyond f it can, and the run reports each fork."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqlab.sequencing.committee as committee_module
from seqlab.consensus import equivocation_votes, forks, quorum_size
from seqlab.sequencing.committee import SafetyViolation

from tests.test_committee import run

sizes = st.integers(min_value=4, max_value=1024)


@given(sizes)
def test_two_quorums_share_an_honest_member_and_honest_members_form_one(n):
    f, q = (n - 1) // 3, quorum_size(n)
    assert 2 * q - n >= f + 1  # safety: any two quorums meet in f+1 members
    assert q <= n - f          # liveness: the honest members alone are a quorum


@given(sizes, st.data())
def test_at_most_f_equivocating_members_never_fork(n, data):
    f = (n - 1) // 3
    byzantine = data.draw(st.integers(min_value=0, max_value=f))
    crashed = data.draw(st.integers(min_value=0, max_value=f - byzantine))
    assert not forks(n, n - byzantine - crashed, byzantine)


@given(sizes)
def test_more_than_f_equivocating_members_can_fork(n):
    f = (n - 1) // 3
    forking = [b for b in range(f + 1, n + 1) if forks(n, n - b, b)]
    assert forking and min(forking) <= f + 2
    if n == 3 * f + 1:  # one member past the bound is enough
        assert min(forking) == f + 1


def test_two_f_plus_one_quorums_would_fork_with_f_members():
    """n = 6, f = 1: with quorums of 2f+1 = 3, one equivocating leader gets 4 and 3
    votes, two certified blocks; ceil((n+f+1)/2) = 4 keeps the second out."""
    assert equivocation_votes(5, 1) == (4, 3)
    assert quorum_size(6) == 4 and not forks(6, 5, 1)


@settings(max_examples=6, deadline=None)
@given(st.integers(min_value=4, max_value=9), st.data())
def test_runs_within_the_bound_keep_safety(n, data):
    byzantine = data.draw(st.integers(min_value=1, max_value=(n - 1) // 3))
    _, s = run({"nodes": n, "byzantine": byzantine, "equivocate": True})
    assert s["safety_ok"] and s["safety_violations"] == 0
    assert not s["byzantine_over_f"]
    assert s["committee_blocks"] > 0


def test_a_run_beyond_the_bound_reports_its_forks():
    """n = 4, f = 1, two equivocating members: every block they lead is forked."""
    w, s = run({"nodes": 4, "byzantine": 2, "equivocate": True})
    assert s["byzantine_over_f"] and not s["safety_ok"]
    led = sum(1 for h in range(w.design.height) if h % 4 < 2)  # no view changes here
    assert s["view_changes"] == 0
    assert s["safety_violations"] == led > 0
    _, calm = run({"nodes": 4, "byzantine": 2})  # the same members, not equivocating
    assert calm["byzantine_over_f"] and calm["safety_ok"] and calm["safety_violations"] == 0


def test_a_fork_within_the_bound_is_raised(monkeypatch):
    """The check itself: were quorums only 2f+1, n = 6 with one equivocating member
    would fork, and within the bound that is a bug, so the run stops."""
    monkeypatch.setattr(committee_module, "forks",
                        lambda n, honest, byzantine: min(equivocation_votes(honest, byzantine))
                        >= 2 * ((n - 1) // 3) + 1)
    with pytest.raises(SafetyViolation, match="height"):
        run({"nodes": 6, "byzantine": 1, "equivocate": True})
