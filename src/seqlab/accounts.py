"""Who owns which account, by name: the sequencing side's perps accounts and liquidator
identities.

Metrics and protocols read this layout as well as the designs that trade from it, so it
lives apart from the operator's view (which depends on the perps protocol): a protocol's
own report can then name the operator's accounts without a loop in the imports.
"""
from __future__ import annotations

from dataclasses import dataclass

OPERATOR_LIQUIDATORS = ("operator-backrun", "operator-censor")


@dataclass(frozen=True)
class OperatorAccounts:
    """Where the operator trades and liquidates, by name.

    Perps accounts come after the users' (stale-oracle trades, then sandwiches), its two
    liquidation identities after the outside bots'; every design gets the same layout,
    so runs under different designs pair account by account. Independent builders, where
    a design has them, get the same four accounts each, after the operator's. ``after``
    is the one place that layout is decided.
    """

    stale: int          # perps account of stale-oracle trades
    sandwich: int       # perps account of sandwiches
    backrun: int        # liquidator identity of backrun liquidations
    censor: int         # liquidator identity of censorship liquidations
    first_outside: int  # perps accounts from here on are not users'
    # independent block builders (proposer-builder separation), each with the same four
    # accounts of its own right after the operator's: a builder's profit stays its own
    builders: tuple["OperatorAccounts", ...] = ()

    @classmethod
    def after(cls, users: int, bots: int, builders: int = 0) -> "OperatorAccounts":
        own = tuple(cls(stale=users + 2 * i, sandwich=users + 2 * i + 1, backrun=bots + 2 * i,
                        censor=bots + 2 * i + 1, first_outside=users)
                    for i in range(1, builders + 1))
        return cls(stale=users, sandwich=users + 1, backrun=bots, censor=bots + 1,
                   first_outside=users, builders=own)

    @property
    def parties(self) -> tuple["OperatorAccounts", ...]:
        """Everyone on the sequencing side with accounts: the operator, then builders."""
        return (self, *self.builders)

    @property
    def trading_accounts(self) -> int:
        """Perps accounts of the sequencing side (two per party), funded with capital."""
        return 2 * len(self.parties)

    @property
    def identities(self) -> tuple[int, ...]:
        """The sequencing side's liquidator identities (each party's backrun, then its
        censor), in identity order: consecutive, right after the outside bots'."""
        return tuple(i for party in self.parties for i in (party.backrun, party.censor))

    @property
    def liquidator_names(self) -> list[str]:
        """Names of the sequencing side's liquidator identities, in identity order."""
        return [*OPERATOR_LIQUIDATORS, *(f"builder-{i}-{role}" for i in range(len(self.builders))
                                         for role in ("backrun", "censor"))]

    @property
    def next_free(self) -> int:
        """The first perps account after the sequencing side's (cross-rollup arbitrageurs)."""
        return self.parties[-1].sandwich + 1
