"""Addresses that lead back to one delivery: the open pixel, tracked links and the unsubscribe link.

A token is the delivery's id and an HMAC of it (and of the link's target, for clicks) under a key derived
from the site's secret, so nothing is stored per link, a token cannot be made up for another delivery, and a
click cannot be turned into a redirect to an address the message did not contain."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse


@functools.cache
def _key() -> bytes:
    return hashlib.sha256(b"musubi.messaging.tracking:" + settings.SECRET_KEY.encode()).digest()


def _mac(*parts: str) -> str:
    digest = hmac.new(_key(), "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:15]).decode()  # 120 bits, 20 characters


def token(delivery_id: int, purpose: str, url: str = "") -> str:
    return f"{delivery_id}.{_mac(purpose, str(delivery_id), url)}"


def delivery_id(value: str, purpose: str, url: str = "") -> int | None:
    """The delivery a token names, or None when it was not made here for this purpose (and link)."""
    head, _, mac = value.partition(".")
    if not head.isdigit() or len(head) > 19:
        return None
    return int(head) if hmac.compare_digest(mac, _mac(purpose, head, url)) else None


def click_url(delivery_id: int, url: str) -> str:
    return (settings.MUSUBI_BASE_URL + reverse("messaging_click", args=[token(delivery_id, "click", url)])
            + "?u=" + quote(url, safe=""))


def open_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + reverse("messaging_open", args=[token(delivery_id, "open")])


def unsubscribe_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + reverse("messaging_unsubscribe", args=[token(delivery_id, "unsubscribe")])


def preferences_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + reverse("messaging_preferences", args=[token(delivery_id, "unsubscribe")])
