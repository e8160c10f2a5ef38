"""How the sales app takes money: one small interface that every payment method implements.

A method is asked to ``collect`` an order's amount. It answers at once: paid (a free order, a card that went
through), waiting (a bank transfer, cash on delivery, a card being processed), needs the buyer (3-D Secure:
send them to ``redirect_url``), or failed. Adding PayPay or 後払い means one more class here and a choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Collection:
    order_number: str
    amount: int
    currency: str
    email: str
    description: str
    idempotency_key: str
    return_url: str = ""
    cancel_url: str = ""  # where Stripe's hosted page sends a buyer who turns back
    card_token: str = ""  # a saved Stripe payment method (renewals); none at checkout: the buyer uses Stripe's page
    customer: str = ""  # a saved customer, for renewals
    save_card: bool = False  # keep the card for a subscription's renewals
    off_session: bool = False  # the buyer is not there (a renewal)
    konbini_days: int = 3  # days a konbini slip can be paid


@dataclass(frozen=True)
class Outcome:
    state: str  # "paid" | "waiting" | "needs_buyer" | "failed"
    reference: str = ""
    redirect_url: str = ""
    customer: str = ""
    saved_card: str = ""
    reason: str = ""  # why it failed: "authentication_required", "card_declined", …
    checkout_session: str = ""  # the hosted payment page's session, when the buyer is sent to one

    @property
    def paid(self) -> bool:
        return self.state == "paid"


class PaymentMethodPort(Protocol):
    @property
    def code(self) -> str: ...

    def collect(self, collection: Collection) -> Outcome: ...

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> str:
        """Give money back through the provider; returns its reference ("" where staff pay back by hand)."""
        ...
