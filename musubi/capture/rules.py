"""Pure decisions of capture: the redirect target with UTM parameters, and what a bot looks like."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno

# Link previews and crawlers fetch a link without a person behind it. LINE's in-app browser says "Line/…"
# and is a person; its preview fetcher, like the others, says it is a bot or names itself below.
_BOTS = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|headless|curl/|wget/|python-requests",
                   re.IGNORECASE)


def looks_like_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_BOTS.search(user_agent))


def with_utm(target_url: str, utm: dict[str, str]) -> str:
    """``target_url`` with the UTM parameters it does not already have (the owner's own choices win)."""
    parts = urlsplit(target_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _value in query}
    query += [(key, value) for key, value in utm.items() if value and key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def hash_ip(ip: str, *, key: str) -> str:
    """A keyed hash of the IP: repeated clicks from one address can be told apart without keeping it."""
    return hmac.new(key.encode(), ip.encode(), hashlib.sha256).hexdigest()


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def qr_code(url: str, *, kind: str, scale: int = 10) -> bytes:
    """The QR code of ``url`` as SVG or PNG. Error correction M survives a little table-top wear."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()
