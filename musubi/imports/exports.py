"""Contacts as a CSV file, in the columns an import reads back: email, name, phone, LINE ID, tags, then each
custom field, headed by the question it answers (``rules.field_headers``). Streamed, so memory stays flat
however long the list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from musubi.capture.queries import question_labels
from musubi.contacts.choices import IdentityKind
from musubi.contacts.models import Contact
from musubi.contacts.rules import written_phone
from musubi.imports.choices import Encoding
from musubi.imports.rules import field_headers

COLUMNS = ["メールアドレス", "氏名", "電話番号", "LINE ID", "タグ"]
BATCH = 500


class CsvExport:
    """An export in progress: iterate it for the bytes; ``rows`` and ``replaced`` (characters Shift_JIS cannot
    hold, written as “?”) are complete once the iteration ends."""

    def __init__(self, contacts: QuerySet[Contact], *, encoding: str, labels: dict[str, str]):
        if encoding not in Encoding.values:
            raise ValueError(f"unknown encoding {encoding!r}")
        self.contacts = contacts
        self.labels = labels  # answer key → the question's text
        self.encoding = encoding
        self.rows = 0
        self.replaced = 0

    def _encode(self, text: str) -> bytes:
        if self.encoding == Encoding.UTF8:
            return text.encode("utf-8")
        try:
            return text.encode("cp932")
        except UnicodeEncodeError:
            out = bytearray()
            for char in text:
                try:
                    out += char.encode("cp932")
                except UnicodeEncodeError:
                    out += b"?"
                    self.replaced += 1
            return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        keys = sorted({key for fields in self.contacts.values_list("fields", flat=True).iterator(chunk_size=2000)
                       for key in (fields or {})})
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS + field_headers(keys, self.labels))
        head = self._encode(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        yield (b"\xef\xbb\xbf" + head) if self.encoding == Encoding.UTF8 else head
        pending = 0
        for contact in self.contacts.iterator(chunk_size=2000):
            writer.writerow(self._row(contact, keys))
            pending += 1
            if pending == BATCH:
                yield self._flush(buffer)
                pending = 0
        yield self._flush(buffer)

    def _flush(self, buffer: io.StringIO) -> bytes:
        data = self._encode(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        return data

    def _row(self, contact: Contact, keys: list[str]) -> list[Any]:
        self.rows += 1
        first: dict[str, str] = {}
        for identity in contact.identities.all():
            first.setdefault(identity.kind, identity.value)
        phone = first.get(IdentityKind.PHONE)
        fields = contact.fields or {}
        return [first.get(IdentityKind.EMAIL, ""), contact.name, written_phone(phone) if phone else "",
                first.get(IdentityKind.LINE, ""), ", ".join(sorted(t.name for t in contact.tags.all())),
                *(_cell(fields.get(key, "")) for key in keys)]


def _cell(value: Any) -> Any:
    """A custom field as a spreadsheet shows it: several choices as one cell, separated the way tags are."""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else value


def export_csv(workspace: Any, contacts: QuerySet[Contact], *, encoding: str) -> CsvExport:
    """The contacts of ``contacts`` (a queryset of ``workspace``'s contacts: all of them, a search, a tag or a
    segment) as CSV: UTF-8 with a BOM, which Excel opens correctly, or Shift_JIS."""
    return CsvExport(contacts.filter(workspace=workspace), encoding=encoding, labels=question_labels(workspace))
