"""The compiled trade path (``protocols.perps_kernel``) against the Python handlers it
stands in for: exact 128-bit products, and random blocks of trades, closes, reduces,
top-ups, withdrawals and price moves leaving identical state, journal and fills."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.ledger import Ledger
from seqlab.protocols.perps import PerpsProtocol
from seqlab.protocols.perps_kernel import _divide128, _muldiv
from seqlab.scenario.schema import Perps
from seqlab.txs import Kind, TxStore

PPM = 1_000_000
BIG = 2 ** 62


@settings(max_examples=400, deadline=None)
@given(st.integers(-BIG, BIG), st.integers(-BIG, BIG),
       st.integers(-BIG, BIG).filter(lambda z: z != 0))
def test_muldiv_is_pythons_floor_of_the_exact_product(x, y, z):
    fits, value = _muldiv(x, y, z)
    exact = x * y // z
    if abs(exact) < 2 ** 63 - 2:  # every result that fits is computed
        assert fits
    if fits:
        assert value == exact


# operands at the edges of the two-digit division: digit boundaries, the largest
# values (a divisor's normalising shift from 1, for 2**63 - 1, to 63, for 1), and
# products whose quotient lands either side of 2**63
EDGES = [1, 2, 3, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 62 - 1,
         2 ** 62, 2 ** 63 - 1, 10 ** 6, 10 ** 9, 3 * 10 ** 9, 10 ** 18]
edgy = st.one_of(st.sampled_from(EDGES), st.integers(1, 2 ** 63 - 1)).flatmap(
    lambda v: st.sampled_from([v, -v]))


@settings(max_examples=600, deadline=None)
@given(edgy, edgy, edgy)
def test_muldiv_at_the_divisions_edges(x, y, z):
    fits, value = _muldiv(x, y, z)
    exact = x * y // z
    if abs(exact) < 2 ** 63 - 2:  # as above: every result that fits is computed
        assert fits
    if fits:
        assert value == exact


# quotient digits where the digit estimate overshoots (near 2**32) or is trivial
digit = st.one_of(st.sampled_from([0, 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1]),
                  st.integers(0, 2 ** 32 - 1))
divisor = st.one_of(st.sampled_from([1, 2, 2 ** 32 - 1, 2 ** 32 + 1, 2 ** 62 + 2 ** 31 - 1,
                                     2 ** 63 - 1, (2 ** 31 + 1) * (2 ** 32 - 1)]),
                    st.integers(1, 2 ** 63 - 1))


@settings(max_examples=800, deadline=None)
@given(digit, digit, divisor, st.data())
def test_the_two_digit_division_is_exact(high_digit, low_digit, z, data):
    """Built from its answer: ``q·z + r`` (any quotient below 2**64, any remainder) comes
    back as ``(q, r)``, the digits' corrections included."""
    q = high_digit << 32 | low_digit
    r = data.draw(st.one_of(st.sampled_from([0, z - 1]), st.integers(0, z - 1)))
    n = q * z + r
    got = _divide128(np.uint64(n >> 64), np.uint64(n & (2 ** 64 - 1)), np.uint64(z))
    assert (int(got[0]), int(got[1])) == (q, r)


def _market(cap_usd: float, share: float, scale: float) -> PerpsProtocol:
    cfg = Perps(taker_fee_bps=5.0, initial_margin=0.05, maintenance_margin=0.03,
                liquidation="fixed", liquidation_bonus=0.02, liquidation_fee=0.0,
                close_factor=0.5, full_close_health=0.0, funding_interval="1h",
                funding_rate_cap=0.0005, insurance_fund_usd=1_000_000.0,
                pool_usd=1e9, max_open_interest_usd=cap_usd, fee_to_pool_share=share,
                skew_scale=scale)
    p = PerpsProtocol(cfg, Ledger(), TxStore(), accounts=4, liquidators=["a"])
    p.fund_accounts(np.array([1e3, 1e5, 5e6, 2e8]), np.full(4, 1e6))
    return p


_KINDS = [Kind.TRADE] * 5 + [Kind.CLOSE, Kind.REDUCE, Kind.TOPUP, Kind.WITHDRAW, Kind.ORACLE]
tx_strategy = st.tuples(st.sampled_from(_KINDS), st.integers(0, 3),
                        st.one_of(st.integers(-10 ** 10, 10 ** 10),
                                  st.integers(-2 * 10 ** 13, 2 * 10 ** 13)),
                        st.integers(100, 5_000), st.integers(0, 10_000))


def _block(p: PerpsProtocol, block: list, n: int, batch: bool = False) -> np.ndarray:
    kinds = np.array([int(k) for k, *_ in block])
    a = np.array([bps if k == Kind.REDUCE else price * PPM if k == Kind.ORACLE
                  else abs(x) if k in (Kind.TOPUP, Kind.WITHDRAW) else x
                  for k, _, x, price, bps in block], dtype=np.int64)
    t = np.full(len(block), 1_000_000 * n, dtype=np.int64)
    ids = p.txs.add_many(kinds, np.array([i for _, i, *_ in block]), t, t, a=a,
                         b=np.where(kinds == Kind.ORACLE, n, 0))
    status = p.execute(ids, np.full(len(ids), n), t, batch)
    p.end_block(ids)
    return status


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(tx_strategy, min_size=1, max_size=8), min_size=1, max_size=12),
       st.sampled_from([0.0, 3e6, 1e9]), st.sampled_from([0.0, 0.63, 1.0]),
       st.sampled_from([0.0, 1e6]), st.booleans())
def test_compiled_trades_equal_the_python_handlers(blocks, cap, share, scale, batch):
    """Also under batch clearing, where every trade of a block fills at one price."""
    fast, slow = _market(cap, share, scale), _market(cap, share, scale)
    slow.compiled_trades = False
    for p in (fast, slow):
        _block(p, [(Kind.ORACLE, 0, 0, 2_000, 0)], 0)
    for n, block in enumerate(blocks, 1):
        s_fast, s_slow = _block(fast, block, n, batch), _block(slow, block, n, batch)
        assert s_fast.tolist() == s_slow.tolist()
        # the accounts each touched, in order (the kernel's first run kept as an array)
        touched = [p.margin_view._touched_ids().tolist() for p in (fast, slow)]
        assert touched[0] == touched[1]
        fast.margin_view.refresh(), slow.margin_view.refresh()
    for name in ("size", "basis", "traded", "exposure", "_price_time_at"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert (fast.skew, fast._held, fast.log.pool_shortfall, fast.log.bad_debt) == \
        (slow.skew, slow._held, slow.log.pool_shortfall, slow.log.bad_debt)
    assert np.array_equal(fast.txs.fill[: fast.txs.n], slow.txs.fill[: slow.txs.n])
    assert fast.ledger.balances.tolist() == slow.ledger.balances.tolist()
    for mine, theirs in zip(fast.ledger.journal(), slow.ledger.journal()):
        assert mine.tolist() == theirs.tolist()
    assert fast.ledger.totals_by_reason() == slow.ledger.totals_by_reason()
    assert fast.ledger.check() == 0


def test_a_loss_beyond_the_margin_is_left_to_the_bad_debt_rule():
    """A close whose loss exceeds the margin goes to Python, whose bad-debt rule carries
    it: the same books as with no compiled path, and the shortfall recorded."""
    books = []
    for compiled in (True, False):
        p = _market(0.0, 1.0, 1e6)
        p.compiled_trades = compiled
        _block(p, [(Kind.ORACLE, 0, 0, 2_000, 0)], 0)
        _block(p, [(Kind.TRADE, 0, 15_000 * PPM, 0, 0)], 1)
        _block(p, [(Kind.ORACLE, 0, 0, 1_000, 0), (Kind.CLOSE, 0, 0, 0, 0),
                   (Kind.TRADE, 1, 10_000 * PPM, 0, 0)], 2)
        assert p.size[0] == 0 and p.size[1] > 0 and p.ledger.check() == 0
        carried = p.log.bad_debt + p.log.insurance_covered + p.log.deleveraged
        books.append((p.ledger.balances.tolist(), carried,
                      [c.tolist() for c in p.ledger.journal()]))
    assert books[0] == books[1]
    assert books[0][1] > 0
