"""Member pages of digital products and courses (buyers only, from a signed link) and offers sold only to
invited customers: the info-product demo's guide → course."""

import re

import pytest

from musubi.catalog import services as catalog
from musubi.commerce import access, order_lifecycle
from musubi.commerce.models import CustomerMail, Order
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def course(shop, workspace):
    ws = {"workspace": workspace, "actor": SYSTEM}
    product = catalog.create_product(**ws, name="オンライン講座", kind="service", tax_category="standard",
                                     description="第1回 ようこそ")
    offer = catalog.create_offer(**ws, product_id=product.pk, name="本講座", role="back", price=298000)
    catalog.publish_offer(**ws, offer_id=offer.pk)
    ladder = catalog.create_ladder(**ws, name="ガイド → 本講座")
    from decimal import Decimal

    catalog.add_step(**ws, ladder_id=ladder.pk, front_id=shop["guide"].pk, back_id=offer.pk, take_rate=Decimal("0.03"))
    access.set_invitation_only(**ws, offer_id=offer.pk, invitation_only=True)
    return offer


def buy_guide(client, shop, workspace, email="guide-buyer@example.jp"):
    page, token = confirmation(client, shop["guide"], **{**BUYER, "email": email})
    place(client, shop["guide"], page, token)
    order = Order.objects.get(email=email)
    return order


def member_path(order):
    mail = CustomerMail.objects.get(kind="access_granted", order=order)
    return re.search(r"http://[^/\s]+(/members/\S+)", mail.body).group(1)


def test_the_guide_opens_to_its_buyer_once_paid_and_invites_them_to_the_course(client, shop, workspace, course):
    order = buy_guide(client, shop, workspace)
    assert not CustomerMail.objects.filter(kind="access_granted").exists()  # not paid yet
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    page = client.get(member_path(order)).content.decode()
    assert "副業スタートガイド" not in page or "ガイド（PDF）" in page
    invite = re.search(r'href="(/buy/\d+\?invite=[^"]+)"', page).group(1)
    checkout = client.get(invite.replace("&amp;", "&"))
    assert checkout.status_code == 200 and "本講座" in checkout.content.decode()


def test_the_course_is_closed_to_whoever_has_no_invitation(client, course):
    response = client.get(f"/buy/{course.pk}")
    assert response.status_code == 403
    assert "招待されたお客様" in response.content.decode()
    assert client.post(f"/buy/{course.pk}", BUYER).status_code == 403
    assert not Order.objects.exists()


def test_an_invitation_to_another_offer_is_refused(client, shop, course, workspace):
    order = buy_guide(client, shop, workspace)
    other = access.invitation(shop["trial"], order.contact)
    response = client.get(f"/buy/{course.pk}?invite={other}")
    assert response.status_code == 403 and "別のオファーへの招待" in response.content.decode()


def test_an_expired_invitation_is_refused(client, shop, course, workspace, monkeypatch):
    order = buy_guide(client, shop, workspace)
    token = access.invitation(course, order.contact)
    monkeypatch.setattr(access, "INVITATION_DAYS", -1)
    response = client.get(f"/buy/{course.pk}?invite={token}")
    assert response.status_code == 403 and "有効期限" in response.content.decode()


def test_an_invited_buyer_orders_the_course(client, shop, course, workspace):
    order = buy_guide(client, shop, workspace)
    token = access.invitation(course, order.contact)
    page = client.post(f"/buy/{course.pk}", {**BUYER, "email": order.email, "invite": token}).content.decode()
    assert "注文を確定する" in page
    place(client, course, page, re.search(r'name="token" value="([^"]+)"', page).group(1))
    assert Order.objects.filter(offer=course).count() == 1


def test_a_member_link_of_an_unpaid_or_refunded_order_does_not_open(client, shop, workspace):
    order = buy_guide(client, shop, workspace)
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    path = member_path(order)
    assert client.get(path).status_code == 200
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=order.total)
    assert client.get(path).status_code == 403
    assert client.get(path[:-3] + "xyz").status_code == 404


def test_the_buyers_order_page_links_the_members_page_once_paid(client, shop, workspace):
    from musubi.commerce import notices

    order = buy_guide(client, shop, workspace)
    order_page = "/orders/" + notices.order_token(order)
    assert 'id="member-link"' not in client.get(order_page).content.decode()  # not paid yet
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    link = re.search(r'id="member-link" href="http://[^/"]+(/members/[^"]+)"',
                     client.get(order_page).content.decode()).group(1)
    # The token is signed with the time it was made, so two made a second apart differ only there: compare what
    # it names (the order and the workspace) and that it opens the page.
    assert link.split(":")[0] == member_path(order).split(":")[0] and client.get(link).status_code == 200
