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
    """Cards through Stripe, with 3-D Secure at checkout and the saved card for renewals."""

    secret_key: str
    code: str = PaymentMethod.CARD

    def collect(self, collection: Collection) -> Outcome:
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


def outcome_of(charge: stripe_payments.Charge) -> Outcome:
    state = {"succeeded": "paid", "requires_action": "needs_buyer", "processing": "waiting"}.get(charge.status,
                                                                                              "failed")
    return Outcome(state=state, reference=charge.intent_id, redirect_url=charge.redirect_url,
                   customer=charge.customer, saved_card=charge.payment_method,
                   reason=charge.decline_code or charge.message)


def method_for(code: str, payment_settings: PaymentSettings) -> PaymentMethodPort:
    if code == PaymentMethod.CARD:
        return StripeCard(secret_key=payment_settings.stripe_secret_key)
    methods: dict[str, PaymentMethodPort] = {PaymentMethod.FREE: Free(), PaymentMethod.BANK_TRANSFER: BankTransfer(),
                                             PaymentMethod.CASH_ON_DELIVERY: CashOnDelivery()}
    return methods[code]
