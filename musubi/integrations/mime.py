"""RFC 5322 message bytes for bulk personalised mail, built without the stdlib ``email`` package per recipient.

Building an ``EmailMessage`` costs 1–2 ms a message, which caps a sender near 500 a second. A broadcast's mail
differs between recipients only in a few places (To, Subject, the bodies, the unsubscribe URL, Message-ID and
Date), so everything fixed — From with its encoded display name, Reply-To, the extra headers, the MIME
boundary and part headers — is prepared once in a :class:`MailSkeleton`, and :meth:`MailSkeleton.render`
joins bytes for each recipient (about 20 µs for a few kilobytes of Japanese text).

What the bytes keep to, so that any server and any reader takes them:

- Lines end in CRLF and no line is longer than 78 characters (RFC 5322's SHOULD; the MUST is 998) except a
  header holding one unbreakable token longer than that (a very long URL), which still stays under 998.
- Headers are ASCII. Non-ASCII text (a Japanese sender name or subject) becomes RFC 2047 encoded-words in
  UTF-8/base64, each at most 75 characters, split only between characters, one per folded line.
- Bodies are UTF-8 in base64, 76 characters a line: 7-bit clean, so no server needs 8BITMIME or SMTPUTF8,
  and no dot-stuffing or trailing-space surprise can change them (which also keeps DKIM's body hash intact).
- With both a text and an HTML body the message is ``multipart/alternative`` (text first, as RFC 2046 asks:
  the last part is the preferred one); with one body it is a single part.
- Any CR or LF the caller passes in a header value is refused (:class:`BadHeader`): a personalised field
  must never be able to add a header.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = ["BadHeader", "MailSkeleton", "encode_words", "fold_ascii", "format_mailbox"]

CRLF = b"\r\n"
MAX_LINE = 78
HARD_LIMIT = 998
_ENCODED_WORD_OVERHEAD = len("=?UTF-8?B??=")
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # a phrase of atoms: no quoting needed
_ADDRESS = re.compile(r"^[^\s<>()\[\],;:\"@\\]+@[A-Za-z0-9.-]+$")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except colon (RFC 5322 §2.2)
_LINE_END = re.compile(r"\r\n|\r|\n")
_SPACES = re.compile(r" {2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class BadHeader(ValueError):
    """A header value that would break the message (a line break, a non-ASCII address, a name that is not
    a header name); the text says which."""


def _check_line_free(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise BadHeader(f"{name} contains a line break")


def _check_address(name: str, address: str) -> str:
    _check_line_free(name, address)
    if not address.isascii() or not _ADDRESS.match(address):
        raise BadHeader(f"{name} is not a plain ASCII email address: {address!r}")
    return address


def _utf8_chunks(text: str, first_room: int, room: int) -> Iterable[bytes]:
    """Split ``text`` between characters into UTF-8 pieces whose encoded-word fits the room of its line."""
    data = text.encode("utf-8")
    limit = max(4, (first_room - _ENCODED_WORD_OVERHEAD) // 4 * 3)
    later = max(4, (room - _ENCODED_WORD_OVERHEAD) // 4 * 3)
    start = 0
    while True:
        end = start + limit
        if end >= len(data):
            yield data[start:]
            return
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before the character it belongs to
            end -= 1
        yield data[start:end]
        start, limit = end, later


def encode_words(text: str, *, first_room: int = MAX_LINE, room: int = MAX_LINE - 1) -> list[str]:
    """``text`` as RFC 2047 encoded-words (UTF-8, base64), the first fitting ``first_room`` characters and
    each later one ``room`` (so each sits on its own folded line). Joined by folding whitespace they decode
    back to ``text`` exactly: whitespace between adjacent encoded-words is not part of the text."""
    room = min(room, 75)
    first_room = max(min(first_room, 75), _ENCODED_WORD_OVERHEAD + 4)
    return [f"=?UTF-8?B?{base64.b64encode(chunk).decode('ascii')}?=" for chunk in _utf8_chunks(text, first_room, room)]


def fold_ascii(name: str, words: list[str], separator: str = " ") -> bytes:
    """``Name: word word …`` folded before a word whenever the line would pass 78 characters. A single
    word longer than the line stays whole; past 998 characters it is refused."""
    line = f"{name}:"
    lines: list[str] = []
    for index, word in enumerate(words):
        joint = " " if index == 0 else separator
        if index > 0 and len(line) + len(joint) + len(word) > MAX_LINE:
            lines.append(line + joint.rstrip())
            line = " " + word
        else:
            line += joint + word
    lines.append(line)
    for text in lines:
        if len(text) > HARD_LIMIT:
            raise BadHeader(f"{name} holds a token too long for one header line ({len(text)} characters)")
    return "\r\n".join(lines).encode("ascii") + CRLF


def _unstructured(name: str, text: str) -> bytes:
    """An unstructured header (Subject, or an extra one): plain folded ASCII where that says it exactly,
    otherwise encoded-words."""
    _check_line_free(name, text)
    text = _CONTROL.sub(" ", text)
    words = text.split(" ")
    plain = (text.isascii() and "=?" not in text and text == text.strip() and "  " not in text
             and all(len(word) + 2 <= MAX_LINE for word in words))
    if not text:
        return f"{name}: \r\n".encode("ascii")
    if plain:
        return fold_ascii(name, words)
    encoded = encode_words(text, first_room=MAX_LINE - len(name) - 2)
    return fold_ascii(name, encoded)


def format_mailbox(address: str, display_name: str = "", *, header: str = "From") -> list[str]:
    """A mailbox as header words: ``name <address>`` with the name as atoms, a quoted string or
    encoded-words as it needs, or the bare address."""
    _check_address(header, address)
    _check_line_free(header, display_name)
    # Runs of spaces in a phrase are not significant to readers, so they are written as one.
    display_name = _SPACES.sub(" ", _CONTROL.sub(" ", display_name)).strip()
    if not display_name:
        return [address]
    if display_name.isascii() and "=?" not in display_name:
        if _ATOM.match(display_name):
            return [*display_name.split(" "), f"<{address}>"]
        quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
        if len(quoted) + 2 <= MAX_LINE - len(header) - 2:
            return [f'"{quoted}"', f"<{address}>"]
    return [*encode_words(display_name, first_room=MAX_LINE - len(header) - 2), f"<{address}>"]


def _base64_lines(text: str) -> bytes:
    # Text travels in canonical form, lines ending in CRLF (RFC 2046 §4.1.1); readers turn them back.
    text = _LINE_END.sub("\r\n", text) if "\r" in text else text.replace("\n", "\r\n")
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")  # 76 characters a line


def _date_now() -> str:
    """Now as an RFC 5322 date; formatted once a second, not once a message (the cache is one tuple,
    replaced whole, so threads rendering at once never see half of it)."""
    global _last_date
    second, text = _last_date
    now = int(time.time())
    if second != now:
        text = format_datetime(datetime.fromtimestamp(now, UTC))
        _last_date = (now, text)
    return text


_last_date: tuple[int, str] = (0, "")


@dataclass(frozen=True)
class MailSkeleton:
    """What every message of one template or broadcast shares, prepared once; :meth:`render` fills in a
    recipient.

    ``message_id_domain`` is the right-hand side of Message-IDs (the sending domain by default).
    ``headers`` are extra fixed headers (e.g. ``Feedback-ID``), ASCII or not; they may not replace the ones
    this class writes.
    """

    from_address: str
    from_name: str = ""
    reply_to: str = ""
    reply_to_name: str = ""
    message_id_domain: str = ""
    headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        fixed = [fold_ascii("From", format_mailbox(self.from_address, self.from_name))]
        if self.reply_to:
            fixed.append(fold_ascii("Reply-To", format_mailbox(self.reply_to, self.reply_to_name,
                                                               header="Reply-To")))
        ours = {"from", "reply-to", "to", "subject", "date", "message-id", "mime-version", "content-type",
                "content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post", "dkim-signature"}
        for name, value in (self.headers or {}).items():
            if not _HEADER_NAME.match(name) or name.lower() in ours:
                raise BadHeader(f"{name!r} cannot be set as an extra header")
            fixed.append(_unstructured(name, value))
        fixed.append(b"MIME-Version: 1.0\r\n")
        # base64 never contains "_", so a boundary with one can never occur inside a part.
        boundary = f"=_musubi_{secrets.token_hex(12)}"
        domain = self.message_id_domain or self.from_address.rpartition("@")[2]
        object.__setattr__(self, "_fixed", b"".join(fixed))
        object.__setattr__(self, "_domain", domain)
        object.__setattr__(self, "_alternative_head",
                           f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode())
        object.__setattr__(self, "_delimiter", f"--{boundary}\r\n".encode())
        object.__setattr__(self, "_close", f"--{boundary}--\r\n".encode())

    def message_id(self, token: str = "") -> str:
        """``<token@domain>``; a random token unless one is given. Give a stable one (the delivery's key)
        and a message sent again after a crash carries the same Message-ID, which receivers may collapse."""
        token = token or secrets.token_hex(16)
        if not re.fullmatch(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+", token):
            raise BadHeader(f"Message-ID token {token!r} has characters a Message-ID cannot hold")
        return f"<{token}@{self._domain}>"  # type: ignore[attr-defined]

    def render(self, *, to_address: str, subject: str, text: str = "", html: str = "", to_name: str = "",
               unsubscribe_url: str = "", unsubscribe_mailto: str = "", message_id: str = "",
               date: datetime | None = None) -> bytes:
        """The whole message for one recipient, CRLF line endings, ready for SMTP ``DATA``.

        At least one of ``text`` and ``html`` is needed. ``message_id`` is a token (see :meth:`message_id`)
        or empty for a random one. ``unsubscribe_url`` (https) adds ``List-Unsubscribe`` and the one-click
        ``List-Unsubscribe-Post`` of RFC 8058; ``unsubscribe_mailto`` adds a mailto: alternative.
        ``date`` defaults to now. Raises :class:`BadHeader` for a value that cannot go in a header.
        """
        if not text and not html:
            raise BadHeader("a message needs a text or an HTML body")
        parts = [self._fixed,  # type: ignore[attr-defined]
                 fold_ascii("To", format_mailbox(to_address, to_name, header="To")),
                 _unstructured("Subject", subject),
                 f"Date: {format_datetime(date) if date else _date_now()}\r\n".encode("ascii"),
                 f"Message-ID: {self.message_id(message_id)}\r\n".encode("ascii")]
        if unsubscribe_url or unsubscribe_mailto:
            parts.append(self._list_unsubscribe(unsubscribe_url, unsubscribe_mailto))
        if text and html:
            parts += [self._alternative_head,  # type: ignore[attr-defined]
                      self._delimiter, _PART_TEXT, _base64_lines(text),  # type: ignore[attr-defined]
                      self._delimiter, _PART_HTML, _base64_lines(html),  # type: ignore[attr-defined]
                      self._close]  # type: ignore[attr-defined]
        else:
            parts += [_PART_TEXT if text else _PART_HTML, _base64_lines(text or html)]
        return b"".join(parts)

    @staticmethod
    def _list_unsubscribe(url: str, mailto: str) -> bytes:
        targets = []
        for name, value, scheme in (("unsubscribe URL", url, "https://"), ("unsubscribe mailto", mailto, "mailto:")):
            if not value:
                continue
            _check_line_free(name, value)
            # A site still on this machine (the demo, development) has no https; anywhere else it must.
            local = scheme == "https://" and value.startswith(("http://127.0.0.1:", "http://127.0.0.1/",
                                                               "http://localhost:", "http://localhost/"))
            if not value.isascii() or not (value.startswith(scheme) or local) or any(c in value for c in " <>\t"):
                raise BadHeader(f"the {name} must be an ASCII {scheme} URI without spaces: {value!r}")
            targets.append(f"<{value}>")
        words = [target + "," for target in targets[:-1]] + targets[-1:]
        header = fold_ascii("List-Unsubscribe", words)
        if url:  # one-click unsubscribe (RFC 8058) needs the https URI
            header += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        return header


_PART_TEXT = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
_PART_HTML = b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
