"""A local stand-in for Stripe's API on 127.0.0.1, for tests and the demo: the official SDK talks to it as to
api.stripe.com (form-encoded requests, JSON answers, ``Idempotency-Key``).

It knows Stripe's test payment methods: ``pm_card_visa`` pays; ``pm_card_threeDSecure2Required`` answers
``requires_action`` with a ``redirect_to_url`` to the stand-in's own authentication page (whose button
completes or fails the intent and sends the browser to ``return_url``), and, off-session, declines with
``authentication_required``; ``pm_card_authenticationRequiredOnSetup`` asks for it at checkout only and
pays off-session renewals; ``pm_card_chargeDeclined`` declines. It keeps customers, the cards attached to
them, intents and refunds; ``decline_next`` makes the next charges fail whatever the card.

Checkout Sessions (create, retrieve with ``expand[]=payment_intent``, expire) come with a minimal hosted page
at ``/pay/<session>`` (see ``stripe_hosted_page``): pay with one of the test cards above — 3-D Secure asked
on the page itself — or have a konbini slip issued and later "pay at the store" or let it lapse. Each step
sends the events Stripe would send, signed with the endpoint's secret, to the endpoint registered for the
secret key that made the session (``endpoints``, or ``endpoint_for`` for the demo). An endpoint given as a
path (``/stripe/webhook/shop``) is only queued in ``webhooks``: a test hands those to Django's test client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from musubi.testing import stripe_hosted_page as pages

PAYS = "pm_card_visa"
NEEDS_3DS = "pm_card_threeDSecure2Required"
NEEDS_3DS_ONCE = "pm_card_authenticationRequiredOnSetup"  # 3-D Secure when saved, then renewals go through
DECLINED = "pm_card_chargeDeclined"


@dataclass
class Webhook:
    """One event sent (or, to a path, queued) to a workspace's endpoint, signed as Stripe signs it."""

    url: str
    body: str
    signature: str
    type: str
    status: int | None = None  # the endpoint's answer, once delivered


@dataclass
class StripeStandIn:
    url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, tuple[str, str]] = field(default_factory=dict)  # secret key → (webhook URL, secret)
    endpoint_for: Callable[[str], tuple[str, str] | None] | None = None
    webhooks: list[Webhook] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, idempotency key
    idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    decline_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def charges(self) -> list[dict[str, Any]]:
        """Intents that took money."""
        return [i for i in self.intents.values() if i["status"] == "succeeded"]

    def _id(self, prefix: str) -> str:
        count = len(self.customers) + len(self.intents) + len(self.refunds) + len(self.sessions) + len(self.webhooks)
        return f"{prefix}_{count + 1:06d}"

    def pending_webhooks(self) -> list[Webhook]:
        """Events queued for a path (not yet handed to the application by a test)."""
        return [w for w in self.webhooks if w.status is None and not w.url.startswith("http")]

    def send_event(self, secret_key: str, kind: str, obj: dict[str, Any]) -> Webhook | None:
        """Sign ``kind`` about ``obj`` for the endpoint of ``secret_key`` and post it (or queue it for a path)."""
        endpoint = self.endpoints.get(secret_key) or (self.endpoint_for(secret_key) if self.endpoint_for else None)
        if endpoint is None:
            return None
        url, secret = endpoint
        with self.lock:
            event_id = self._id("evt")
            body = json.dumps({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                               "livemode": False, "data": {"object": public(obj)}})
            webhook = Webhook(url=url, body=body, signature=sign(body, secret), type=kind)
            self.webhooks.append(webhook)
        if url.startswith("http"):
            request = urllib.request.Request(url, data=body.encode(), method="POST", headers={  # noqa: S310
                "Content-Type": "application/json", "Stripe-Signature": webhook.signature})
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 (a configured endpoint)
                    webhook.status = answer.status
            except urllib.error.HTTPError as exc:
                webhook.status = exc.code
            except OSError:
                webhook.status = 0
        return webhook


def sign(body: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header: HMAC-SHA256 of ``"<t>.<body>"`` with the endpoint's secret."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as the API shows it (the stand-in's own bookkeeping starts with an underscore)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _flatten(form: dict[str, list[str]]) -> dict[str, Any]:
    """Stripe's form encoding back to objects: ``metadata[order]=1`` → ``{"metadata": {"order": "1"}}``,
    ``line_items[0][price_data][unit_amount]=980`` → a list of objects, ``expand[0]=x`` → a list."""
    out: dict[str, Any] = {}
    for key, values in form.items():
        path = key.replace("]", "").split("[")
        target = out
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = values[0]
    return _lists(out)


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


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

        def _html(self, status_or_body: int | str, body: str = "") -> None:
            status = status_or_body if isinstance(status_or_body, int) else 200
            data = (body if isinstance(status_or_body, int) else status_or_body).encode()
            self.send_response(status)
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
            if path.startswith(("/pay/", "/voucher/")):
                return self._html(*pages.get(state, path))
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
            if path.startswith("/v1/checkout/sessions/"):
                session = state.sessions.get(path.rsplit("/", 1)[1])
                if session is None:
                    return self._answer(404, {"error": {"type": "invalid_request_error",
                                                        "message": "No such checkout.session"}})
                query = _flatten(urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query))
                shown = public(session)
                if "payment_intent" in (query.get("expand") or []) and session["payment_intent"]:
                    shown["payment_intent"] = state.intents[session["payment_intent"]]
                return self._answer(200, shown)
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
            if path.startswith(("/pay/", "/voucher/")):
                state.requests.append(("POST", path, ""))
                status, location, html = pages.post(state, path, form)
                if location:
                    self.send_response(303)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._html(status, html)
            if path.startswith("/3ds/"):
                return self._authenticate(path.rsplit("/", 1)[1], form.get("result") == "ok")
            key = self.headers.get("Idempotency-Key", "")
            state.requests.append(("POST", path, key))
            if not self._authorised():
                return None
            expired: dict[str, Any] | None = None
            with state.lock:
                if key and key in state.idempotent:
                    return self._answer(*state.idempotent[key])
                if path.startswith("/v1/checkout/sessions"):
                    status, body = self._checkout(path, form)
                    expired = body if path.endswith("/expire") and status == 200 else None
                else:
                    status, body = self._route(path, form)
                if key:
                    state.idempotent[key] = (status, body)
            if expired is not None:
                state.send_event(state.sessions[expired["id"]]["_key"], "checkout.session.expired", expired)
            return self._answer(status, body)

        def _checkout(self, path: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if path == "/v1/checkout/sessions":
                return checkout_session(state, form, self.headers.get("Authorization", "").removeprefix("Bearer "))
            session = state.sessions.get(path.split("/")[4]) if path.endswith("/expire") else None
            if session is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such checkout.session"}}
            if session["status"] != "open":
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": f"Only an open session can be expired, not {session['status']}."}}
            session["status"], session["url"] = "expired", None
            return 200, public(session)

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


def checkout_session(state: StripeStandIn, form: dict[str, Any], secret_key: str) -> tuple[int, dict[str, Any]]:
    """A Checkout Session in payment mode, refused as Stripe refuses what it cannot take."""
    def refused(message: str, param: str = "") -> tuple[int, dict[str, Any]]:
        return 400, {"error": {"type": "invalid_request_error", "message": message, "param": param}}

    if form.get("mode") != "payment":
        return refused("Only payment mode is stood in for.", "mode")
    lines = form.get("line_items") or []
    try:
        amount = sum(int(line["price_data"]["unit_amount"]) * int(line.get("quantity", 1)) for line in lines)
        currency = {line["price_data"]["currency"] for line in lines}.pop()
    except (KeyError, TypeError, ValueError):
        return refused("Each line item needs price_data with a currency and a unit_amount.", "line_items")
    methods = form.get("payment_method_types") or ["card"]
    intent_data = form.get("payment_intent_data") or {}
    if not form.get("success_url"):
        return refused("Missing required param: success_url.", "success_url")
    customer = form.get("customer") or None
    if customer and customer not in state.customers:
        return refused(f"No such customer: '{customer}'", "customer")
    if "konbini" in methods:
        if currency != "jpy":
            return refused("Konbini takes JPY only.", "line_items")
        if not 120 <= amount <= 300_000:
            return refused("Konbini takes amounts from 120 to 300,000 yen.", "line_items")
        if intent_data.get("setup_future_usage"):
            return refused("Konbini cannot be saved for future payments.", "payment_intent_data[setup_future_usage]")
    session_id = "cs_test_" + state._id("a")
    session = {
        "id": session_id, "object": "checkout.session", "url": f"{state.url}/pay/{session_id}", "status": "open",
        "payment_status": "unpaid", "mode": "payment", "amount_total": amount, "currency": currency,
        "client_reference_id": form.get("client_reference_id"), "metadata": form.get("metadata") or {},
        "customer": customer, "customer_email": form.get("customer_email"), "payment_intent": None,
        "payment_method_types": methods, "payment_method_options": form.get("payment_method_options") or {},
        "success_url": form["success_url"], "cancel_url": form.get("cancel_url"),
        "expires_at": int(time.time()) + 24 * 3600, "livemode": False,
        "_key": secret_key, "_intent_data": intent_data,
        "_name": str(((lines[0].get("price_data") or {}).get("product_data") or {}).get("name", "")),
    }
    state.sessions[session_id] = session
    return 200, public(session)


@contextmanager
def stripe_standin(port: int = 0) -> Iterator[StripeStandIn]:
    state = StripeStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
