"""Addresses that lead back to one delivery: the open pixel, tracked links and the unsubscribe link.

A token is the delivery's id and an HMAC of it (and of the link's target, for clicks) under a key derived
from the site's secret, so nothing is stored per link, a token cannot be made up for another delivery, and a
click cannot be turned into a redirect to an address the message did not contain."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from urllib.parse import quote, unquote

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import escape


@functools.cache
def _key() -> bytes:
    return hashlib.sha256(b"musubi.messaging.tracking:" + settings.SECRET_KEY.encode()).digest()


def _mac(*parts: str) -> str:
    digest = hmac.digest(_key(), "\x1f".join(parts).encode(), "sha256")  # one-shot, in C
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
    return (settings.MUSUBI_BASE_URL + _path("messaging_click", token(delivery_id, "click", url))
            + "?u=" + quote(url, safe=""))


def open_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + _path("messaging_open", token(delivery_id, "open"))


def unsubscribe_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + _path("messaging_unsubscribe", token(delivery_id, "unsubscribe"))


def preferences_url(delivery_id: int) -> str:
    return settings.MUSUBI_BASE_URL + _path("messaging_preferences", token(delivery_id, "unsubscribe"))


def _path(name: str, value: str) -> str:
    """``reverse(name, args=[value])`` for a token (which needs no quoting): a mail holds four or more of
    these and ``reverse`` costs more than the rest of the link, so the path around the token is found once."""
    before, after = _around_token(name, get_script_prefix(), get_urlconf())
    return before + value + after


_TOKEN_STAND_IN = "0.tokenStandIn"  # noqa: S105 — not a secret: a token-shaped placeholder


@functools.lru_cache(maxsize=64)
def _around_token(name: str, _script_prefix: str, _urlconf: object) -> tuple[str, str]:
    path = reverse(name, args=[_TOKEN_STAND_IN])
    before, found, after = path.partition(_TOKEN_STAND_IN)
    if not found:
        raise ValueError(f"the URL {name} does not hold its token as it is")
    return before, after


class MailLinks:
    """The tracked addresses of mail composed one after another (a batch): the paths around the tokens and
    the site's address are looked up once here instead of for every link (a mail holds five or more, and the
    look-ups cost more than making the token). The same addresses as the functions above."""

    def __init__(self) -> None:
        base, prefix, urlconf = settings.MUSUBI_BASE_URL, get_script_prefix(), get_urlconf()
        self._around = {name: (base + before, after) for name in ("messaging_click", "messaging_open",
                                                                   "messaging_unsubscribe", "messaging_preferences")
                        for before, after in [_around_token(name, prefix, urlconf)]}

    def _url(self, name: str, value: str) -> str:
        before, after = self._around[name]
        return before + value + after

    def click(self, delivery_id: int, url: str) -> str:
        return self._url("messaging_click", token(delivery_id, "click", url)) + "?u=" + quote(url, safe="")

    def open(self, delivery_id: int) -> str:
        return self._url("messaging_open", token(delivery_id, "open"))

    def unsubscribe_and_preferences(self, delivery_id: int) -> tuple[str, str]:
        value = token(delivery_id, "unsubscribe")  # both pages take the same token
        return self._url("messaging_unsubscribe", value), self._url("messaging_preferences", value)


def without_tracking(html: str) -> str:
    """A sent mail's HTML as it may be shown to staff: the open pixel taken out and each tracked link
    pointing straight to its target, so reading the mail here records no open or click for the person it
    went to. Links are matched by their path, whatever site address the mail was sent under."""
    open_before, _open_after = _around_token("messaging_open", get_script_prefix(), get_urlconf())
    click_before, click_after = _around_token("messaging_click", get_script_prefix(), get_urlconf())
    address = r"""(?:https?://[^"'\s<>/]+)?"""
    pixel = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(["'])""" + address + re.escape(open_before)
                       + r"""[^"'\s<>]*\1[^>]*>""", re.IGNORECASE)
    click = re.compile(address + re.escape(click_before) + r"""[^"'\s<>?]*""" + re.escape(click_after)
                       + r"""\?u=([^"'\s<>&]*)""", re.IGNORECASE)
    # The target is kept unescaped in the link (it is signed as such); in HTML it is escaped again.
    return click.sub(lambda m: escape(unquote(m.group(1))), pixel.sub("", html))
