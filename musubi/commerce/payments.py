"""The payment methods a checkout offers, each behind ``ports.PaymentMethodPort``."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.commerce.choices import PaymentMethod
from musubi.commerce.models import PaymentSettings
from musubi.commerce.ports import Collection, Outcome, PaymentMethodPort
from musubi.integrations import stripe_payments


class Free:
    """A 0-yen order: nothing to collect."""

    code = PaymentMethod.FREE

    def collect(self, collection: Collection) -> Outcome:
        return Outcome(state="paid")

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        return ""


class BankTransfer:
    """銀行振込: the order waits, with the account shown, until staff see the money and mark it paid."""

    code = PaymentMethod.BANK_TRANSFER

    def collect(self, collection: Collection) -> Outcome:
        return Outcome(state="waiting")

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        return ""  # staff transfer the money back by hand; the refund row records it


class CashOnDelivery(BankTransfer):
    """代金引換: the carrier collects on delivery (with the method's fee); the order ships unpaid."""

    code = PaymentMethod.CASH_ON_DELIVERY


@dataclass(frozen=True)
class StripeCard:
    """Cards through Stripe. At checkout the buyer enters the card on Stripe Checkout's hosted page (the card
    number never reaches us); a renewal charges the saved card off-session, and a renewal the bank wants
    authenticated charges it on-session through 3-D Secure."""

    secret_key: str
    code: str = PaymentMethod.CARD

    def collect(self, collection: Collection) -> Outcome:
        if not collection.card_token and not collection.off_session:
            return hosted_checkout(self.secret_key, collection, methods=["card"])
        charge = stripe_payments.charge(
            secret_key=self.secret_key, amount=collection.amount, currency=collection.currency,
            payment_method=collection.card_token, idempotency_key=collection.idempotency_key,
            description=collection.description, metadata={"order": collection.order_number},
            return_url=collection.return_url, customer=collection.customer, email=collection.email,
            save_card=collection.save_card, off_session=collection.off_session)
        return outcome_of(charge)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        return stripe_payments.refund(secret_key=self.secret_key, intent_id=reference, amount=amount,
                                      idempotency_key=idempotency_key)


@dataclass(frozen=True)
class StripeKonbini:
    """コンビニ決済 through Stripe Checkout: the buyer gets a payment slip and pays at a store within
    ``konbini_days``; Stripe's event tells us when the money arrived (one-time orders only)."""

    secret_key: str
    code: str = PaymentMethod.KONBINI

    def collect(self, collection: Collection) -> Outcome:
        return hosted_checkout(self.secret_key, collection, methods=["konbini"])

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        return stripe_payments.refund(secret_key=self.secret_key, intent_id=reference, amount=amount,
                                      idempotency_key=idempotency_key)


def hosted_checkout(secret_key: str, collection: Collection, *, methods: list[str]) -> Outcome:
    """Open Stripe's hosted page for the order: the buyer is sent there and comes back to the order's page."""
    opened = stripe_payments.start_checkout(
        secret_key=secret_key, amount=collection.amount, currency=collection.currency, name=collection.description,
        order_number=collection.order_number, email=collection.email, methods=methods,
        success_url=collection.return_url, cancel_url=collection.cancel_url or collection.return_url,
        idempotency_key=collection.idempotency_key, save_card=collection.save_card, customer=collection.customer,
        konbini_days=collection.konbini_days)
    if not opened.session_id:
        return Outcome(state="failed", customer=opened.customer, reason=opened.failure or "provider_error")
    return Outcome(state="needs_buyer", redirect_url=opened.url, customer=opened.customer,
                   checkout_session=opened.session_id)


def outcome_of(charge: stripe_payments.Charge) -> Outcome:
    state = {"succeeded": "paid", "requires_action": "needs_buyer", "processing": "waiting"}.get(charge.status,
                                                                                              "failed")
    return Outcome(state=state, reference=charge.intent_id, redirect_url=charge.redirect_url,
                   customer=charge.customer, saved_card=charge.payment_method,
                   reason=charge.decline_code or charge.message)


def method_for(code: str, payment_settings: PaymentSettings) -> PaymentMethodPort:
    if code == PaymentMethod.CARD:
        return StripeCard(secret_key=payment_settings.stripe_secret_key)
    if code == PaymentMethod.KONBINI:
        return StripeKonbini(secret_key=payment_settings.stripe_secret_key)
    methods: dict[str, PaymentMethodPort] = {PaymentMethod.FREE: Free(), PaymentMethod.BANK_TRANSFER: BankTransfer(),
                                             PaymentMethod.CASH_ON_DELIVERY: CashOnDelivery()}
    return methods[code]
