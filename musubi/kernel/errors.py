"""Domain errors. Services raise these; the web and API layers turn them into pages and JSON.

Each error carries a stable machine-readable ``code``, a human message, and optionally ``fields``:
a mapping from a dotted field path (``backs.0.take_rate``) to why that field is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping


class MusubiError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, str] = dict(fields or {})


class InvalidInput(MusubiError):
    """The request cannot be carried out as given; nothing was changed."""

    code = "invalid"
    status = 400


class NotFound(MusubiError):
    """The object does not exist, or belongs to a workspace the caller cannot see (the same answer)."""

    code = "not_found"
    status = 404


class Forbidden(MusubiError):
    """The caller is known to the workspace but their role does not allow this."""

    code = "forbidden"
    status = 403


class Conflict(MusubiError):
    """The request clashes with the current state (a duplicate, a retention period not yet over)."""

    code = "conflict"
    status = 409
