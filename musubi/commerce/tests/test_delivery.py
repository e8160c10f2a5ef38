"""The 配達完了 step: a shipped, paid order is recorded as delivered, on its timeline, once."""

import pytest

from musubi.commerce import delivery, order_lifecycle
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import Order
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel.errors import Conflict, Forbidden
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import SYSTEM, Actor


def order_of(client, shop, method):
    page, token = confirmation(client, shop["trial"], payment_method=method)
    place(client, shop["trial"], page, token)
    return Order.objects.get()


def ship(workspace, order):
    order_lifecycle.ship(workspace=workspace, actor=SYSTEM, order_id=order.pk, carrier="ヤマト運輸",
                         tracking_number="1234-5678-9012")


@pytest.fixture
def shipped(client, shop, workspace):
    order = order_of(client, shop, "bank_transfer")
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    ship(workspace, order)
    return order


def test_staff_mark_a_shipped_order_delivered_from_its_page(teammate_client, shipped):
    page = teammate_client.get(f"/w/kenko/orders/{shipped.pk}/").content.decode()
    assert 'id="mark-delivered"' in page
    response = teammate_client.post(f"/w/kenko/orders/{shipped.pk}/delivered/", follow=True)
    assert "配達完了を記録しました。" in response.content.decode()
    shipped.refresh_from_db()
    assert shipped.status == OrderStatus.DELIVERED and shipped.delivered_at is not None
    assert [e.note for e in shipped.timeline.filter(kind="delivered")] == ["配達完了（staff@example.com が記録）"]
    page = teammate_client.get(f"/w/kenko/orders/{shipped.pk}/").content.decode()
    assert 'id="mark-delivered"' not in page and "配達完了" in page


def test_a_second_click_changes_nothing(teammate_client, shipped):
    teammate_client.post(f"/w/kenko/orders/{shipped.pk}/delivered/")
    response = teammate_client.post(f"/w/kenko/orders/{shipped.pk}/delivered/", follow=True)
    assert "すでに配達完了として記録されています" in response.content.decode()
    assert shipped.timeline.filter(kind="delivered").count() == 1
    assert Fact.objects.filter(kind="order.delivered").count() == 1


def test_an_order_not_shipped_cannot_be_delivered(client, shop, workspace):
    order = order_of(client, shop, "bank_transfer")
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    with pytest.raises(Conflict) as caught:
        delivery.mark_delivered(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    assert caught.value.code == "not_shipped"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not order.timeline.filter(kind="delivered").exists()


def test_cash_on_delivery_is_delivered_once_the_cash_is_recorded(client, shop, workspace):
    order = order_of(client, shop, "cod")
    ship(workspace, order)
    with pytest.raises(Conflict) as caught:
        delivery.mark_delivered(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    assert caught.value.code == "not_paid"
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    assert delivery.mark_delivered(workspace=workspace, actor=SYSTEM, order_id=order.pk).status == "delivered"


def test_a_viewer_cannot_mark_delivered(workspace, shipped):
    with pytest.raises(Forbidden):
        delivery.mark_delivered(workspace=workspace, actor=Actor(role=Role.VIEWER), order_id=shipped.pk)
    shipped.refresh_from_db()
    assert shipped.status == OrderStatus.SHIPPED


def test_the_api_records_the_delivery(client, owner_key, shipped):
    def post():
        return client.post(f"/api/v1/orders/{shipped.pk}/delivered", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {owner_key}")

    response = post()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "delivered" and body["delivered_at"] is not None
    again = post()
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_delivered"
