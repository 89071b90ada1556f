"""Identifier checks (GB 11643, GB 32100, passports) and keyed pseudonyms.

Clear identities never leave the file they arrived in: the ingest turns each into
an HMAC-SHA256 key before anything is written. The same person gets the same key at
every lender, and nobody without the exchange's secret can reverse it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

from exchange.core.errors import ConfigError, ExchangeError

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RESIDENT_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_USCC_RE = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")
_PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,20}$")
_PHONE_RE = re.compile(r"^1[0-9]{10}$")
"""Digits are ASCII 0-9 only (DOMAIN section 3): Python's \\d and int() also take other scripts'
digits, and the same number in two scripts would give one person two keys."""


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalise(id_type: str, value: str) -> str:
    """Canonical form used for checks and keys: upper case, no spaces (full-width folded)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()


def check_id(id_type: str, value: str) -> str | None:
    """Return None when `value` (already normalised) is a valid `id_type`, else a reason code.

    R_ID_FORMAT: wrong length, alphabet or impossible birth date; R_ID_CHECKSUM: the
    shape is right but the check character is not.
    """
    if id_type == "RESIDENT_ID":
        if not _RESIDENT_RE.match(value):
            return "R_ID_FORMAT"
        try:
            dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            return "R_ID_FORMAT"
        if value[:2] == "00":
            return "R_ID_FORMAT"
        return None if resident_id_check_char(value[:17]) == value[17] else "R_ID_CHECKSUM"
    if id_type == "USCC":
        if not _USCC_RE.match(value):
            return "R_ID_FORMAT"
        return None if uscc_check_char(value[:17]) == value[17] else "R_ID_CHECKSUM"
    if id_type == "PASSPORT":
        return None if _PASSPORT_RE.match(value) else "R_ID_FORMAT"
    return "R_ENUM"


def check_phone(value: str) -> bool:
    """A mainland mobile number: 11 ASCII digits starting with 1 (already NFKC-folded)."""
    return bool(_PHONE_RE.match(value))


def normalise_name(value: str) -> str:
    """Names compare after NFKC folding and without white space (全角/半角, stray spaces)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


class Pseudonymizer:
    """Keyed hashing of identities; holds the secret so callers never handle it."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ConfigError("C_SECRET", "the pseudonymization secret must be at least 16 bytes")
        self._secret = secret

    def key(self, namespace: str, value: str) -> str:
        return hmac.new(self._secret, f"{namespace}:{value}".encode(), hashlib.sha256).hexdigest()

    def borrower_key(self, id_type: str, normalised_id: str) -> str:
        """HMAC-SHA256 over `id_type:normalised_id` (DOMAIN section 3): one person, one key.

        Every valid identifier is ASCII once normalised; anything else (another script's digits)
        is refused here too, so no caller can mint a second key for the same person.
        """
        if not normalised_id.isascii():
            raise ExchangeError("R_ID_FORMAT", "an identifier's digits must be 0-9", field="id_number")
        return self.key(id_type, normalised_id)

    def name_hash(self, name: str) -> str:
        return self.key("NAME", normalise_name(name))

    def phone_hash(self, phone: str) -> str:
        return self.key("PHONE", phone)

    def loan_ref(self, lender_code: str, loan_id: str) -> str:
        """The loan reference members see instead of a lender's contract number."""
        return self.key("LOAN", f"{lender_code}:{loan_id}")


def load_pseudonymizer(state_dir: Path) -> Pseudonymizer:
    """The secret comes from EXCHANGE_PSEUDONYM_KEY; else one generated once under .exchange/.

    The generated file is created with mode 0600 and never committed (.exchange/ is ignored).
    """
    env = os.environ.get("EXCHANGE_PSEUDONYM_KEY")
    if env:
        return Pseudonymizer(env.encode())
    path = state_dir / "pseudonym.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return Pseudonymizer(path.read_text().strip().encode())
