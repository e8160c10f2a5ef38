"""DKIM signatures (RFC 6376) for the mail Musubi sends over SMTP itself, with the workspace's key.

dkimpy is the reference we hold ourselves to (every signature the tests make is checked with
``dkim.verify``), but it signs with RSA written in Python: about 120 signatures a second on the development
machine, far below a broadcast's thousands. :class:`DkimSigner` therefore does the two cheap parts itself —
relaxed canonicalisation (§3.4.2, §3.4.4) and the hashes — and hands the RSA operation to ``cryptography``
(OpenSSL), about 2,500 signatures a second per core, and it releases the interpreter lock while it signs,
so signing in the caller's thread overlaps the SMTP pool's thread.

Always rsa-sha256 with relaxed/relaxed: "simple" header canonicalisation breaks on any relay that refolds a
header. The signed headers are :data:`SIGNED_HEADERS` — From, To, Subject, Date, Message-ID and the two
List-Unsubscribe headers, the ones a receiver's one-click unsubscribe and a reader's trust rest on. From is
signed once more than it occurs ("over-signed"), so a From added on the way breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["SIGNED_HEADERS", "DkimKey", "DkimSigner", "generate_key", "public_record"]

SIGNED_HEADERS: tuple[str, ...] = ("from", "reply-to", "to", "subject", "date", "message-id", "list-unsubscribe",
                                   "list-unsubscribe-post", "mime-version", "content-type")
_OVERSIGNED = frozenset({"from"})

_BARE_LF = re.compile(rb"(?<!\r)\n")
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_BEFORE_EOL = re.compile(rb"[ \t]+\r\n")
_HEADER_START = re.compile(rb"\r\n(?![ \t])")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


class BadMessage(ValueError):
    """The bytes are not a message that can be signed (no header/body separator)."""


@dataclass(frozen=True)
class DkimKey:
    """A freshly generated key: the private key as PEM (keep it secret, store it with the workspace) and
    the value of the TXT record to publish at ``<selector>._domainkey.<domain>``."""

    private_pem: str
    dns_value: str


def generate_key(bits: int = 2048) -> DkimKey:
    """A new RSA key pair for DKIM (2048 bits: 1024 is no longer trusted, 4096 does not fit every DNS UI)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    return DkimKey(private_pem=pem, dns_value=public_record(pem))


def _load(private_pem: str) -> RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the DKIM key is not an RSA private key")
    return key


def public_key_b64(private_pem: str) -> str:
    """The ``p=`` value: the public key (SubjectPublicKeyInfo, DER) in base64."""
    from cryptography.hazmat.primitives import serialization

    der = _load(private_pem).public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def public_record(private_pem: str) -> str:
    """The TXT record value to publish for ``private_pem``: ``v=DKIM1; k=rsa; p=…``. A DNS host splits it
    into strings of at most 255 characters; receivers join them."""
    return f"v=DKIM1; k=rsa; p={public_key_b64(private_pem)}"


def canonical_body(body: bytes) -> bytes:
    """Relaxed body canonicalisation (RFC 6376 §3.4.4): whitespace runs to one space, none at line ends,
    no empty lines at the end, and a non-empty body ends in CRLF."""
    # Most bodies (ours are base64) have nothing to change; three substring scans are far cheaper than the
    # substitutions, and the signature is made for every message.
    if b"\t" in body or b"  " in body or b" \r\n" in body:
        body = _WSP_BEFORE_EOL.sub(b"\r\n", _WSP_RUN.sub(b" ", body))
    body = body.rstrip(b"\r\n")
    if body.endswith((b" ", b"\t")):  # whitespace on a last line without CRLF
        body = body.rstrip(b" \t")
    return body + b"\r\n" if body else b""


def canonical_header(name: bytes, value: bytes) -> bytes:
    """Relaxed header canonicalisation (§3.4.2): lower-case name, unfolded value with whitespace runs as
    one space and none at either end, then ``name:value`` and CRLF."""
    value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers as (name, raw value) in order, and the body. Bare LFs count as CRLF."""
    if message.count(b"\n") != message.count(b"\r\n"):  # two C scans; the regex only when needed
        message = _BARE_LF.sub(b"\r\n", message)
    head, separator, body = message.partition(b"\r\n\r\n")
    if not separator:
        if message.endswith(b"\r\n"):
            head, body = message[:-2], b""
        else:
            raise BadMessage("the message has no empty line between headers and body")
    headers = []
    for field in _HEADER_START.split(head):
        name, colon, value = field.partition(b":")
        if not colon:
            raise BadMessage(f"a header line has no colon: {field[:40]!r}")
        headers.append((name, value))
    return headers, body


def _header_list_words(names: list[str]) -> list[str]:
    """The ``h=`` tag in pieces short enough to fold between (FWS is allowed around its colons)."""
    words, word = [], "h="
    for index, name in enumerate(names):
        piece = name + (";" if index == len(names) - 1 else ":")
        if len(word) + len(piece) > 60 and word != "h=":
            words.append(word)
            word = ""
        word += piece
    words.append(word)
    return words


def _fold_tag_list(tags: Sequence[str]) -> str:
    """The DKIM-Signature value, folded between tags so lines stay under 78 characters."""
    lines, line = [], "DKIM-Signature:"
    for tag in tags:
        if len(line) + 1 + len(tag) > 78 and line != "DKIM-Signature:":
            lines.append(line)
            line = "\t" + tag
        else:
            line += " " + tag
    lines.append(line)
    return "\r\n".join(lines)


class DkimSigner:
    """Signs messages for one domain and selector. Build it once per workspace and sending run (loading
    the key costs more than a signature); :meth:`sign` is safe to call from several threads at once."""

    def __init__(self, *, domain: str, selector: str, private_pem: str,
                 headers: Sequence[str] = SIGNED_HEADERS) -> None:
        domain = domain.strip().lower().rstrip(".")
        if not domain.isascii() or not _SELECTOR.match(domain):
            raise ValueError(f"not a domain name a DKIM signature can name: {domain!r}")
        if not selector.isascii() or not _SELECTOR.match(selector):
            raise ValueError(f"not a DKIM selector: {selector!r}")
        self.domain = domain
        self.selector = selector
        self.headers = tuple(h.lower() for h in headers)
        self._key = _load(private_pem)
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self._padding = padding.PKCS1v15()
        self._hash = hashes.SHA256()

    def signature_header(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """The ``DKIM-Signature:`` header line(s), ending in CRLF, to put before ``message``'s headers."""
        headers, body = split_message(message)
        body_hash = base64.b64encode(hashlib.sha256(canonical_body(body)).digest()).decode("ascii")
        # RFC 6376 §5.4.2: with several instances of a header, sign from the bottom up.
        by_name: dict[bytes, list[bytes]] = {}
        for raw_name, raw_value in headers:
            by_name.setdefault(raw_name.strip().lower(), []).append(raw_value)
        signed_names: list[str] = []
        signed = bytearray()
        for wanted in self.headers:
            values = by_name.get(wanted.encode("ascii"), [])
            for value in reversed(values):
                signed += canonical_header(wanted.encode("ascii"), value)
                signed_names.append(wanted)
            if wanted in _OVERSIGNED and values:
                signed_names.append(wanted)  # an instance that is not there: signs that none is added
        tags = ["v=1;", "a=rsa-sha256;", "c=relaxed/relaxed;", f"d={self.domain};", f"s={self.selector};",
                f"t={int(time.time()) if timestamp is None else timestamp};", *_header_list_words(signed_names),
                f"bh={body_hash};"]
        unsigned = _fold_tag_list(tags) + "\r\n\tb="
        own_name, _, own_value = unsigned.encode("ascii").partition(b":")
        signed += canonical_header(own_name, own_value)[:-2]  # the signature header itself, without its CRLF
        signature = base64.b64encode(self._key.sign(bytes(signed), self._padding, self._hash)).decode("ascii")
        pieces = [signature[i:i + 72] for i in range(0, len(signature), 72)]  # lines under 78
        return (unsigned + "\r\n\t".join(pieces) + "\r\n").encode("ascii")

    def sign(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """``message`` with its DKIM-Signature header in front."""
        return self.signature_header(message, timestamp=timestamp) + message
