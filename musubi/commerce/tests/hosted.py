"""A buyer on Stripe's hosted page, stood in for: the choices they make there go over HTTP to the stand-in's
page, and the events it queues for the shop are handed to Django's test client when the test says so."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from musubi.commerce.models import Order
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.testing.stripe_standin import PAYS, StripeStandIn

SHOP_ENDPOINT = ("/stripe/webhook/kenko", "whsec_test_shop")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _post(url: str, data: dict[str, str]) -> tuple[int, str, str]:
    """POST a form to the stand-in's page: (status, Location, HTML)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request) as answer:
            return answer.status, "", answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode()


def pay_on_stripe(page_url: str, *, card: str = PAYS, konbini: bool = False, authenticate: bool = True) -> str:
    """Pay on the hosted page (3-D Secure answered as ``authenticate`` says); returns where Stripe sends the
    buyer next, or "" when the page stayed (a declined card, a failed authentication)."""
    status, location, html = _post(page_url, {"konbini": "1"} if konbini else {"card": card})
    if status == 200 and "本人認証" in html:
        status, location, html = _post(page_url + "/3ds", {"result": "ok" if authenticate else "fail"})
    return location if status == 303 else ""


def at_the_bank(url: str, *, authenticate: bool = True) -> str:
    """The bank's 3-D Secure page for a charge made on our side (a saved card, on-session): the buyer answers
    and is sent back; returns where to."""
    status, location, _html = _post(url, {"result": "ok" if authenticate else "fail"})
    assert status == 303, status
    return location


def at_store(voucher_url: str, *, paid: bool = True) -> None:
    status, _location, _html = _post(voucher_url, {"result": "paid" if paid else "lapse"})
    assert status == 200


def local(url: str) -> str:
    """An absolute address of ours as the test client asks for it."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def deliver(client, stripe_api: StripeStandIn) -> list[tuple[str, int]]:
    """Hand Stripe's queued events to the shop's webhook, in the order they were sent."""
    answers = []
    for webhook in stripe_api.pending_webhooks():
        response = client.post(webhook.url, webhook.body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=webhook.signature)
        webhook.status = response.status_code
        answers.append((webhook.type, response.status_code))
    return answers


def order_on_stripe(client, stripe_api: StripeStandIn, offer, **entries: str):
    """Order through the confirmation screen; returns the order and the address of Stripe's page."""
    stripe_api.endpoints["sk_test_shop"] = SHOP_ENDPOINT
    page, token = confirmation(client, offer, **{"payment_method": "card", **entries})
    response = place(client, offer, page, token)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.order_by("-pk").first()
    return order, response["Location"]


def buy_by_card(client, stripe_api: StripeStandIn, offer, card: str = PAYS, **entries: str) -> Order:
    """The whole purchase: order, pay on Stripe's page, come back, and Stripe's events arrive."""
    order, page_url = order_on_stripe(client, stripe_api, offer, **entries)
    back = pay_on_stripe(page_url, card=card)
    assert back, "Stripe's page did not take the payment"
    client.get(local(back))
    deliver(client, stripe_api)
    order.refresh_from_db()
    return order
