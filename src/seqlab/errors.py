"""The one error type a user can cause.

Everything a user can get wrong (a bad scenario, an unknown design, an unreadable data
file) raises ``SeqlabError``; the CLI prints its one line and exits with status 2.
Anything else escaping is a bug in seqlab and keeps its traceback.
"""
from __future__ import annotations


class SeqlabError(Exception):
    """A user-facing error naming where the problem is and what is allowed."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 allowed: str | None = None) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.allowed = allowed
        super().__init__(self.line())

    def line(self) -> str:
        """The single line shown to the user: ``file: field: message (allowed: …)``."""
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join(parts + [self.message])
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, escapes) written as ``\\n``-style
    escapes, so an error is always exactly one line whatever a user's input held."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
