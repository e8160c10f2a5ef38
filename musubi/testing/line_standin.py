"""A local stand-in for LINE's Messaging API on 127.0.0.1, for tests: the official SDK talks to it exactly as
to api.line.me. It keeps what was pushed, answers 409 to a retry key it already accepted (as LINE does),
serves profiles, and can be told to fail the next pushes with a status."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class LineStandIn:
    url: str = ""
    pushes: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, retry key
    names: dict[str, str] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    accepted_keys: set[str] = field(default_factory=set)
    multicasts: list[dict[str, Any]] = field(default_factory=list)
    quota: int | None = 200  # the account's monthly limit (None: unlimited)
    used: int = 0
    quota_status: int = 200  # another status makes the quota endpoints answer it, as a refused token would

    def delivered_to(self, user_id: str) -> list[str]:
        pushed = [m["text"] for p in self.pushes if p["to"] == user_id for m in p["messages"]]
        return pushed + [m["text"] for p in self.multicasts if user_id in p["to"] for m in p["messages"]]


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
            if self.path == "/v2/profile":  # LINE Login: the signed-in user's profile
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token.startswith("at-"):
                    return self._answer(200, {"userId": token[3:], "displayName": state.names.get(token[3:], "")})
                return self._answer(401, {"message": "invalid token"})
            if self.path.startswith("/v2/bot/message/quota") and state.quota_status != 200:
                return self._answer(state.quota_status, {"message": "failing on purpose"})
            if self.path == "/v2/bot/message/quota":
                if state.quota is None:
                    return self._answer(200, {"type": "none"})
                return self._answer(200, {"type": "limited", "value": state.quota})
            if self.path == "/v2/bot/message/quota/consumption":
                return self._answer(200, {"totalUsage": state.used})
            if self.path.startswith("/v2/bot/profile/"):
                user_id = self.path.rsplit("/", 1)[1]
                if user_id in state.names:
                    return self._answer(200, {"userId": user_id, "displayName": state.names[user_id]})
                return self._answer(404, {"message": "Not found"})
            return self._answer(404, {"message": "Not found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/oauth2/v2.1/token":  # LINE Login: a code "code-for-<userId>" becomes a token
                form = dict(urllib.parse.parse_qsl(raw.decode()))
                state.requests.append(("POST", self.path, form.get("client_id", "")))
                if form.get("code", "").startswith("code-for-") and form.get("client_secret"):
                    return self._answer(200, {"access_token": "at-" + form["code"][9:], "token_type": "Bearer"})
                return self._answer(400, {"error": "invalid_grant"})
            body = json.loads(raw or b"{}")
            key = self.headers.get("X-Line-Retry-Key", "")
            state.requests.append(("POST", self.path, key))
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._answer(401, {"message": "Authentication failed"})
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

    return Handler


@contextmanager
def line_standin() -> Iterator[LineStandIn]:
    state = LineStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
