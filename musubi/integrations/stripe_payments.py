"""Stripe card payments through the official SDK (``stripe.StripeClient``).

``MUSUBI_STRIPE_API_BASE`` points every call elsewhere (tests use a stand-in on 127.0.0.1). Every call that
creates something carries an idempotency key the caller derives from its own row (an order, a renewal
cycle), so a retry after a crash or a timeout is the same request and Stripe acts once.

3-D Secure: a PaymentIntent confirmed at checkout may answer ``requires_action`` with a redirect; the buyer
authenticates at their bank and comes back to ``return_url``, where the intent is read again. An off-session
renewal that needs authentication fails with ``authentication_required``; the customer is sent a link to
pay the order on-session.

A buyer at checkout enters their card (or asks for a konbini payment slip) on Stripe Checkout's hosted page:
no card number reaches us and no script is loaded from elsewhere. ``start_checkout`` opens a Checkout Session
for an order's exact amount; ``checkout_state`` reads it back (with its PaymentIntent) when the buyer returns
or a ``checkout.session.*`` event arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from stripe import StripeClient

__all__ = ["BadSignature", "Charge", "CheckoutState", "HostedCheckout", "StripeEvent", "charge", "checkout_state",
           "expire_checkout", "refund", "retrieve", "start_checkout", "verify_event"]


class BadSignature(Exception):
    """The webhook body was not signed with the workspace's webhook secret (or is too old)."""


@dataclass(frozen=True)
class Charge:
    """Where a PaymentIntent stands: ``succeeded``, ``requires_action`` (with ``redirect_url``),
    ``processing``, or ``failed`` (declined; ``decline_code`` says why, e.g. authentication_required)."""

    intent_id: str
    status: str
    redirect_url: str = ""
    customer: str = ""
    payment_method: str = ""
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event reduced to what the sales app acts on."""

    id: str
    type: str
    intent_id: str
    amount: int
    data: dict[str, Any]
    order_number: str = ""  # from the intent's metadata: finds an order whose intent id was never recorded
    checkout_session: str = ""  # the session's id, for ``checkout.session.*`` events


def _client(secret_key: str) -> StripeClient:
    from stripe import StripeClient

    return StripeClient(secret_key, base_addresses={"api": settings.MUSUBI_STRIPE_API_BASE},
                        max_network_retries=2)


def _charge(resource: Any) -> Charge:
    intent = resource.to_dict() if hasattr(resource, "to_dict") else resource
    action = intent.get("next_action") or {}
    redirect = (action.get("redirect_to_url") or {}).get("url", "") if action.get("type") == "redirect_to_url" else ""
    error = intent.get("last_payment_error") or {}
    status = intent["status"]
    if status == "requires_payment_method" and error:
        status = "failed"
    return Charge(intent_id=intent["id"], status=status, redirect_url=redirect, customer=intent.get("customer") or "",
                  payment_method=intent.get("payment_method") or "",
                  decline_code=error.get("decline_code") or error.get("code") or "",
                  message=error.get("message") or "")


def charge(*, secret_key: str, amount: int, currency: str, payment_method: str, idempotency_key: str,
           description: str, metadata: dict[str, str], return_url: str = "", customer: str = "",
           email: str = "", save_card: bool = False, off_session: bool = False) -> Charge:
    """Create and confirm a PaymentIntent. With ``save_card`` a customer is made (or ``customer`` reused)
    and the card kept for off-session renewals. A decline comes back as ``status="failed"``, not raised."""
    import stripe

    client = _client(secret_key)
    options = {"idempotency_key": idempotency_key}
    if save_card and not customer:
        customer = client.v1.customers.create(params={"email": email, "metadata": metadata},
                                              options={"idempotency_key": f"{idempotency_key}-customer"})["id"]
    params: dict[str, Any] = {"amount": amount, "currency": currency.lower(), "payment_method": payment_method,
                              "confirm": True, "description": description, "metadata": metadata,
                              "payment_method_types": ["card"]}
    if customer:
        params["customer"] = customer
    if off_session:
        params["off_session"] = True
    else:
        params["return_url"] = return_url
        if save_card:
            params["setup_future_usage"] = "off_session"
    try:
        intent = client.v1.payment_intents.create(params=params, options=options)  # type: ignore[arg-type]
    except stripe.CardError as exc:
        body: dict[str, Any] = exc.json_body if isinstance(exc.json_body, dict) else {}
        error = body.get("error", {})
        declined = error.get("payment_intent") or {}
        return Charge(intent_id=declined.get("id", ""), status="failed", customer=customer,
                      payment_method=payment_method, decline_code=error.get("decline_code") or exc.code or "",
                      message=error.get("message") or str(exc))
    except stripe.StripeError as exc:
        # Stripe unreachable or refusing the request: not a decline. The idempotency key makes a later
        # retry the same request; a charge that did go through arrives as a webhook.
        return Charge(intent_id="", status="failed", customer=customer, payment_method=payment_method,
                      decline_code="provider_error", message=str(exc)[:200])
    return _charge(intent)


def retrieve(*, secret_key: str, intent_id: str) -> Charge:
    return _charge(_client(secret_key).v1.payment_intents.retrieve(intent_id))


def refund(*, secret_key: str, intent_id: str, amount: int, idempotency_key: str) -> str:
    """Refund ``amount`` of a paid intent; returns the refund's id."""
    created = _client(secret_key).v1.refunds.create(params={"payment_intent": intent_id, "amount": amount},
                                                    options={"idempotency_key": idempotency_key})
    return str(created["id"])


def verify_event(*, body: bytes, signature: str, webhook_secret: str) -> StripeEvent:
    """Check ``Stripe-Signature`` on the exact body before reading a byte of it, then parse."""
    import stripe

    try:
        stripe.WebhookSignature.verify_header(body.decode("utf-8"), signature, webhook_secret,
                                              tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise BadSignature(str(exc)) from exc
    payload = json.loads(body)
    obj = payload.get("data", {}).get("object", {})
    intent_id = obj.get("id", "") if obj.get("object") == "payment_intent" else obj.get("payment_intent") or ""
    amount = int(obj.get("amount_refunded") or obj.get("amount") or 0)
    number = str((obj.get("metadata") or {}).get("order", "") or obj.get("client_reference_id") or "")
    session = obj.get("id", "") if obj.get("object") == "checkout.session" else ""
    if session:
        amount = int(obj.get("amount_total") or 0)
    return StripeEvent(id=payload["id"], type=payload["type"], intent_id=intent_id or "", amount=amount, data=obj,
                       order_number=number, checkout_session=session)


# --- Stripe Checkout's hosted page ------------------------------------------------------------------------------

@dataclass(frozen=True)
class HostedCheckout:
    """A Checkout Session opened for an order: send the buyer to ``url``; ``failure`` says why none was made."""

    session_id: str = ""
    url: str = ""
    customer: str = ""
    failure: str = ""


@dataclass(frozen=True)
class CheckoutState:
    """Where a Checkout Session stands. ``status``: open (the buyer has not finished), complete, expired;
    ``payment_status``: paid, or unpaid (a konbini slip waiting to be paid at the store). ``voucher`` is what
    Stripe returns for a konbini payment (the slip's address, its deadline, the stores' numbers)."""

    session_id: str
    status: str
    payment_status: str
    intent_id: str = ""
    intent_status: str = ""
    customer: str = ""
    payment_method: str = ""
    amount: int = 0
    url: str = ""  # the hosted page's address while the session is open
    voucher: dict[str, Any] | None = None

    @property
    def paid(self) -> bool:
        return self.payment_status in ("paid", "no_payment_required")

    @property
    def awaiting_store_payment(self) -> bool:
        return (self.status == "complete" and self.payment_status == "unpaid"
                and self.intent_status in ("requires_action", "processing"))


def start_checkout(*, secret_key: str, amount: int, currency: str, name: str, order_number: str, email: str,
                   methods: list[str], success_url: str, cancel_url: str, idempotency_key: str,
                   save_card: bool = False, customer: str = "", konbini_days: int = 3) -> HostedCheckout:
    """Open a Checkout Session in payment mode for exactly ``amount`` (one line: the order), our order number in
    its metadata and ``client_reference_id``. With ``save_card`` the card is kept on a Stripe customer for
    off-session renewals. A refusal or an unreachable Stripe comes back as ``failure``, not raised."""
    import stripe

    client = _client(secret_key)
    metadata = {"order": order_number}
    try:
        if save_card and not customer:
            customer = client.v1.customers.create(params={"email": email, "metadata": metadata},
                                                  options={"idempotency_key": f"{idempotency_key}-customer"})["id"]
        intent_data: dict[str, Any] = {"metadata": metadata, "description": f"{name} ({order_number})"}
        if save_card:
            intent_data["setup_future_usage"] = "off_session"
        params: dict[str, Any] = {
            "mode": "payment", "locale": "ja", "payment_method_types": methods,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": currency.lower(), "unit_amount": amount,
                "product_data": {"name": f"{name}（{order_number}）"}}}],
            "client_reference_id": order_number, "metadata": metadata, "payment_intent_data": intent_data,
            "success_url": success_url, "cancel_url": cancel_url,
        }
        if customer:
            params["customer"] = customer
        else:
            params["customer_email"] = email
        if "konbini" in methods:
            params["payment_method_options"] = {"konbini": {"expires_after_days": konbini_days}}
        session = client.v1.checkout.sessions.create(params=params,  # type: ignore[arg-type]
                                                      options={"idempotency_key": idempotency_key})
    except stripe.StripeError as exc:
        return HostedCheckout(customer=customer, failure=str(getattr(exc, "user_message", "") or exc)[:200])
    return HostedCheckout(session_id=session["id"], url=session["url"] or "", customer=customer)


def checkout_state(*, secret_key: str, session_id: str) -> CheckoutState:
    """Read a Checkout Session with its PaymentIntent. Raises ``stripe.StripeError`` when Stripe cannot be asked."""
    session = _client(secret_key).v1.checkout.sessions.retrieve(
        session_id, params={"expand": ["payment_intent"]}).to_dict()
    intent = session.get("payment_intent") or {}
    if isinstance(intent, str):
        intent = {"id": intent}
    action = intent.get("next_action") or {}
    voucher = action.get("konbini_display_details") if action.get("type") == "konbini_display_details" else None
    method = intent.get("payment_method") or ""
    if isinstance(method, dict):
        method = method.get("id", "")
    return CheckoutState(session_id=session["id"], status=session.get("status") or "",
                         payment_status=session.get("payment_status") or "", intent_id=intent.get("id", ""),
                         intent_status=intent.get("status", ""), customer=session.get("customer") or "",
                         payment_method=method, amount=int(session.get("amount_total") or 0),
                         url=session.get("url") or "", voucher=voucher)


def expire_checkout(*, secret_key: str, session_id: str) -> bool:
    """Close an open session so an expired order can no longer be paid; False if Stripe refused (already
    complete or expired) or could not be reached."""
    import stripe

    try:
        _client(secret_key).v1.checkout.sessions.expire(session_id)
    except stripe.StripeError:
        return False
    return True
