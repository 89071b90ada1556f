"""Exceptions that carry a reason code.

Every failure a lender or operator can see has a stable code (the same codes the
submission spec documents), so feedback files, logs and tests speak one language.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """A failure with a reason code from the spec's catalogue (or an operational code)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.field = field
        self.line = line


class FileRejected(ExchangeError):
    """The whole file is refused (structure, name, lender, encoding, duplicate ...)."""


class ConfigError(ExchangeError):
    """The exchange itself is mis-configured (database, secret, paths)."""
