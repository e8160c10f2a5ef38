"""Trying a friend-add at the LINE stand-in: what LINE's platform does when someone adds, blocks or unblocks an
Official Account. LINE knows each channel's secret and webhook URL; the stand-in is told them (``channels``,
or ``channels_from`` — the demo reads Musubi's connected channels when its page is shown), and sends the
``follow`` or ``unfollow`` event signed as LINE signs it (``X-Line-Signature``: base64 of HMAC-SHA256 of the
body with the channel secret). Profiles of users it made up get a Japanese demo name fixed by their id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
DEMO_NAMES = ["佐藤 さくら", "鈴木 はると", "高橋 ゆい", "田中 そうた", "伊藤 あおい", "渡辺 れん", "山本 ひな",
              "中村 ゆうと", "小林 めい", "加藤 こはる", "吉田 たくみ", "山田 みお"]
ACTIONS = {"follow": "友だち追加を試す", "block": "ブロック", "unblock": "ブロック解除"}
BOT_USER_ID = "U" + "b" * 32  # the account itself, as GET /v2/bot/info names it: the events' "destination"


@dataclass(frozen=True)
class WebhookChannel:
    channel_id: str
    name: str
    secret: str
    webhook_url: str


@dataclass(frozen=True)
class FriendEvent:
    """One try from the page: what was sent, and how the webhook answered (``status`` 0: not reached, None:
    nothing was sent, ``answer`` says why)."""

    channel_id: str
    action: str
    user_id: str
    status: int | None
    answer: str


def demo_name(user_id: str) -> str:
    """The display name the stand-in's LINE gives a user: the same for the same id, in every process."""
    return DEMO_NAMES[int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % len(DEMO_NAMES)]


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_body(action: str, user_id: str) -> bytes:
    """The body LINE sends when ``user_id`` adds (``follow``), blocks or unblocks the account."""
    event: dict[str, object] = {
        "type": "unfollow" if action == "block" else "follow", "mode": "active",
        "timestamp": int(time.time() * 1000), "source": {"type": "user", "userId": user_id},
        "webhookEventId": "01" + secrets.token_hex(12).upper(), "deliveryContext": {"isRedelivery": False}}
    if action != "block":
        event |= {"replyToken": secrets.token_hex(16), "follow": {"isUnblocked": action == "unblock"}}
    return json.dumps({"destination": BOT_USER_ID, "events": [event]}, ensure_ascii=False).encode()


def send(channel: WebhookChannel, action: str, user_id: str) -> FriendEvent:
    body = webhook_body(action, user_id)
    if not channel.webhook_url.startswith(("http://", "https://")):
        return FriendEvent(channel.channel_id, action, user_id, None, "the webhook URL is not http(s)")
    request = urllib.request.Request(channel.webhook_url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature(body, channel.secret),
        "User-Agent": "LineBotWebhook/2.0"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - checked above
            return FriendEvent(channel.channel_id, action, user_id, answer.status, answer.read(200).decode())
    except urllib.error.HTTPError as exc:
        return FriendEvent(channel.channel_id, action, user_id, exc.code, exc.read(200).decode(errors="replace"))
    except OSError as exc:
        return FriendEvent(channel.channel_id, action, user_id, 0, f"not reached: {exc}")


def chosen_user(action: str, typed: str, friends: list[str]) -> tuple[str, str]:
    """The user id to send as (and "" for no problem), or ("", why not): a typed one must be a LINE user id; left
    empty, a follow is by a new user and a block or unblock by the channel's latest friend from this page."""
    typed = typed.strip()
    if typed:
        if not LINE_USER_ID.fullmatch(typed):
            return "", f"{typed[:40]!r}: a LINE user id is U followed by 32 of 0-9 and a-f"
        return typed, ""
    if action == "follow":
        return "U" + secrets.token_hex(16), ""
    if not friends:
        return "", "no friend added from this page yet: type the user id"
    return friends[-1], ""


def section(channels: list[WebhookChannel], tried: list[FriendEvent]) -> str:
    """The page's part for trying: a form per channel, then what each try got back (newest first)."""
    if not channels:
        forms = "<p>No LINE channel is known. Connect one in Musubi (LINE settings), then reload this page.</p>"
    else:
        forms = "".join(
            f"<form method=post action=/friends><fieldset><legend>{html.escape(c.name)} ({c.channel_id})</legend>"
            f"<input type=hidden name=channel value={c.channel_id}>"
            f"<label>LINE user id <input name=user size=36 placeholder='empty: a new user (follow) or the latest'>"
            "</label> " + " ".join(f"<button name=action value={a}>{label}</button>" for a, label in ACTIONS.items())
            + f"<br><small>webhook: {html.escape(c.webhook_url)}</small></fieldset></form>" for c in channels)
    rows = "".join(
        f"<li>{ACTIONS.get(t.action, t.action)} — {html.escape(t.user_id or '-')} @ {t.channel_id}: "
        f"<b>{'' if t.status is None else t.status}</b> {html.escape(t.answer)}</li>" for t in reversed(tried))
    return f"<h2>友だち追加を試す</h2>{forms}<ol>{rows}</ol>"
