"""The double-entry ledger: transfers, journal, conservation proof, tamper detection."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.ledger import EXTERNAL, Ledger, LedgerImbalance


def _ledger(n: int = 3) -> tuple[Ledger, np.ndarray]:
    led = Ledger()
    accts = led.open_many("acct", n)
    return led, accts


def test_open_names_and_indices():
    led = Ledger()
    assert led.names == ["external"]
    pool = led.open("pool")
    accts = led.open_many("m", 3)
    assert pool == 1
    assert accts.tolist() == [2, 3, 4]
    assert led.names == ["external", "pool", "m[0]", "m[1]", "m[2]"]


def test_growth_beyond_initial_capacity_keeps_balances():
    led = Ledger()
    first = led.open("first")
    led.transfer(EXTERNAL, first, 123, "deposit")
    many = led.open_many("x", 200)  # forces the balance array to grow
    assert len(led.balances) >= 202
    assert led.balance_of(first) == 123
    led.transfer_many(EXTERNAL, many, np.arange(200), "deposit")
    assert led.balance_of(int(many[-1])) == 199
    assert led.check() == 0


def test_transfer_updates_balances_and_journal():
    led, (a, b, c) = _ledger()
    led.transfer(EXTERNAL, a, 1_000, "deposit")
    led.transfer(a, b, 300, "pay")
    led.transfer(a, c, 0, "pay")  # zero transfers are no-ops, not journal rows
    assert led.balance_of(a) == 700
    assert led.balance_of(b) == 300
    assert led.balance_of(c) == 0
    assert led.balance_of(EXTERNAL) == -1_000
    src, dst, amt, code = led.journal()
    assert src.tolist() == [EXTERNAL, a]
    assert dst.tolist() == [a, b]
    assert amt.tolist() == [1_000, 300]
    assert code.tolist() == [led.reason("deposit"), led.reason("pay")]
    assert led.check() == 0


def test_transfer_many_updates_balances_and_journal_with_broadcast_and_repeats():
    led, accts = _ledger(3)
    led.transfer(EXTERNAL, int(accts[0]), 5, "deposit")  # a scalar row before the batch
    led.transfer_many(EXTERNAL, accts, np.array([10, 20, 30]), "deposit")
    # repeated destination in one batch must accumulate (np.add.at, not fancy assignment)
    led.transfer_many(np.array([accts[1], accts[2]]), accts[0], np.array([7, 11]), "sweep")
    led.transfer_many(accts[0], accts[0:0], np.empty(0, np.int64), "nothing")  # empty batch
    led.transfer(int(accts[2]), int(accts[1]), 1, "after")  # a scalar row after the batch
    assert [led.balance_of(int(x)) for x in accts] == [5 + 10 + 7 + 11, 20 - 7 + 1, 30 - 11 - 1]
    assert led.balance_of(EXTERNAL) == -65
    src, dst, amt, _ = led.journal()
    assert len(src) == 1 + 3 + 2 + 1
    assert amt.tolist() == [5, 10, 20, 30, 7, 11, 1]
    assert src.tolist()[:4] == [EXTERNAL] * 4
    assert dst.tolist()[4:6] == [accts[0], accts[0]]
    assert led.check() == 0


def test_negative_amount_raises_and_changes_nothing():
    led, (a, b, _) = _ledger()
    led.transfer(EXTERNAL, a, 100, "deposit")
    before = led.balances.copy()
    with pytest.raises(ValueError):
        led.transfer(a, b, -1, "bad")
    with pytest.raises(ValueError):
        led.transfer_many(a, np.array([b, b]), np.array([5, -5]), "bad")
    assert np.array_equal(led.balances, before)
    assert len(led.journal()[0]) == 1
    assert led.check() == 0


def test_check_catches_one_sided_mutation():
    led, (a, b, _) = _ledger()
    led.transfer(EXTERNAL, a, 100, "deposit")
    led.transfer(a, b, 40, "pay")
    assert led.check() == 0
    led.balances[b] += 1
    with pytest.raises(LedgerImbalance):
        led.check()


def test_check_catches_sum_preserving_swap_via_journal_replay():
    led, (a, b, _) = _ledger()
    led.transfer(EXTERNAL, a, 100, "deposit")
    led.transfer(a, b, 40, "pay")
    led.balances[[a, b]] = led.balances[[b, a]]  # sum still zero, but not what happened
    assert int(led.balances[: len(led.names)].sum()) == 0
    with pytest.raises(LedgerImbalance, match="journal"):
        led.check()


def test_check_catches_sum_preserving_shift_between_two_accounts():
    led, (a, b, _) = _ledger()
    led.transfer_many(EXTERNAL, np.array([a, b]), np.array([50, 50]), "deposit")
    led.balances[a] -= 10
    led.balances[b] += 10
    with pytest.raises(LedgerImbalance):
        led.check()


def test_check_rejects_negative_internal_account():
    led, (a, b, _) = _ledger()
    led.transfer(a, b, 10, "overdraft")  # the ledger itself does not forbid this...
    with pytest.raises(LedgerImbalance, match="negative"):
        led.check()  # ...but the end-of-run proof does


def test_totals_by_reason():
    led, (a, b, c) = _ledger()
    led.transfer(EXTERNAL, a, 100, "deposit")
    led.transfer_many(EXTERNAL, np.array([b, c]), np.array([5, 6]), "deposit")
    led.transfer(a, b, 7, "fee")
    led.transfer(a, c, 8, "fee")
    led.transfer(b, c, 1, "pnl")
    led.reason("unused")
    assert led.totals_by_reason() == {"deposit": 111, "fee": 15, "pnl": 1, "unused": 0}
    assert led.check() == 0


transfer_ops = st.lists(
    st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 5),
              st.integers(0, 10**12), st.sampled_from(["a", "b", "c"])),
    max_size=60)


@settings(max_examples=100, deadline=None)
@given(ops=transfer_ops, batch_size=st.integers(1, 5))
def test_random_transfers_always_balance(ops, batch_size):
    """Scalar and batched transfers mixed at random: the proof holds, balances and
    per-reason totals match an independent model."""
    led = Ledger()
    every = np.concatenate([[EXTERNAL], led.open_many("x", 5)])
    expected = [0] * len(every)
    totals: dict[str, int] = {}
    batch: list[tuple[int, int, int]] = []
    batch_reason = ""

    def flush() -> None:
        if batch:
            arr = np.array(batch, dtype=np.int64)
            led.transfer_many(every[arr[:, 0]], every[arr[:, 1]], arr[:, 2], batch_reason)
            batch.clear()

    for vectorised, s, d, amount, reason in ops:
        if s != 0:  # only external may go negative: cap by the source's balance
            amount = min(amount, expected[s])
        expected[s] -= amount
        expected[d] += amount
        totals[reason] = totals.get(reason, 0) + amount
        if vectorised:
            if batch and reason != batch_reason:
                flush()
            batch_reason = reason
            batch.append((s, d, amount))
            if len(batch) >= batch_size:
                flush()
        else:
            led.transfer(int(every[s]), int(every[d]), amount, reason)
    flush()
    assert led.check() == 0
    assert led.balances[every].tolist() == expected
    # zero transfers are skipped, so a reason used only with zero may be absent
    assert {k: v for k, v in led.totals_by_reason().items() if v} == \
        {k: v for k, v in totals.items() if v}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("t"), st.integers(1, 4), st.integers(1, 4), st.integers(0, 50)),
    st.tuples(st.just("r"), st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4),
                                               st.integers(1, 50)), min_size=1, max_size=5))),
    max_size=40), st.sampled_from([1, 3, 65_536]))
def test_recorded_rows_and_transfers_journal_in_the_order_made(ops, batch):
    """Rows compiled code applied (``record``) and single transfers interleave in the
    journal exactly in the order they were made, whenever the pending entries are
    flushed; the journal replays to the balances."""
    import seqlab.ledger as ledger_mod

    old = ledger_mod.SCALAR_BATCH, ledger_mod.RECORDED_BATCH
    ledger_mod.SCALAR_BATCH = ledger_mod.RECORDED_BATCH = batch
    try:
        led, accts = _ledger(4)
        led.transfer_many(EXTERNAL, accts, 100_000, "deposit")  # none can go below zero
        expected = [(EXTERNAL, int(a), 100_000, led.reason("deposit")) for a in accts]
        code = led.reason("moved")
        for op in ops:
            if op[0] == "t":
                _, s, d, amount = op
                led.transfer(s, d, amount, "moved")
                if amount:
                    expected.append((s, d, amount, code))
            else:
                rows = np.array([(s, d, a, code) for s, d, a in op[1]], dtype=np.int64)
                np.subtract.at(led.balances, rows[:, 0], rows[:, 2])
                np.add.at(led.balances, rows[:, 1], rows[:, 2])
                led.record(rows)
                rows[:] = -7  # the caller reuses its buffer: the journal keeps its copy
                expected.extend((s, d, a, code) for s, d, a in op[1])
        src, dst, amt, codes = led.journal()
        assert list(zip(src.tolist(), dst.tolist(), amt.tolist(), codes.tolist())) == expected
        assert led.check() == 0
    finally:
        ledger_mod.SCALAR_BATCH, ledger_mod.RECORDED_BATCH = old


payments = st.lists(st.tuples(st.integers(1, 4), st.integers(0, 60)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(payments, st.lists(st.integers(0, 50), min_size=5, max_size=5), st.integers(1, 4),
       st.booleans())
def test_pay_capped_is_transfer_of_the_capped_amount_one_by_one(pays, start, dst, used):
    """Balances, journal rows and reason codes as ``transfer(min(amount, balance))``
    made in order: payers repeat, one may be the payee, zero payments journal nothing,
    and the reason gets its code at its first payment, after any opened before."""
    ledgers = []
    for _ in range(2):
        ledger = Ledger()
        accounts = ledger.open_many("a", 5)
        for a, amount in zip(accounts.tolist(), start):
            ledger.transfer(EXTERNAL, a, amount, "deposit")
        if used:
            ledger.transfer(EXTERNAL, 1, 1, "fee")
        ledgers.append(ledger)
    one, many = ledgers
    for src, amount in pays:
        one.transfer(src, dst, min(amount, one.balances.item(src)), "fee")
    many.pay_capped(np.array([s for s, _ in pays], np.int64), dst,
                    np.array([a for _, a in pays], np.int64), "fee")
    many.transfer(EXTERNAL, 2, 3, "later")  # a reason opened after: the same code
    one.transfer(EXTERNAL, 2, 3, "later")
    assert many.balances.tolist() == one.balances.tolist()
    for a, b in zip(many.journal(), one.journal()):
        assert a.tolist() == b.tolist()
    assert many.totals_by_reason() == one.totals_by_reason()
    many.check()


def test_pay_capped_refuses_a_payer_below_zero_after_the_payments_before():
    ledger = Ledger()
    a, b, c = ledger.open_many("a", 3).tolist()
    ledger.transfer(EXTERNAL, a, 10, "deposit")
    ledger.balances[b] = -5  # a broken account: what transfer would refuse to draw on
    with pytest.raises(ValueError, match="negative transfer -5"):
        ledger.pay_capped(np.array([a, b], np.int64), c, np.array([4, 4], np.int64), "fee")
    assert ledger.balances[a] == 6 and ledger.balances[c] == 4
    assert ledger.journal()[2].tolist()[-1] == 4  # the payment made is journaled
