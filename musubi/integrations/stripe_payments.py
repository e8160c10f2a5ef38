"""Stripe card payments through the official SDK (``stripe.StripeClient``).

``MUSUBI_STRIPE_API_BASE`` points every call elsewhere (tests use a stand-in on 127.0.0.1). Every call that
creates something carries an idempotency key the caller derives from its own row (an order, a renewal
cycle), so a retry after a crash or a timeout is the same request and Stripe acts once.

3-D Secure: a PaymentIntent confirmed at checkout may answer ``requires_action`` with a redirect; the buyer
authenticates at their bank and comes back to ``return_url``, where the intent is read again. An off-session
renewal that needs authentication fails with ``authentication_required``; the customer is sent a link to
pay the order on-session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from stripe import StripeClient

__all__ = ["BadSignature", "Charge", "StripeEvent", "charge", "refund", "retrieve", "verify_event"]


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
    number = str((obj.get("metadata") or {}).get("order", ""))
    return StripeEvent(id=payload["id"], type=payload["type"], intent_id=intent_id or "", amount=amount, data=obj,
                       order_number=number)
