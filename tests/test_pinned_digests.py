"""Every built-in scenario under every design gives its pinned digest (``tests/pinned.py``).

A refactor or speed change that alters any result fails here, naming the case. A change
that alters results on purpose re-pins with ``python -m tests.pinned`` and says in its
commit which digests moved and why.
"""
from __future__ import annotations

import json

import pytest

from tests.pinned import PINNED, cases, digest

EXPECTED = json.loads(PINNED.read_text())


def test_every_case_is_pinned():
    assert sorted(EXPECTED) == sorted(f"{s}/{d}" for s, d in cases())


@pytest.mark.parametrize("scenario,design", cases(), ids=[f"{s}/{d}" for s, d in cases()])
def test_digest_unchanged(scenario, design):
    assert digest(scenario, design) == EXPECTED[f"{scenario}/{design}"]
