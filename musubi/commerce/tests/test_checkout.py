"""The hosted checkout: entries, the final confirmation screen generated from the offer, going back, placing
the order (free, bank transfer, cash on delivery) and every refusal that writes nothing."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import signing

from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import Order, OrderLine, PaymentDeadline, Subscription
from musubi.commerce.tests.conftest import BANK, BUYER
from musubi.contacts.models import ConsentRecord, Contact
from musubi.kernel import clock
from musubi.kernel.models import Fact


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def confirmation(client, offer, **changes):
    response = client.post(f"/buy/{offer.pk}", {**BUYER, **changes})
    assert response.status_code == 200, response.content.decode()[:3000]
    page = response.content.decode()
    return page, token_of(page)


def place(client, offer, page, token, **extra):
    quantity = re.search(r'name="quantity" value="(\d+)"', page).group(1)
    total = re.search(r'name="total" value="(\d+)"', page).group(1)
    return client.post(f"/buy/{offer.pk}/confirm", {"token": token, "quantity": quantity, "total": total,
                                                    "place": "1", **extra})


def rows_of(page: str) -> dict[str, str]:
    table = page.split('id="confirmation"')[1].split("</table>")[0]
    return {th: re.sub(r"<br>", "\n", td) for th, td in re.findall(r"<th scope=\"row\">(.*?)</th><td>(.*?)</td>",
                                                                      table, re.S)}


def test_the_checkout_page_shows_the_offer_and_links_the_legal_notice(client, shop):
    page = client.get(f"/buy/{shop['trial'].pk}").content.decode()
    assert "初回限定 お試しセット" in page and "980" in page
    assert 'href="/legal/kenko/"' in page
    assert "商品到着後8日以内" in page  # the returns policy, as on the confirmation screen
    # The footer names the seller as the legal notice does, not by the shop's name (すこやか健康食品店).
    assert "販売業者: 株式会社すこやか</p>" in page


def test_an_unpublished_offer_cannot_be_bought(client, shop, workspace):
    from musubi.catalog import services as catalog
    from musubi.workspaces.services import SYSTEM

    catalog.unpublish_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["trial"].pk)
    assert client.get(f"/buy/{shop['trial'].pk}").status_code == 404
    assert client.post(f"/buy/{shop['trial'].pk}", BUYER).status_code == 404


def test_the_confirmation_screen_of_a_one_time_offer_lists_what_the_law_requires(client, shop):
    page, _token = confirmation(client, shop["trial"], quantity="2")
    rows = rows_of(page)
    assert rows["数量"] == "2"
    assert rows["価格（税込）"] == "980円"
    assert rows["お支払い合計（税込）"] == "1,960円"
    assert rows["お支払い方法"] == "銀行振込"
    assert "までにお振り込みください" in rows["お支払い時期"]
    assert rows["お届け時期"].startswith("ご注文（銀行振込はご入金の確認）から") or "5営業日" in rows["お届け時期"]
    assert "商品到着後8日以内" in rows["返品・キャンセル"]
    assert rows["販売業者"] == "株式会社すこやか"
    assert ">注文を確定する</button>" in page
    assert not Order.objects.exists()


def test_the_confirmation_screen_of_a_subscription_shows_every_delivery_the_total_and_how_to_cancel(client, shop):
    with clock.frozen(dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)):
        page, _token = confirmation(client, shop["discounted"])
    rows = rows_of(page)
    assert rows["1回あたりの価格（税込）"] == "初回 1,980円、2回目以降 4,980円（各 × 1）"
    assert rows["契約の種類"] == "定期購入：毎月お届け"
    assert rows["お届け回数"] == "解約されるまで自動で継続します"
    assert "2026年2月15日" in rows["2回目以降（1回あたり）"] and "4,980円" in rows["2回目以降（1回あたり）"]
    assert rows["初回価格の終了"] == ("初回のみ 1,980円です。2回目（2026年2月15日ごろ）から通常価格の 4,980円 "
                                   "になります。")
    assert rows["1年間のお支払い額"] == f"{1980 + 4980 * 11:,}円"
    assert rows["解約方法"].startswith("次回お届け日の7日前までに")
    # The first price and the later terms stand together, at the top of one table.
    assert page.index("初回 1,980円") < page.index("初回価格の終了") < page.index("解約方法")


def test_a_fixed_length_subscription_shows_the_number_of_deliveries_and_their_total(client, shop):
    rows = rows_of(confirmation(client, shop["six"], quantity="2")[0])
    assert rows["お届け回数"] == "6回"
    assert rows["すべてのお届けの合計"] == f"{4980 * 2 * 6:,}円"


def test_going_back_keeps_every_entry(client, shop):
    _page, token = confirmation(client, shop["trial"], quantity="3")
    back = client.post(f"/buy/{shop['trial'].pk}/confirm", {"token": token, "back": "1"}).content.decode()
    assert '<option value="3" selected>' in back
    assert 'value="佐藤 花子"' in back and 'value="東京都千代田区千代田1-1"' in back
    assert not Order.objects.exists()


def test_a_bank_transfer_order_waits_with_the_account_shown_and_keeps_the_screen_the_buyer_saw(client, shop):
    page, token = confirmation(client, shop["trial"], quantity="2")
    response = place(client, shop["trial"], page, token)
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.total == 1960 and order.payment_method == "bank_transfer"
    assert order.confirmation == signing.loads(token, salt="musubi.checkout")["screen"]
    assert [r[0] for r in order.confirmation["rows"]] == list(rows_of(page))
    line = OrderLine.objects.get(order=order)
    assert (line.quantity, line.unit_price, line.amount, str(line.tax_rate)) == (2, 980, 1960, "0.0800")
    assert PaymentDeadline.objects.filter(order=order).count() == 2
    status_page = client.get(response["Location"]).content.decode()
    assert BANK in status_page and order.number in status_page
    contact = Contact.objects.get()
    assert contact.name == "佐藤 花子"
    assert ConsentRecord.objects.filter(contact=contact, channel="email", granted=True).count() == 1
    assert Fact.objects.filter(kind="order.placed", contact_id=contact.pk).count() == 1
    assert not Fact.objects.filter(kind="order.paid").exists()


def test_a_free_offer_is_paid_at_once_without_a_payment_method(client, shop):
    page, token = confirmation(client, shop["sample"], payment_method="free")
    assert rows_of(page)["お支払い時期"] == "お支払いはありません。"
    place(client, shop["sample"], page, token)
    order = Order.objects.get()
    assert (order.status, order.total, order.payment_method) == (OrderStatus.PAID, 0, "free")
    assert Contact.objects.get().stage == "front_customer"


def test_cash_on_delivery_adds_its_fee(client, shop):
    page, token = confirmation(client, shop["trial"], payment_method="cod")
    assert rows_of(page)["代金引換手数料"] == "330円"
    assert rows_of(page)["お支払い合計（税込）"] == "1,310円"
    place(client, shop["trial"], page, token)
    order = Order.objects.get()
    assert (order.total, order.payment_fee) == (1310, 330)
    assert sorted(OrderLine.objects.filter(order=order).values_list("amount", "tax_rate")) == [
        (330, Decimal("0.1000")), (980, Decimal("0.0800"))]


def test_a_digital_product_asks_for_no_address_and_offers_no_cash_on_delivery(client, shop):
    page = client.get(f"/buy/{shop['guide'].pk}").content.decode()
    assert 'name="address"' not in page and 'value="cod"' not in page
    response = client.post(f"/buy/{shop['guide'].pk}", {**BUYER, "payment_method": "cod"})
    assert response.status_code == 400


def test_a_download_is_bought_one_at_a_time_while_goods_keep_their_quantity_menu(client, shop):
    guide = client.get(f"/buy/{shop['guide'].pk}").content.decode()
    assert "<select" not in guide.split('name="quantity"')[0][-200:]  # no menu
    assert re.search(r'<input type="hidden" name="quantity" value="1"', guide)
    goods = client.get(f"/buy/{shop['trial'].pk}").content.decode()
    menu = goods.split('name="quantity"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\d+)"', menu) == [str(n) for n in range(1, 100)]

    for quantity in ("2", "99"):
        refused = client.post(f"/buy/{shop['guide'].pk}", {**BUYER, "quantity": quantity})
        page = refused.content.decode()
        assert refused.status_code == 400 and 'id="quantity-error"' in page
        assert "ダウンロード商品のため、数量は1つのみです。" in page
    assert not Contact.objects.exists() and not Order.objects.exists()
    page, _token = confirmation(client, shop["guide"])  # one is fine
    assert rows_of(page)["数量"] == "1"
    assert rows_of(confirmation(client, shop["trial"], quantity="3")[0])["数量"] == "3"


def test_missing_entries_are_named_and_nothing_is_written(client, shop):
    response = client.post(f"/buy/{shop['trial'].pk}", {**BUYER, "email": "not-an-address", "address": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="email-error"' in page and 'id="address-error"' in page
    assert not Contact.objects.exists() and not Order.objects.exists()


@pytest.mark.parametrize("field,value", [("total", "1"), ("quantity", "5")])
def test_a_tampered_price_or_quantity_is_refused_and_nothing_is_written(client, shop, field, value):
    page, token = confirmation(client, shop["trial"])
    response = place(client, shop["trial"], page, token, **{field: value})
    assert response.status_code == 400
    assert "数量または価格が変更されました" in response.content.decode()
    assert not Order.objects.exists() and not Contact.objects.exists()


def test_a_tampered_token_is_refused_and_nothing_is_written(client, shop):
    page, token = confirmation(client, shop["trial"])
    response = place(client, shop["trial"], page, token[:-3] + "abc")
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_a_confirmation_for_another_offer_is_refused(client, shop):
    page, token = confirmation(client, shop["trial"])
    response = place(client, shop["guide"], page, token)
    assert response.status_code == 400
    assert "別の商品の確認画面" in response.content.decode()
    assert not Order.objects.exists()


def test_an_expired_confirmation_screen_is_refused(client, shop, settings):
    page, token = confirmation(client, shop["trial"])
    settings.MUSUBI_CHECKOUT_FORM_SECONDS = -1
    response = place(client, shop["trial"], page, token)
    assert response.status_code == 410
    assert "有効期限が切れました" in response.content.decode()
    assert not Order.objects.exists()


def test_a_price_change_after_the_confirmation_shows_the_new_screen_instead_of_ordering(client, shop, workspace):
    from musubi.catalog import services as catalog
    from musubi.workspaces.services import SYSTEM

    page, token = confirmation(client, shop["trial"])
    catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["trial"].pk, price=1280)
    response = place(client, shop["trial"], page, token)
    assert response.status_code == 409
    assert rows_of(response.content.decode())["価格（税込）"] == "1,280円"
    assert not Order.objects.exists()


def test_checkout_submissions_are_rate_limited(client, shop, settings):
    settings.MUSUBI_CHECKOUT_LIMIT = 2
    for _ in range(2):
        assert client.post(f"/buy/{shop['trial'].pk}", BUYER).status_code == 200
    response = client.post(f"/buy/{shop['trial'].pk}", BUYER)
    assert response.status_code == 429 and response["Retry-After"]


def test_a_subscription_by_bank_transfer_starts_when_ordered(client, shop):
    page, token = confirmation(client, shop["monthly"])
    place(client, shop["monthly"], page, token)
    subscription = Subscription.objects.get()
    order = Order.objects.get()
    assert (order.subscription_id, order.cycle) == (subscription.pk, 1)
    assert subscription.renewals.get().cycle == 2


def test_dates_on_the_screen_and_the_order_number_are_japans_even_when_utc_is_still_yesterday(client, shop):
    late = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)  # already 08:30 on 23 November in Japan
    with clock.frozen(late):
        page, token = confirmation(client, shop["trial"])  # bank transfer: seven days to pay
        place(client, shop["trial"], page, token)
    assert "2026年11月30日" in page and "2026年11月29日" not in page
    assert Order.objects.get().number.startswith("261123-")
