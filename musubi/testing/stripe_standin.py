"""A local stand-in for Stripe's API on 127.0.0.1, for tests and the demo: the official SDK talks to it as to
api.stripe.com (form-encoded requests, JSON answers, ``Idempotency-Key``).

It knows Stripe's test payment methods: ``pm_card_visa`` pays; ``pm_card_threeDSecure2Required`` answers
``requires_action`` with a ``redirect_to_url`` to the stand-in's own authentication page (whose button
completes or fails the intent and sends the browser to ``return_url``), and, off-session, declines with
``authentication_required``; ``pm_card_authenticationRequiredOnSetup`` asks for it at checkout only and
pays off-session renewals; ``pm_card_chargeDeclined`` declines. It keeps customers, the cards attached to
them, intents and refunds; ``decline_next`` makes the next charges fail whatever the card.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAYS = "pm_card_visa"
NEEDS_3DS = "pm_card_threeDSecure2Required"
NEEDS_3DS_ONCE = "pm_card_authenticationRequiredOnSetup"  # 3-D Secure when saved, then renewals go through
DECLINED = "pm_card_chargeDeclined"


@dataclass
class StripeStandIn:
    url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, idempotency key
    idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    decline_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def charges(self) -> list[dict[str, Any]]:
        """Intents that took money."""
        return [i for i in self.intents.values() if i["status"] == "succeeded"]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{len(self.customers) + len(self.intents) + len(self.refunds) + 1:06d}"


def _flatten(form: dict[str, list[str]]) -> dict[str, Any]:
    """``metadata[order]=1`` → ``{"metadata": {"order": "1"}}``; ``payment_method_types[0]=card`` → a list."""
    out: dict[str, Any] = {}
    for key, values in form.items():
        if "[" in key:
            head, rest = key.split("[", 1)
            sub = rest.rstrip("]")
            target = out.setdefault(head, {})
            target[sub] = values[0]
        else:
            out[key] = values[0]
    return out


def _handler(state: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_standin")
            self.end_headers()
            self.wfile.write(data)

        def _html(self, body: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if not self.headers.get("Authorization", "").startswith("Bearer sk_"):
                self._answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
                return False
            return True

        def do_GET(self) -> None:
            path = urllib.parse.urlparse(self.path).path
            state.requests.append(("GET", path, ""))
            if path.startswith("/3ds/"):
                intent = state.intents.get(path.rsplit("/", 1)[1])
                if intent is None:
                    return self._answer(404, {"error": {"message": "no such intent"}})
                amount = intent["amount"]
                return self._html(
                    "<!doctype html><html lang='ja'><meta charset='utf-8'>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'><title>3-D Secure</title>"
                    f"<h1>本人認証（テスト）</h1><p>{amount:,} 円のお支払いを認証しますか？</p>"
                    f"<form method='post'><button name='result' value='ok' id='authenticate'>認証する</button>"
                    f"<button name='result' value='fail' id='fail'>認証しない</button></form></html>")
            if not self._authorised():
                return None
            if path.startswith("/v1/payment_intents/"):
                intent = state.intents.get(path.rsplit("/", 1)[1])
                if intent is None:
                    return self._answer(404, {"error": {"type": "invalid_request_error",
                                                        "message": "No such payment_intent"}})
                return self._answer(200, intent)
            return self._answer(404, {"error": {"message": "not stood in for"}})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            path = urllib.parse.urlparse(self.path).path
            form = _flatten(urllib.parse.parse_qs(raw))
            if path.startswith("/3ds/"):
                return self._authenticate(path.rsplit("/", 1)[1], form.get("result") == "ok")
            key = self.headers.get("Idempotency-Key", "")
            state.requests.append(("POST", path, key))
            if not self._authorised():
                return None
            with state.lock:
                if key and key in state.idempotent:
                    return self._answer(*state.idempotent[key])
                status, body = self._route(path, form)
                if key:
                    state.idempotent[key] = (status, body)
            return self._answer(status, body)

        def _route(self, path: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if path == "/v1/customers":
                customer = {"id": state._id("cus"), "object": "customer", "email": form.get("email", ""),
                            "payment_methods": []}
                state.customers[customer["id"]] = customer
                return 200, {k: v for k, v in customer.items() if k != "payment_methods"}
            if path == "/v1/payment_intents":
                return self._create_intent(form)
            if path.startswith("/v1/payment_intents/") and path.endswith("/confirm"):
                intent = state.intents.get(path.split("/")[3])
                if intent is None:
                    return 404, {"error": {"message": "No such payment_intent"}}
                return self._confirm(intent, form.get("payment_method") or intent["payment_method"],
                                     off_session=form.get("off_session") == "true")
            if path == "/v1/refunds":
                intent = state.intents.get(form.get("payment_intent", ""))
                if intent is None or intent["status"] != "succeeded":
                    return 400, {"error": {"type": "invalid_request_error", "message": "not refundable"}}
                amount = int(form.get("amount") or intent["amount"])
                if amount > intent["amount"] - intent["amount_refunded"]:
                    return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                           "message": "Refund amount is greater than unrefunded amount"}}
                intent["amount_refunded"] += amount
                refund = {"id": state._id("re"), "object": "refund", "amount": amount, "status": "succeeded",
                          "payment_intent": intent["id"]}
                state.refunds[refund["id"]] = refund
                return 200, refund
            return 404, {"error": {"message": "not stood in for"}}

        def _create_intent(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            customer = form.get("customer") or None
            if customer and customer not in state.customers:
                return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
            intent = {"id": state._id("pi"), "object": "payment_intent", "amount": int(form["amount"]),
                      "currency": form.get("currency", "jpy"), "customer": customer,
                      "payment_method": form.get("payment_method"), "status": "requires_payment_method",
                      "metadata": form.get("metadata", {}), "next_action": None, "last_payment_error": None,
                      "amount_refunded": 0, "return_url": form.get("return_url", ""),
                      "setup_future_usage": form.get("setup_future_usage")}
            state.intents[intent["id"]] = intent
            if form.get("confirm") == "true" and intent["payment_method"]:
                return self._confirm(intent, intent["payment_method"], off_session=form.get("off_session") == "true")
            return 200, intent

        def _confirm(self, intent: dict[str, Any], card: str, *, off_session: bool) -> tuple[int, dict[str, Any]]:
            intent["payment_method"] = card
            if state.decline_next > 0 or card == DECLINED:
                state.decline_next = max(0, state.decline_next - 1)
                return self._decline(intent, "card_declined", "generic_decline", "Your card was declined.")
            if card == NEEDS_3DS_ONCE and off_session:
                return self._succeed(intent)
            if card == NEEDS_3DS and off_session:
                return self._decline(intent, "authentication_required", "authentication_required",
                                     "This payment requires authentication.")
            if card in (NEEDS_3DS, NEEDS_3DS_ONCE):
                intent["status"] = "requires_action"
                intent["next_action"] = {"type": "redirect_to_url", "redirect_to_url": {
                    "url": f"{state.url}/3ds/{intent['id']}", "return_url": intent["return_url"]}}
                return 200, intent
            if card not in (PAYS,) and not card.startswith("pm_saved_"):
                return 400, {"error": {"type": "invalid_request_error", "message": f"No such PaymentMethod: {card}"}}
            return self._succeed(intent)

        def _succeed(self, intent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent["status"], intent["next_action"], intent["last_payment_error"] = "succeeded", None, None
            if intent["customer"] and intent.get("setup_future_usage"):
                state.customers[intent["customer"]]["payment_methods"].append(intent["payment_method"])
            return 200, intent

        def _decline(self, intent: dict[str, Any], code: str, decline_code: str,
                     message: str) -> tuple[int, dict[str, Any]]:
            error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
            intent["status"], intent["last_payment_error"] = "requires_payment_method", error
            return 402, {"error": {**error, "payment_intent": intent}}

        def _authenticate(self, intent_id: str, ok: bool) -> None:
            intent = state.intents.get(intent_id)
            if intent is None or intent["status"] != "requires_action":
                return self._answer(404, {"error": {"message": "nothing to authenticate"}})
            if ok:
                self._succeed(intent)
            else:
                intent["status"], intent["next_action"] = "requires_payment_method", None
                intent["last_payment_error"] = {"type": "card_error", "code": "payment_intent_authentication_failure",
                                                "message": "The cardholder did not authenticate."}
            target = intent["return_url"] or "/"
            separator = "&" if "?" in target else "?"
            self.send_response(303)
            self.send_header("Location", f"{target}{separator}payment_intent={urllib.parse.quote(intent_id)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def stripe_standin() -> Iterator[StripeStandIn]:
    state = StripeStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
