"""The one error base of the project: what went wrong and how to fix it, printed by the CLI as two lines.

Every error the pipeline raises on purpose (bad input, a busy checkout, an unreachable service, a missing
file) derives from `StudiesError`, so `studies` catches them in one place. `fix` says what to do; when a
message already ends with "Fix: ...", that part is split off into `fix`.
"""

from __future__ import annotations


class StudiesError(Exception):
    """An error with a fix the user can apply. `str(err)` is the message alone; `err.fix` is the remedy."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        text, sep, tail = message.partition(" Fix: ")
        if fix is None and sep:
            message, fix = text, tail
        super().__init__(message)
        self.fix = fix

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} Fix: {self.fix}" if self.fix else base
