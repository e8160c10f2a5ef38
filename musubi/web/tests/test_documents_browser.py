"""Receipts and invoices in a real browser: the buyer, on a phone, downloads the invoice of a cash-on-delivery
order from their order page; staff open the order, record the shipment's arrival and download the receipt
once the carrier's cash is recorded. The PDFs' text is read back to check what they say.

Screenshots go to ``$MUSUBI_TEST_ARTIFACTS`` like the other browser tests'.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from musubi.catalog.models import Offer
from musubi.commerce import checkout, order_lifecycle
from musubi.commerce.notices import order_token
from musubi.commerce.tests.test_documents import text_of
from musubi.web.tests.test_browser import browser, shot, sign_in_as_demo  # noqa: F401  (the shared browser fixture)
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def cod_order():
    """Two trial sets (reduced 8%) with the 330-yen cash-on-delivery fee (10%), in the demo's health-food shop."""
    call_command("demo")
    workspace = Workspace.objects.get(slug="kenko-shop")
    trial = Offer.objects.get(workspace=workspace, name="初回限定 お試しセット")
    prepared = checkout.prepare(offer=checkout.offer_for_sale(trial.pk), legal_url="/legal/", entry=checkout.Entry(
        quantity=2, name="佐藤 花子", email="hanako@example.jp", payment_method="cod", phone="090-1234-5678",
        postal_code="100-0001", address="東京都千代田区千代田1-1"))
    return checkout.place_order(prepared=prepared, seen=prepared.screen).order


def download(page: Page, link_name: str) -> bytes:
    """What the link on the page serves, fetched with the page's own cookies (a headless browser shows an
    inline PDF rather than saving it)."""
    href = page.get_by_role("link", name=link_name).get_attribute("href")
    response = page.context.request.get(urljoin(page.url, href))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    return response.body()


def test_the_buyer_downloads_the_invoice_from_the_order_page(live_server, phone, cod_order):
    phone.goto(f"{live_server.url}/orders/{order_token(cod_order)}")
    expect(phone.get_by_role("heading", name="領収書・請求書")).to_be_visible()
    expect(phone.get_by_role("link", name="領収書（PDF）")).to_have_count(0)  # not paid yet
    shot(phone, "documents-01-buyer-order-page")
    text = text_of(download(phone, "請求書（PDF）"))
    assert text.splitlines()[0] == "適格請求書"
    assert "10%対象\n¥330\n（うち消費税 ¥30）" in text and "8%対象※\n¥1,960\n（うち消費税 ¥145）" in text


def test_staff_record_the_delivery_and_download_the_receipt(live_server, desk, cod_order):
    workspace = cod_order.workspace
    order_lifecycle.ship(workspace=workspace, actor=SYSTEM, order_id=cod_order.pk, carrier="ヤマト運輸",
                         tracking_number="1234-5678-9012")
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=cod_order.pk)
    sign_in_as_demo(desk, live_server.url)
    desk.goto(f"{live_server.url}/w/kenko-shop/orders/{cod_order.pk}/")
    desk.get_by_role("button", name="配達完了にする").click()
    expect(desk.get_by_text("配達完了を記録しました。")).to_be_visible()
    expect(desk.locator("#status")).to_have_text("配達完了")
    first = text_of(download(desk, "領収書（PDF）"))
    again = text_of(download(desk, "領収書（PDF）"))
    desk.reload()
    expect(desk.locator("#documents tbody tr")).to_have_count(1)
    shot(desk, "documents-02-staff-order-page")
    assert first.splitlines()[0] == "領収書" and "登録番号 T" in first
    assert again.splitlines()[0] == "再発行"
