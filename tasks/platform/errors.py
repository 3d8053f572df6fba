"""The one error base of the project: what went wrong and how to fix it, printed by the CLI as two lines.

Every error the pipeline raises on purpose (bad input, a busy checkout, an unreachable service, a missing
file) derives from `StudiesError`, so `studies` catches them in one place. `fix` says what to do; when a
message already ends with "Fix: ...", that part is split off into `fix`.

The science code (studies/) cannot import this module: it refuses bad input with ValueErrors whose message
says the fix. Where a command hands user input to it, `refused_input()` turns those into `BadInput` here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

_FIX = re.compile(r"\s+Fix: ")  # "... Fix: ..." on one line, or DVC's output followed by "\nFix: ..."


class StudiesError(Exception):
    """An error with a fix the user can apply. `str(err)` is the message and the fix; `err.message` the
    message alone; `err.fix` the remedy (None when there is nothing better to say than the message)."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        if fix is None and len(parts := _FIX.split(message, maxsplit=1)) == 2:
            message, fix = parts
        super().__init__(message)
        self.fix = fix

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class UsageError(StudiesError):
    """A command-line option or argument the command cannot use as given."""


class NotReady(StudiesError):
    """Something the command needs has not been made yet: a trained model, an ingested dataset, a server."""


class BadInput(StudiesError):
    """Input the science code refused (its ValueError, with the fix it names)."""


@contextmanager
def refused_input() -> Iterator[None]:
    """Inside, a ValueError from the science code becomes a BadInput with the same message (and fix);
    StudiesErrors pass unchanged."""
    try:
        yield
    except StudiesError:
        raise
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
