"""Pure decisions about contacts: how addresses are written down, and whether a message may go out."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from django.utils.translation import gettext as _

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidAddress(ValueError):
    pass


def normalise_email(value: str) -> str:
    """One spelling per mailbox: full-width characters folded (Japanese keyboards type ＠), case folded.

    The local part is case-insensitive at every mailbox provider a small business meets in practice, so
    ``Taro@Example.jp`` and ``taro@example.jp`` are one person.
    """
    folded = unicodedata.normalize("NFKC", value).strip().lower()
    if not _EMAIL.match(folded) or len(folded) > 254:
        raise InvalidAddress("not an email address")
    return folded


def normalise_phone(value: str, *, default_country: str = "JP") -> str:
    """A phone number in E.164 (+819012345678). Japanese numbers may be written the Japanese way
    (090-1234-5678, ０９０（１２３４）５６７８); others need their +country code."""
    digits = unicodedata.normalize("NFKC", value).strip()
    plus = digits.startswith("+")
    digits = re.sub(r"[\s\-().\u2010-\u2015\u2212\u30fc\uff70]", "", digits.lstrip("+"))  # every dash people type
    if not digits.isdigit():
        raise InvalidAddress("a phone number has only digits, spaces, hyphens and brackets")
    if plus:
        e164 = "+" + digits
    elif default_country == "JP" and digits.startswith("0") and len(digits) in (10, 11):
        e164 = "+81" + digits[1:]
    else:
        raise InvalidAddress("write the number with its country code, e.g. +81 90 1234 5678")
    if not 8 <= len(e164) - 1 <= 15:
        raise InvalidAddress("not a phone number")
    return e164


def written_phone(e164: str) -> str:
    """A number as people write it: Japanese ones the Japanese way with hyphens (090-1234-5678), which a
    spreadsheet also keeps as text with its leading zero; others as +country digits with a space.
    ``normalise_phone`` reads both back."""
    if e164.startswith("+81"):
        digits = "0" + e164[3:]
        if len(digits) == 11:
            return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        return f"{digits[:-8]}-{digits[-8:-4]}-{digits[-4:]}"
    return f"{e164[:3]} {e164[3:]}"


def normalise_line_user_id(value: str) -> str:
    """LINE user ids are "U" followed by 32 hexadecimal characters."""
    value = value.strip()
    if not re.fullmatch(r"U[0-9a-f]{32}", value):
        raise InvalidAddress("not a LINE user id")
    return value


def wording_hash(text: str) -> str:
    """The fingerprint of the consent wording a person saw, so the record proves what they agreed to."""
    canonical = " ".join(unicodedata.normalize("NFKC", text).split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def pseudonym(value: str) -> str:
    """What an erased person's address becomes in records that must outlive them: stable, not reversible."""
    return "erased:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def may_send_marketing(*, has_basis: bool, withdrawn: bool, suppressed: bool) -> bool:
    """Advertising goes out only on a legal basis that was not withdrawn, and never to a suppressed address:
    suppression beats every basis (特定電子メール法 Art. 3-3)."""
    return has_basis and not withdrawn and not suppressed


def field_key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a custom field or survey answer, or None. Keys are letters (any script), digits,
    ``_`` and ``-``; a key that reads as a whole number would be taken for a position in a list by the
    databases' JSON paths, so it needs a letter."""
    if not re.fullmatch(r"[\w\-]{1,64}", key):
        return _("Use 1–64 letters, digits, “_” or “-”.")
    try:
        int(key)
    except ValueError:
        return None
    return _("A key needs at least one letter.")
