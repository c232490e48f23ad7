"""Capped payments in compiled code: each payer pays what it owes, or all it has.

Priority tips are charged one by one after every block (a payer may run short, so each
payment must see the balances the earlier ones left), which in Python costs a transfer
call and a journal tuple per tip: most of a tipped block's fee work. ``pay_capped`` makes
the same payments in the same order on the balances in place and writes their journal
rows, as ``Ledger.transfer`` would have one by one.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def pay_capped(src: np.ndarray, dst: int, amounts: np.ndarray, code: int,
               balances: np.ndarray, rows: np.ndarray) -> int:
    """``src[k]`` pays ``dst`` the smaller of ``amounts[k]`` and its balance, in order;
    a payment of zero is left out of the journal. Writes the ``(src, dst, amount,
    code)`` rows of the payments made; returns how many, or ``-1 - k`` when payment
    ``k`` would be negative (a payer already below zero: ``transfer`` refuses it), the
    payments before it made and written."""
    n = 0
    for k in range(len(src)):
        s = src[k]
        paid = min(amounts[k], balances[s])
        if paid < 0:
            return -1 - k
        if paid == 0:
            continue
        balances[s] -= paid
        balances[dst] += paid
        rows[n, 0], rows[n, 1], rows[n, 2], rows[n, 3] = s, dst, paid, code
        n += 1
    return n
