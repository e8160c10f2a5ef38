"""A shop that sells: the health-food workspace with complete legal particulars, every payment method, and
the seed articles' offers (a 980-yen trial set, the 4,980-yen monthly 定期便 with and without a discounted
first delivery, a 2,980-yen guide, a free sample)."""

import pytest

from musubi.catalog import services as catalog
from musubi.commerce import payment_setup
from musubi.testing.legal import fill_legal_profile
from musubi.workspaces.services import SYSTEM

BANK = "すこやか銀行 本店営業部 普通 1234567 カ）スコヤカ"


@pytest.fixture
def shop(workspace):
    fill_legal_profile(workspace)
    ws = {"workspace": workspace, "actor": SYSTEM}
    payment_setup.save_payment_settings(**ws, bank_transfer_enabled=True, bank_account=BANK, cod_enabled=True,
                                        cod_fee=330, card_enabled=True, stripe_secret_key="sk_test_shop",
                                        stripe_webhook_secret="whsec_test_shop", shipping_fee=0)
    trial_set = catalog.create_product(**ws, name="青汁 お試しセット", kind="physical", tax_category="reduced")
    box = catalog.create_product(**ws, name="青汁 30包", kind="physical", tax_category="reduced")
    guide = catalog.create_product(**ws, name="ガイド（PDF）", kind="digital", tax_category="standard")
    offers = {
        "trial": catalog.create_offer(**ws, product_id=trial_set.pk, name="初回限定 お試しセット", role="front",
                                      price=980),
        "monthly": catalog.create_offer(**ws, product_id=box.pk, name="青汁 定期便", role="back", price=4980,
                                        billing="recurring", interval="month"),
        "discounted": catalog.create_offer(**ws, product_id=box.pk, name="青汁 定期便（初回1,980円）", role="front",
                                           price=4980, billing="recurring", interval="month", first_price=1980),
        "six": catalog.create_offer(**ws, product_id=box.pk, name="青汁 6回コース", role="back", price=4980,
                                    billing="recurring", interval="month", cycles=6),
        "guide": catalog.create_offer(**ws, product_id=guide.pk, name="副業スタートガイド", role="front", price=2980),
        "sample": catalog.create_offer(**ws, product_id=trial_set.pk, name="無料サンプル", role="front", price=0),
    }
    for offer in offers.values():
        catalog.publish_offer(**ws, offer_id=offer.pk)
    return offers


BUYER = {"quantity": "1", "name": "佐藤 花子", "email": "hanako@example.jp", "phone": "090-1234-5678",
         "postal_code": "100-0001", "address": "東京都千代田区千代田1-1", "payment_method": "bank_transfer",
         "consent": "on"}
