"""Secrets Musubi must use again — a LINE channel's token, a Stripe key, a DKIM private key — kept encrypted
in the database, so a copied database or backup does not hand them over.

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256, from ``cryptography``) behind the text ``fernet:``.
The keys come from ``MUSUBI_SECRET_KEYS``, a comma-separated list of Fernet keys: the first encrypts, every
one decrypts, so a key is rotated by putting a new one first and running ``musubi reencrypt_secrets``.
With no list, one key is derived from ``SECRET_KEY`` by HKDF, so a fresh install works with nothing to
configure; that derived key is always kept as the last key for decryption, so rows saved before the list
was set still open (``musubi check-deploy`` warns while it is the key that encrypts).

A value that no key opens raises :class:`SecretUnreadable` naming the field — never the stored text passed
off as the secret. Only ``exact`` with the empty string and ``isnull`` can be queried: each encryption of
the same value differs, so any other comparison would silently match nothing.

Why not a package: django-fernet-encrypted-fields (the maintained one) derives its keys only from
SECRET_KEY and a salt, and answers a value it cannot decrypt with the ciphertext itself; the others found
are unmaintained or tied to a different design (key files, pickled values).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MARKER = "fernet:"
_HKDF_SALT = b"musubi secrets at rest"
_HKDF_INFO = b"fernet key v1"


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret that none of the configured keys decrypts: the key it was saved with is missing."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from Django's SECRET_KEY (HKDF-SHA256; its own salt and info, so it is
    independent of every other use of SECRET_KEY)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


def configured_keys() -> list[str]:
    keys = getattr(settings, "MUSUBI_SECRET_KEYS", None) or []
    return [keys] if isinstance(keys, str) else list(keys)


def uses_derived_key() -> bool:
    """True when no key is configured and the one derived from SECRET_KEY encrypts."""
    return not configured_keys()


@functools.lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip()))
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"MUSUBI_SECRET_KEYS: key {position} is not a Fernet key (32 bytes in URL-safe base64, "
                f"as `musubi reencrypt_secrets --new-key` prints).") from exc
    fernets.append(Fernet(derived_key(secret_key)))
    return MultiFernet(fernets)


def cipher() -> MultiFernet:
    return _cipher(tuple(configured_keys()), settings.SECRET_KEY)


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_encrypted(value: str) -> bool:
    return value.startswith(MARKER)


def encrypt(value: str) -> str:
    if not value:
        return value
    return MARKER + cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(stored: str, *, what: str = "a stored secret") -> str:
    if not stored:
        return stored
    if not is_encrypted(stored):
        raise SecretUnreadable(f"{what} is not encrypted: run `musubi migrate`, which encrypts existing secrets.")
    try:
        return cipher().decrypt(stored.removeprefix(MARKER).encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadable(
            f"{what} cannot be decrypted with MUSUBI_SECRET_KEYS or the key derived from the secret key: the key "
            f"it was saved with is missing. Put that key back in MUSUBI_SECRET_KEYS (after the new one).") from exc


def reencrypt(stored: str, *, what: str = "a stored secret") -> str:
    """The same secret encrypted with the first key now (an empty value stays empty)."""
    return encrypt(decrypt(stored, what=what))


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column holding its value encrypted; Python code sees the plain text. Empty stays empty, so
    ``if channel.access_token`` and ``filter(stripe_secret_key="")`` keep working."""

    description = "Text encrypted at rest"

    def _what(self) -> str:
        model = getattr(self, "model", None)
        return f"{model._meta.label}.{self.name}" if model is not None else self.name

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return value
        return decrypt(value, what=self._what())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in ("exact", "isnull"):
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        return None


# --- Migrations and rotation -------------------------------------------------------------------------------

def encrypted_fields() -> Iterable[tuple[type[models.Model], list[str]]]:
    from django.apps import apps

    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def _rewrite(apps: Any, schema_editor: Any, label: str, fields: list[str], change: Callable[[str, str], str]) -> None:
    """Rewrite each non-empty value of the given plain-text columns (the migration's intermediate state, where
    the fields are still ordinary text) through ``change``."""
    manager = apps.get_model(label).objects.using(schema_editor.connection.alias)
    for row in manager.only("pk", *fields).order_by("pk").iterator(chunk_size=500):
        updates = {f: change(getattr(row, f), f"{label}.{f}") for f in fields if getattr(row, f)}
        if updates:
            manager.filter(pk=row.pk).update(**updates)


def encrypt_existing(label: str, *fields: str) -> Callable[[Any, Any], None]:
    """A RunPython step encrypting the rows saved before ``fields`` were encrypted (ones already encrypted are
    left alone, so the step can run again)."""

    def forward(apps: Any, schema_editor: Any) -> None:
        _rewrite(apps, schema_editor, label, list(fields),
                 lambda value, _what: value if is_encrypted(value) else encrypt(value))

    return forward


def decrypt_existing(label: str, *fields: str) -> Callable[[Any, Any], None]:
    """The reverse of :func:`encrypt_existing`: the columns back to plain text."""

    def backward(apps: Any, schema_editor: Any) -> None:
        _rewrite(apps, schema_editor, label, list(fields),
                 lambda value, what: decrypt(value, what=what) if is_encrypted(value) else value)

    return backward
