"""What staff do with orders, on the pages and through the API: mark a transfer paid, ship with a tracking
number, refund in part or in full, export the packing list; and the payment settings, whose secrets are
never shown again."""

import csv
import io

import pytest

from musubi.commerce import order_lifecycle
from musubi.commerce.choices import OrderStatus
from musubi.commerce.events import OrderPaid
from musubi.commerce.models import Order, PaymentSettings
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput
from musubi.kernel.events import subscribe, unsubscribe
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import SYSTEM, Actor


@pytest.fixture
def transfer(client, shop):
    page, token = confirmation(client, shop["trial"], quantity="2")
    place(client, shop["trial"], page, token)
    return Order.objects.get()


def test_staff_mark_a_bank_transfer_paid_from_the_order_page(teammate_client, transfer):
    published = []
    subscribe(OrderPaid, published.append)
    try:
        page = teammate_client.get(f"/w/kenko/orders/{transfer.pk}/").content.decode()
        assert 'id="mark-paid"' in page and "うち消費税" in page
        teammate_client.post(f"/w/kenko/orders/{transfer.pk}/mark-paid/")
        teammate_client.post(f"/w/kenko/orders/{transfer.pk}/mark-paid/")  # a double click
    finally:
        unsubscribe(OrderPaid, published.append)
    transfer.refresh_from_db()
    assert transfer.status == OrderStatus.PAID
    assert [(e.order_id, e.role, e.amount) for e in published] == [(transfer.pk, "front", 1960)]
    assert Fact.objects.filter(kind="order.paid").count() == 1
    assert transfer.contact.stage == "front_customer"


def test_the_order_page_shows_the_tax_once_per_rate(owner_client, transfer):
    page = owner_client.get(f"/w/kenko/orders/{transfer.pk}/").content.decode()
    assert "¥145" in page  # 1,960 yen at 8%: 1960 × 8 / 108 = 145.18…, rounded down once


def test_an_order_ships_with_its_tracking_number(owner_client, transfer, workspace):
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=transfer.pk)
    owner_client.post(f"/w/kenko/orders/{transfer.pk}/", {"form": "ship", "carrier": "ヤマト運輸",
                                                          "tracking_number": "1234-5678-9012"})
    transfer.refresh_from_db()
    assert (transfer.status, transfer.tracking_number) == (OrderStatus.SHIPPED, "1234-5678-9012")
    assert transfer.timeline.filter(kind="shipped").count() == 1
    from musubi.commerce.models import CustomerMail

    mail = CustomerMail.objects.get(kind="shipped", order=transfer)
    assert "1234-5678-9012" in mail.body and "ヤマト運輸" in mail.body and mail.to == transfer.email


def test_an_unpaid_bank_transfer_cannot_ship(workspace, transfer):
    with pytest.raises(Conflict):
        order_lifecycle.ship(workspace=workspace, actor=SYSTEM, order_id=transfer.pk, carrier="x", tracking_number="1")
    transfer.refresh_from_db()
    assert transfer.shipped_at is None


def test_a_refund_larger_than_what_is_left_is_refused(workspace, transfer):
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=transfer.pk)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=transfer.pk, amount=1000)
    with pytest.raises(InvalidInput) as caught:
        order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=transfer.pk, amount=961)
    assert "960円" in caught.value.message
    transfer.refresh_from_db()
    assert (transfer.refunded, transfer.status) == (1000, OrderStatus.PARTLY_REFUNDED)


def test_a_viewer_cannot_refund(workspace, transfer, teammate):
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=transfer.pk)
    with pytest.raises(Forbidden):
        order_lifecycle.refund(workspace=workspace, actor=Actor(role=Role.VIEWER), order_id=transfer.pk, amount=1)


def test_the_packing_list_has_paid_and_cash_on_delivery_orders_only(client, owner_client, shop, workspace, transfer):
    page, token = confirmation(client, shop["trial"], payment_method="cod", name="鈴木 一郎")
    place(client, shop["trial"], page, token)
    response = owner_client.get("/w/kenko/orders/packing.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "order_number"
    assert [(r[2], r[8]) for r in rows[1:]] == [("鈴木 一郎", "1310")]  # the transfer is not paid yet
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=transfer.pk)
    rows = list(csv.reader(io.StringIO(owner_client.get("/w/kenko/orders/packing.csv").content.decode("utf-8-sig"))))
    assert sorted(r[2] for r in rows[1:]) == ["佐藤 花子", "鈴木 一郎"]


def test_unpaid_transfers_get_a_reminder_then_expire(client, shop, transfer, run_worker):
    import datetime as dt

    from musubi.kernel import clock
    from musubi.kernel.worker import drain_queues

    with clock.frozen(transfer.pay_by - dt.timedelta(days=1)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    transfer.refresh_from_db()
    assert transfer.status == OrderStatus.AWAITING_PAYMENT
    assert transfer.timeline.filter(kind="reminded").count() == 1
    with clock.frozen(transfer.pay_by + dt.timedelta(minutes=1)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    transfer.refresh_from_db()
    assert transfer.status == OrderStatus.EXPIRED


def test_the_payment_settings_never_show_a_saved_secret(owner_client, workspace, shop):
    page = owner_client.get("/w/kenko/settings/payments/").content.decode()
    assert "sk_test_shop" not in page and "whsec_test_shop" not in page
    assert 'id="secret-key-set"' in page
    owner_client.post("/w/kenko/settings/payments/", {"bank_transfer_enabled": "on", "bank_account": "口座",
                                                      "bank_transfer_days": "5", "cod_fee": "440", "shipping_fee": "0",
                                                      "card_enabled": "on", "stripe_secret_key": ""})
    saved = PaymentSettings.objects.get(workspace=workspace)
    assert (saved.stripe_secret_key, saved.cod_fee, saved.cod_enabled) == ("sk_test_shop", 440, False)


# --- The API -------------------------------------------------------------------------------------------------

def api(client, key, method, path, body=None):
    return getattr(client, method)(f"/api/v1{path}", data=body or {}, content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_api_lists_orders_and_marks_a_transfer_paid(client, owner_key, transfer):
    listed = api(client, owner_key, "get", "/orders").json()
    assert [o["number"] for o in listed["results"]] == [transfer.number]
    assert listed["results"][0]["lines"][0]["tax_rate"] == "0.0800"
    assert listed["results"][0]["confirmation"]["total"] == 1960
    paid = api(client, owner_key, "post", f"/orders/{transfer.pk}/mark-paid")
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    again = api(client, owner_key, "post", f"/orders/{transfer.pk}/mark-paid")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_awaiting_payment"


def test_the_api_refunds_part_of_an_order(client, owner_key, transfer, workspace):
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=transfer.pk)
    response = api(client, owner_key, "post", f"/orders/{transfer.pk}/refunds", {"amount": 500, "reason": "破損"})
    assert response.status_code == 201 and response.json()["amount"] == 500
    too_much = api(client, owner_key, "post", f"/orders/{transfer.pk}/refunds", {"amount": 5000})
    assert too_much.status_code == 400 and "amount" in too_much.json()["error"]["fields"]
    transfer.refresh_from_db()
    assert transfer.refunded == 500


def test_the_api_pauses_resumes_skips_and_cancels_a_subscription(client, owner_key, shop):
    page, token = confirmation(client, shop["monthly"])
    place(client, shop["monthly"], page, token)
    subscription_id = Order.objects.get().subscription_id
    before = api(client, owner_key, "get", f"/subscriptions/{subscription_id}").json()["next_delivery_at"]
    skipped = api(client, owner_key, "post", f"/subscriptions/{subscription_id}/skip").json()
    assert skipped["next_delivery_at"] > before
    assert api(client, owner_key, "post", f"/subscriptions/{subscription_id}/pause").json()["status"] == "paused"
    assert api(client, owner_key, "post", f"/subscriptions/{subscription_id}/resume").json()["status"] == "active"
    cancelled = api(client, owner_key, "post", f"/subscriptions/{subscription_id}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert api(client, owner_key, "post", f"/subscriptions/{subscription_id}/cancel").status_code == 409
