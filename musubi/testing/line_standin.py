"""A local stand-in for LINE's Messaging API on 127.0.0.1, for tests: the official SDK talks to it exactly as
to api.line.me. It keeps what was pushed, answers 409 to a retry key it already accepted (as LINE does),
serves profiles and the account's bot info (``refused_tokens`` are answered 401, as LINE answers a bad token),
and can be told to fail the next pushes (or rich menu requests) with a status.

Rich menus are kept as LINE keeps them: ``rich_menus`` (id → the JSON created, its image and the image's
type), ``default_rich_menu`` and ``user_menus`` (user id → the menu linked to them); ``bulk_requests`` lists
each bulk link or unlink received. Bad input is answered 400 as LINE answers it.

Its page (``/``) lists what was delivered and has a form per known channel to try a friend-add, a block and an
unblock: the signed webhook goes to Musubi (see ``line_standin_friends``). A user's profile is the name set in
``names``, else a Japanese demo name fixed by the id; users blocked from the page have none (404, as LINE)."""

from __future__ import annotations

import html
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from musubi.testing import line_standin_friends as friends
from musubi.testing.line_standin_friends import FriendEvent, WebhookChannel


@dataclass
class LineStandIn:
    url: str = ""
    pushes: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, retry key
    names: dict[str, str] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    accepted_keys: set[str] = field(default_factory=set)
    multicasts: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    used_reply_tokens: set[str] = field(default_factory=set)
    quota: int | None = 200  # the account's monthly limit (None: unlimited)
    used: int = 0
    quota_status: int = 200  # another status makes the quota endpoints answer it, as a refused token would
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_rich_menu: str = ""
    user_menus: dict[str, str] = field(default_factory=dict)
    bulk_requests: list[tuple[str, int]] = field(default_factory=list)  # "link" or "unlink", how many users
    fail_uploads: list[int] = field(default_factory=list)  # statuses for the next image uploads only
    bot_name: str = "居酒屋むすび"  # what GET /v2/bot/info says the account is
    bot_basic_id: str = "@123abcde"
    refused_tokens: set[str] = field(default_factory=set)  # access tokens answered 401, as LINE answers a bad one
    fail_profiles: list[int] = field(default_factory=list)  # statuses for the next profile requests only
    channels: dict[str, WebhookChannel] = field(default_factory=dict)  # channel id → where its webhooks go
    channels_from: Callable[[], list[WebhookChannel]] | None = None  # more channels, asked when needed
    tried: list[FriendEvent] = field(default_factory=list)  # friend-adds, blocks, unblocks sent from the page
    friends: dict[str, list[str]] = field(default_factory=dict)  # channel id → users who followed from the page
    blocked_users: set[str] = field(default_factory=set)

    def known_channels(self) -> list[WebhookChannel]:
        found = {**self.channels, **{c.channel_id: c for c in (self.channels_from() if self.channels_from else [])}}
        return sorted(found.values(), key=lambda c: c.channel_id)

    def try_friend(self, channel_id: str, action: str, typed_user: str = "") -> FriendEvent:
        """What the page's buttons do: send a signed follow, unfollow (block) or unblocking follow to the
        channel's webhook, as LINE would when a person does it in the app."""
        channel = next((c for c in self.known_channels() if c.channel_id == channel_id), None)
        added = self.friends.setdefault(channel_id, [])
        user_id, problem = friends.chosen_user(action, typed_user, added)
        if channel is None or action not in friends.ACTIONS or problem:
            tried = FriendEvent(channel_id, action, user_id, None, problem or "unknown channel or action")
        else:
            tried = friends.send(channel, action, user_id)
            (self.blocked_users.add if action == "block" else self.blocked_users.discard)(user_id)
            if action == "follow" and user_id not in added:
                added.append(user_id)
        self.tried.append(tried)
        return tried

    def menu_of(self, user_id: str) -> str:
        """The rich menu the user sees: their own, else the default ("" when none)."""
        return self.user_menus.get(user_id, self.default_rich_menu)

    def delivered_to(self, user_id: str) -> list[str]:
        """What the friend reads: each text, and the alternative text of a card (an image has none)."""
        pushed = [_readable(m) for p in self.pushes if p["to"] == user_id for m in p["messages"]]
        return pushed + [_readable(m) for p in self.multicasts if user_id in p["to"] for m in p["messages"]]


def _readable(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("altText") or message.get("originalContentUrl") or "")


def _handler(state: LineStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, ""))
            if self.path == "/":  # what a person running the demo reads: every message "delivered" so far
                return self._page()
            if self.path == "/v2/profile":  # LINE Login: the signed-in user's profile
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token.startswith("at-"):
                    return self._answer(200, {"userId": token[3:], "displayName": state.names.get(token[3:], "")})
                return self._answer(401, {"message": "invalid token"})
            if self.path == "/v2/bot/info":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not token or token in state.refused_tokens:
                    return self._answer(401, {"message": "Authentication failed. Confirm that the access token in "
                                                         "the authorization header is valid."})
                return self._answer(200, {"userId": "U" + "b" * 32, "basicId": state.bot_basic_id,
                                          "displayName": state.bot_name, "chatMode": "bot",
                                          "markAsReadMode": "auto"})
            if self.path.startswith("/v2/bot/message/quota") and state.quota_status != 200:
                return self._answer(state.quota_status, {"message": "failing on purpose"})
            if self.path == "/v2/bot/message/quota":
                if state.quota is None:
                    return self._answer(200, {"type": "none"})
                return self._answer(200, {"type": "limited", "value": state.quota})
            if self.path == "/v2/bot/message/quota/consumption":
                return self._answer(200, {"totalUsage": state.used})
            if self.path == "/v2/bot/richmenu/list":
                return self._answer(200, {"richmenus": [{"richMenuId": k, **v["menu"]}
                                                        for k, v in state.rich_menus.items()]})
            if self.path.startswith("/v2/bot/profile/"):
                return self._profile(self.path.rsplit("/", 1)[1])
            return self._answer(404, {"message": "Not found"})

        def _profile(self, user_id: str) -> None:
            if state.fail_profiles:
                return self._answer(state.fail_profiles.pop(0), {"message": "failing on purpose"})
            if self.headers.get("Authorization", "").removeprefix("Bearer ") in state.refused_tokens:
                return self._answer(401, {"message": "Authentication failed"})
            if not friends.LINE_USER_ID.fullmatch(user_id) or user_id in state.blocked_users:
                return self._answer(404, {"message": "Not found"})
            name = state.names.get(user_id) or friends.demo_name(user_id)
            return self._answer(200, {"userId": user_id, "displayName": name})

        def _page(self) -> None:
            sent = [(p["to"], p["messages"]) for p in state.pushes] + [(", ".join(m["to"]), m["messages"])
                                                                       for m in state.multicasts]
            rows = "".join(f"<li><b>{html.escape(str(to))}</b><br>"
                           + "<br>".join(html.escape(_readable(m)) for m in messages) + "</li>"
                           for to, messages in reversed(sent))
            data = (f"<!doctype html><meta charset=utf-8><title>LINE stand-in</title><h1>LINE stand-in</h1>"
                    f"{friends.section(state.known_channels(), state.tried)}"
                    f"<h2>Delivered</h2><p>{len(sent)} requests, {state.used} messages</p><ol>{rows}</ol>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/friends":  # the page's form: try a friend-add, a block or an unblock
                return self._try_friend(dict(urllib.parse.parse_qsl(raw.decode())))
            if self.path == "/oauth2/v2.1/token":  # LINE Login: a code "code-for-<userId>" becomes a token
                form = dict(urllib.parse.parse_qsl(raw.decode()))
                state.requests.append(("POST", self.path, form.get("client_id", "")))
                if form.get("code", "").startswith("code-for-") and form.get("client_secret"):
                    return self._answer(200, {"access_token": "at-" + form["code"][9:], "token_type": "Bearer"})
                return self._answer(400, {"error": "invalid_grant"})
            if self.path.startswith("/v2/bot/richmenu/") and self.path.endswith("/content"):
                state.requests.append(("POST", self.path, ""))
                return self._upload(self.path.split("/")[4], raw)
            body = json.loads(raw or b"{}")
            key = self.headers.get("X-Line-Retry-Key", "")
            state.requests.append(("POST", self.path, key))
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._answer(401, {"message": "Authentication failed"})
            if self.path == "/v2/bot/message/reply":
                token = body.get("replyToken", "")
                if not token or token in state.used_reply_tokens or token.startswith("expired"):
                    return self._answer(400, {"message": "Invalid reply token"})
                state.used_reply_tokens.add(token)
                state.replies.append(body)
                return self._answer(200, {"sentMessages": [{"id": str(len(state.replies))}]})
            if self.path.startswith("/v2/bot/richmenu") or self.path.startswith("/v2/bot/user/all/richmenu/"):
                if key:  # LINE takes retry keys only when sending messages, and refuses them elsewhere
                    return self._bad("X-Line-Retry-Key is not supported for this API")
                return self._rich_menu_post(body)
            if self.path not in ("/v2/bot/message/push", "/v2/bot/message/multicast"):
                return self._answer(404, {"message": "Not found"})
            multicast = self.path.endswith("multicast")
            if multicast and not 1 <= len(body.get("to", [])) <= 500:
                return self._answer(400, {"message": "The request body has 1 error(s)",
                                          "details": [{"message": "Size must be between 1 and 500", "property": "to"}]})
            if state.fail_next:
                return self._answer(state.fail_next.pop(0), {"message": "failing on purpose"})
            if key and key in state.accepted_keys:
                return self._answer(409, {"message": "The retry key is already accepted"})
            state.accepted_keys.add(key)
            (state.multicasts if multicast else state.pushes).append(body)
            state.used += len(body["to"]) if multicast else 1
            return self._answer(200, {"sentMessages": [{"id": str(len(state.pushes) + len(state.multicasts))}]})

        def _try_friend(self, form: dict[str, str]) -> None:
            state.requests.append(("POST", self.path, ""))
            origin = self.headers.get("Origin")
            if origin and origin != state.url:  # another site's page may not make friends here
                return self._answer(403, {"message": "cross-site form"})
            state.try_friend(form.get("channel", ""), form.get("action", ""), form.get("user", ""))
            self.send_response(303)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_DELETE(self) -> None:
            state.requests.append(("DELETE", self.path, ""))
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._answer(401, {"message": "Authentication failed"})
            if state.fail_next:
                return self._answer(state.fail_next.pop(0), {"message": "failing on purpose"})
            if self.path == "/v2/bot/user/all/richmenu":
                state.default_rich_menu = ""
                return self._answer(200, {})
            if self.path.startswith("/v2/bot/richmenu/"):
                menu_id = self.path.rsplit("/", 1)[1]
                if state.rich_menus.pop(menu_id, None) is None:
                    return self._answer(404, {"message": "Not found"})
                # Deleting a menu takes it from everyone it was linked to, and from the default.
                state.user_menus = {u: m for u, m in state.user_menus.items() if m != menu_id}
                if state.default_rich_menu == menu_id:
                    state.default_rich_menu = ""
                return self._answer(200, {})
            return self._answer(404, {"message": "Not found"})

        def _bad(self, message: str, prop: str = "") -> None:
            details = [{"message": message, "property": prop}] if prop else []
            self._answer(400, {"message": message, "details": details})

        def _rich_menu_post(self, body: dict[str, Any]) -> None:
            if state.fail_next:
                return self._answer(state.fail_next.pop(0), {"message": "failing on purpose"})
            if self.path == "/v2/bot/richmenu":
                problem = _menu_problem(body)
                if problem:
                    return self._bad(*problem)
                menu_id = f"richmenu-{len(state.rich_menus) + len(state.requests):032x}"
                state.rich_menus[menu_id] = {"menu": body, "image": b"", "content_type": ""}
                return self._answer(200, {"richMenuId": menu_id})
            if self.path.startswith("/v2/bot/user/all/richmenu/"):
                menu_id = self.path.rsplit("/", 1)[1]
                if menu_id not in state.rich_menus:
                    return self._answer(404, {"message": "Not found"})
                if not state.rich_menus[menu_id]["image"]:
                    return self._bad("An image has not been uploaded to the rich menu")
                state.default_rich_menu = menu_id
                return self._answer(200, {})
            if self.path in ("/v2/bot/richmenu/bulk/link", "/v2/bot/richmenu/bulk/unlink"):
                users = body.get("userIds")
                if not isinstance(users, list) or not 1 <= len(users) <= 500:
                    return self._bad("Size must be between 1 and 500", "userIds")
                if self.path.endswith("/link"):
                    menu_id = body.get("richMenuId", "")
                    if menu_id not in state.rich_menus:
                        return self._bad("richmenu not found", "richMenuId")
                    if not state.rich_menus[menu_id]["image"]:
                        return self._bad("An image has not been uploaded to the rich menu", "richMenuId")
                    state.user_menus.update(dict.fromkeys(users, menu_id))
                    state.bulk_requests.append(("link", len(users)))
                else:
                    for user in users:
                        state.user_menus.pop(user, None)
                    state.bulk_requests.append(("unlink", len(users)))
                return self._answer(202, {})
            return self._answer(404, {"message": "Not found"})

        def _upload(self, menu_id: str, image: bytes) -> None:
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._answer(401, {"message": "Authentication failed"})
            if state.fail_next or state.fail_uploads:
                status = (state.fail_next or state.fail_uploads).pop(0)
                return self._answer(status, {"message": "failing on purpose"})
            menu = state.rich_menus.get(menu_id)
            if menu is None:
                return self._answer(404, {"message": "Not found"})
            if menu["image"]:
                return self._bad("An image has already been uploaded to the rich menu")
            kind = self.headers.get("Content-Type", "")
            if kind not in ("image/png", "image/jpeg"):
                return self._bad("Unsupported Content-Type")
            if len(image) > 1024 * 1024:
                return self._bad("The image is larger than 1 MB")
            size = menu["menu"]["size"]
            if _dimensions(image) != (size["width"], size["height"]):
                return self._bad("The image size does not match the rich menu size")
            menu.update(image=image, content_type=kind)
            return self._answer(200, {})

    return Handler


def _menu_problem(menu: dict[str, Any]) -> tuple[str, str] | None:
    """What LINE would answer 400 about in a rich menu object, as (message, property)."""
    size = menu.get("size") or {}
    width, height = size.get("width"), size.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and 800 <= width <= 2500 and height >= 250
            and width / height >= 1.45):
        return "Invalid size", "size"
    if not isinstance(menu.get("selected"), bool):
        return "Must be a boolean", "selected"
    if not 1 <= len(str(menu.get("name") or "")) <= 300:
        return "Length must be between 1 and 300", "name"
    if not 1 <= len(str(menu.get("chatBarText") or "")) <= 14:
        return "Length must be between 1 and 14", "chatBarText"
    areas = menu.get("areas")
    if not isinstance(areas, list) or len(areas) > 20:
        return "Size must be between 0 and 20", "areas"
    for n, area in enumerate(areas):
        b = area.get("bounds") or {}
        if not all(isinstance(b.get(k), int) for k in ("x", "y", "width", "height")) or b["x"] < 0 or b["y"] < 0 \
                or b["width"] < 1 or b["height"] < 1 or b["x"] + b["width"] > width \
                or b["y"] + b["height"] > height:
            return "The area is outside the rich menu", f"areas[{n}].bounds"
        action = area.get("action") or {}
        needed = {"uri": "uri", "message": "text", "postback": "data"}.get(action.get("type", ""))
        if needed is None or not action.get(needed):
            return "Invalid action", f"areas[{n}].action"
    return None


def _dimensions(image: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR or a JPEG's start-of-frame marker."""
    if image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) >= 24:
        return int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    if image.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(image) and image[i] == 0xFF:
            marker, length = image[i + 1], int.from_bytes(image[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(image[i + 7:i + 9], "big"), int.from_bytes(image[i + 5:i + 7], "big")
            i += 2 + length
    return None


@contextmanager
def line_standin(port: int = 0) -> Iterator[LineStandIn]:
    state = LineStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
