"""No design leaves the operator holding a perps position it did not mean to keep.

The operator opens a position only for a stale-price trade (closed right after the oracle
update) or a sandwich (closed right after the victim); both are flat again within the
block. Every design runs here with every strategy on — on the tiny scenario, on one
where sandwiches pay, with an options market beside the perps, and with a byzantine
committee leader that orders its own slots — and the operator's two trading accounts
must be flat at the end. (Options the operator buys at stale marks are held to expiry
and cash-settled: intended, and not a perps position.)

Under proposer-builder separation every builder's two accounts must end flat too, also
when a builder holds the oracle update it traded ahead of (``oracle_delay``) and a rival
wins the next block and executes the update: the builder then closes in a later block.
"""
import pytest

from seqlab.sequencing import DESIGNS
from tests.test_designs import SANDWICH, world

VARIANTS = {
    "plain": {},
    "sandwiches-pay": SANDWICH,
    "options": {"protocol.options": {"enabled": True}},
}
LEADER_ORDERS = {"sequencer.committee": {"ordering": "leader", "byzantine": 1}}
# rival extractive builders, each holding the update it traded ahead of for two seconds
UPDATE_HELD = {"sequencer.strategy": {"oracle_delay": "2s"},
               "sequencer.builders": {"count": 3, "mix": ["extractive"] * 3}}
CASES = [(d, v, VARIANTS[v]) for d in sorted(DESIGNS) for v in sorted(VARIANTS)] \
    + [("committee", "leader-orders", LEADER_ORDERS), ("builders", "update-held", UPDATE_HELD)]


@pytest.mark.parametrize("design, variant, changes", CASES,
                         ids=[f"{d}-{v}" for d, v, _ in CASES])
def test_operator_accounts_end_flat(design, variant, changes):
    w, _ = world(design, **changes)
    for party in w.operator_accounts.parties:  # the operator, then each builder
        sizes = {"stale_oracle": int(w.protocol.size[party.stale]),
                 "sandwich": int(w.protocol.size[party.sandwich])}
        assert sizes == {"stale_oracle": 0, "sandwich": 0}, party
