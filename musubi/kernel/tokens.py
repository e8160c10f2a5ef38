"""Secrets handed to people or programs: API keys, links in emails, coupon codes.

Two kinds:
- *Opaque tokens* (``new_secret``) are random and stored only as a SHA-256 hash, so a stolen database
  does not reveal them. A high-entropy random token needs no slow password hash: guessing is hopeless
  either way, and a fast hash keeps every API call cheap. Lookups go by a short non-secret prefix, and the
  hash is compared in constant time.
- *Signed tokens* (``sign`` / ``unsign``) carry data (a contact id, an order id) that the server can
  trust later without storing anything, scoped by a ``purpose`` so a token for one use cannot be
  replayed for another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.core import signing

# Crockford-like alphabet without look-alikes (0/O, 1/I/L), for codes people read aloud or type.
READABLE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_secret(prefix: str, *, nbytes: int = 32) -> str:
    """A new opaque secret such as ``msk_live_3kTq…``; the prefix tells a reader what it is for."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def readable_code(length: int = 8) -> str:
    """A random code short enough to read aloud (31**8 ≈ 8.5e11 possibilities at length 8)."""
    return "".join(secrets.choice(READABLE_ALPHABET) for _ in range(length))


def sign(value: Any, *, purpose: str) -> str:
    return signing.dumps(value, salt=f"musubi.{purpose}", compress=True)


def unsign(token: str, *, purpose: str, max_age_seconds: int | None = None) -> Any:
    """The value inside ``token``; raises ``signing.BadSignature`` (or ``SignatureExpired``)."""
    return signing.loads(token, salt=f"musubi.{purpose}", max_age=max_age_seconds)
