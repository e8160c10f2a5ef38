"""The demo's three businesses, from the seed articles: each with products, offers, a ladder and plans whose
numbers make sense and whose offers can be published.

- すこやか健康食品店: a one-time 980-yen trial set (8% tax) → the 4,980-yen monthly 定期便, which is also
  offered with a discounted first delivery.
- 居酒屋むすび: a free dish with a normal price of 200 yen for adding the shop on LINE through a QR code on
  the table → return visits of about 3,500 yen. A second draft offers a 480-yen dish, over the legal limit.
- まなびアカデミー: a 2,980-yen guide sold by affiliates who keep 88% → a 298,000-yen course.
"""

from __future__ import annotations

import os
from decimal import Decimal as D
from typing import Any

from django.conf import settings

from musubi.capture import coupons, points
from musubi.capture import services as capture
from musubi.capture.models import CouponDefinition
from musubi.catalog import services as catalog
from musubi.commerce import access, payment_setup
from musubi.planner import services as planner
from musubi.web import demo_files, demo_messaging
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor, save_legal_profile

_CANCEL = ("次回お届け日の7日前までに、ご案内メールのリンク（解約・変更ページ）からいつでも解約できます。"
           "ログインは不要です。")


def _legal_profile(workspace: Workspace, actor: Actor, **particulars: str) -> None:
    """The 特商法 particulars every published offer needs; the parts most shops word alike are defaults."""
    defaults = {
        "price_note": "表示価格はすべて税込です。送料は商品ページに記載のとおりです。"
                      "代金引換の場合は手数料330円がかかります。",
        "payment_methods": "クレジットカード、銀行振込、代金引換",
        "payment_timing": "クレジットカード：ご注文時。銀行振込：ご注文から7日以内。代金引換：商品お受け取り時。",
        "delivery_timing": "ご注文（銀行振込はご入金の確認）から5営業日以内に発送します。",
        "subscription_cancellation": _CANCEL,
    }
    if os.environ.get("MUSUBI_DEMO_STRIPE_STANDIN"):  # the shops also take konbini payments: the notice says so
        defaults["payment_methods"] = "クレジットカード、コンビニ決済、銀行振込、代金引換"
        defaults["payment_timing"] = ("クレジットカード：ご注文時。コンビニ決済：ご注文から3日後の23:59まで。"
                                      "銀行振込：ご注文から7日以内。代金引換：商品お受け取り時。")
    save_legal_profile(workspace=workspace, actor=actor, **{**defaults, **particulars})


def _demo_card(slug: str) -> dict[str, Any]:
    """Cards and konbini in the demo: through the local Stripe stand-in that ``bin/start`` runs
    (MUSUBI_DEMO_STRIPE_STANDIN, a key and webhook secret per shop, so each shop gets its own events), or
    cards with a Stripe test key of your own (MUSUBI_DEMO_STRIPE_KEY)."""
    if os.environ.get("MUSUBI_DEMO_STRIPE_STANDIN"):
        return {"card_enabled": True, "konbini_enabled": True, "stripe_secret_key": f"sk_test_standin_{slug}",
                "stripe_webhook_secret": f"whsec_standin_{slug}"}
    key = os.environ.get("MUSUBI_DEMO_STRIPE_KEY", "")
    return {"card_enabled": True, "stripe_secret_key": key} if key.startswith("sk_test_") else {}


def health_food(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    _legal_profile(workspace, actor, seller_name="株式会社すこやか健康食品", responsible_person="山田 花子",
                   address="東京都千代田区神田錦町1-2-3 すこやかビル5階", phone="03-1234-5678",
                   email="support@kenko-shop.example.jp",
                   price_note="表示価格はすべて税込です。送料は無料です。代金引換の場合は手数料330円がかかります。",
                   returns_policy="商品到着後8日以内で未開封の場合に限り、返品を承ります（返送料はお客様負担）。"
                                  "不良品の場合は当店負担で交換します。",
                   invoice_registration_number="T1010001000001")
    trial_set = catalog.create_product(**ws, name="青汁 お試しセット（7包）", kind="physical", tax_category="reduced",
                                       goods_cost=220, shipping_cost=180, fulfilment_cost=30, payment_fee=20)
    monthly_box = catalog.create_product(**ws, name="青汁 30包（定期便）", kind="physical", tax_category="reduced",
                                         goods_cost=850, shipping_cost=250, fulfilment_cost=50, payment_fee=150)
    trial = catalog.create_offer(**ws, product_id=trial_set.pk, name="初回限定 お試しセット", role="front", price=980)
    subscription = catalog.create_offer(**ws, product_id=monthly_box.pk, name="青汁 定期便", role="back", price=4980,
                                        billing="recurring", interval="month")
    discounted = catalog.create_offer(**ws, product_id=monthly_box.pk, name="青汁 定期便（初回1,980円）",
                                      role="front", price=4980, billing="recurring", interval="month",
                                      first_price=1980)
    for offer in (trial, subscription, discounted):
        catalog.publish_offer(**ws, offer_id=offer.pk)
    payment_setup.save_payment_settings(
        **ws, bank_transfer_enabled=True, cod_enabled=True, cod_fee=330, shipping_fee=0,
        bank_account="むすび銀行 本店営業部 普通 1234567\nカ）スコヤカケンコウショクヒン", **_demo_card(workspace.slug))
    ladder = catalog.create_ladder(**ws, name="青汁ラダー", description="お試しから定期便へ。")
    catalog.add_step(**ws, ladder_id=ladder.pk, front_id=trial.pk, back_id=subscription.pk,
                     take_rate=D("0.25"), retention=D("0.8"))
    catalog.add_step(**ws, ladder_id=ladder.pk, front_id=discounted.pk, back_id=discounted.pk,
                     take_rate=D("0.6"), retention=D("0.8"))
    for name, ad_cost in (("広告CPA 1,500円", 1500), ("広告CPA 2,500円", 2500)):
        ranges = {"backs.0.take_rate": ["0.15", "0.35"], "backs.0.retention": ["0.7", "0.85"],
                  "acquisition.ad_cost": [ad_cost * 2 // 3, ad_cost * 5 // 3]}
        uncertainty = {"draws": 2000, "seed": 1, "ranges": ranges}
        planner.create_plan(**ws, name=name, ladder_id=ladder.pk, front_offer_id=trial.pk, inputs={
            "acquisition": {"ad_cost": ad_cost}, "monthly_profit_target": 1_000_000, "lead_conversion": "0.3",
            "uncertainty": uncertainty})
    planner.create_plan(**ws, name="初回割引の定期便", ladder_id=ladder.pk, front_offer_id=discounted.pk, inputs={
        "acquisition": {"ad_cost": 3000}, "monthly_profit_target": 1_000_000, "lead_conversion": "0.25"})
    demo_messaging.health_food_education(workspace, actor, trial_offer_id=trial.pk)


def izakaya(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    _legal_profile(workspace, actor, seller_name="株式会社むすびフーズ", responsible_person="佐藤 一郎",
                   address="大阪府大阪市北区梅田1-1-1", phone="06-1234-5678", email="info@izakaya-musubi.example.jp",
                   payment_methods="店頭でのお支払い（現金、クレジットカード、電子マネー）",
                   payment_timing="ご飲食後、店頭でお支払いください。", delivery_timing="ご来店時にご提供します。",
                   returns_policy="飲食の性質上、ご提供後の返品はお受けできません。",
                   subscription_cancellation="定期のご契約はありません。")
    line_friend = catalog.create_product(**ws, name="LINE友だち登録（卓上QR）", kind="store_visit",
                                         tax_category="standard")
    visit = catalog.create_product(**ws, name="ご来店（お食事）", kind="store_visit", tax_category="standard",
                                   goods_cost=1100)
    free_dish = catalog.create_offer(**ws, product_id=line_friend.pk, name="LINE友だち追加で一品無料", role="front",
                                     price=0)
    catalog.set_premium(**ws, offer_id=free_dish.pk, description="本日のおつまみ一品", legal_value=200, cost=60,
                        purchase_required=False, visit_required=True, cheapest_normal_purchase=300)
    return_visit = catalog.create_offer(**ws, product_id=visit.pk, name="再来店（客単価 約3,500円）", role="back",
                                        price=3500, billing="recurring", interval="month")
    big_dish = catalog.create_offer(**ws, product_id=line_friend.pk, name="LINE友だち追加で唐揚げ無料（案）",
                                    role="front", price=0)
    catalog.set_premium(**ws, offer_id=big_dish.pk, description="名物 唐揚げ（通常480円）", legal_value=480,
                        cost=150, purchase_required=False, visit_required=True, cheapest_normal_purchase=300)
    for offer in (free_dish, return_visit):
        catalog.publish_offer(**ws, offer_id=offer.pk)
    ladder = catalog.create_ladder(**ws, name="卓上QR → 再来店", description="テーブルのQRコードからLINE登録。")
    catalog.add_step(**ws, ladder_id=ladder.pk, front_id=free_dish.pk, back_id=return_visit.pk,
                     take_rate=D("0.45"), retention=D("0.6"))
    planner.create_plan(**ws, name="卓上POP（1枚あたり月50円）", ladder_id=ladder.pk, front_offer_id=free_dish.pk,
                        inputs={"acquisition": {"ad_cost": 50}, "monthly_profit_target": 300_000,
                                "lead_conversion": "0.6",
                                "uncertainty": {"draws": 2000, "seed": 7,
                                                "ranges": {"backs.0.take_rate": ["0.3", "0.6"],
                                                           "backs.0.retention": ["0.4", "0.75"]}}})
    dish_coupon = _izakaya_capture(workspace, actor, free_dish.pk)
    demo_messaging.izakaya_education(workspace, actor, greeting_coupon_id=dish_coupon.pk)


def _izakaya_capture(workspace: Workspace, actor: Actor, offer_id: int) -> CouponDefinition:
    """The table QR codes: a coupon for the free dish, the opt-in form it comes from, a link per spot, and a
    few guests who registered through table 12 and the shop window. Returns the free dish's coupon, which the
    LINE account's greeting gives too."""
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    dish = coupons.create_definition(**ws, terms=coupons.Terms(
        name="友だち登録の一品無料", benefit="本日のおつまみ一品 無料", offer_id=offer_id, cost=60, valid_days=30))
    point = points.create_capture_point(
        **ws, setup=points.Setup(name="卓上QR：登録で一品無料", offer_id=offer_id, incentive="coupon",
                                 coupon_id=dish.pk, tags=["卓上QR"]),
        wording=points.Wording(
            headline="ご登録で、本日のおつまみ一品無料！",
            body="メールアドレスをご登録いただくと、今すぐ使えるクーポンをお送りします。\n"
                 "雨の日限定のビール半額など、お得なお知らせもお届けします。",
            questions=[{"key": "visits", "label": "ご来店は何回目ですか？", "kind": "single", "required": True,
                        "options": ["初めて", "2〜3回目", "常連です"]},
                       {"key": "likes", "label": "お好きなものは？（いくつでも）", "kind": "multiple",
                        "required": False, "options": ["唐揚げ", "焼き鳥", "刺身", "日本酒"]}],
            consent_text="居酒屋むすびからのお知らせ（メール）を受け取ることに同意します",
            purpose_text="ご登録の情報は、クーポンの発行と、当店からのお知らせの配信にのみ利用します。",
            sender_name="株式会社むすびフーズ", privacy_url="https://izakaya-musubi.example.jp/privacy",
            tokushoho_url="https://izakaya-musubi.example.jp/tokushoho", button_label="登録してクーポンを受け取る",
            thanks_text="ご登録ありがとうございます！この画面をスタッフにお見せください。"))
    page = f"{settings.MUSUBI_BASE_URL}/p/{point.code}"
    guests = {"テーブル12": ["sato@example.jp", "suzuki@example.jp", "takahashi@example.jp"],
              "店頭ポスター": ["tanaka@example.jp"]}
    for spot, emails in guests.items():
        source = capture.create_source(**ws, kind="store_spot", name=spot)
        link = capture.create_link(**ws, source_id=source.pk, target_url=page)
        for email in emails:
            visitor = capture.follow_link(code=link.code, ip="192.0.2.10", user_agent="Mozilla/5.0 (iPhone)",
                                          referrer="", visitor_id=None).visitor_id
            points.submit(point=point, entry=points.Entry(
                email=email, name=email.split("@")[0].capitalize(), consented=True,
                answers={"visits": "初めて", "likes": ["唐揚げ"]}, visitor_id=visitor, ip_address="192.0.2.10",
                user_agent="Mozilla/5.0 (iPhone)"))
    return dish


def info_products(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    _legal_profile(workspace, actor, seller_name="まなびアカデミー合同会社", responsible_person="鈴木 太郎",
                   address="福岡県福岡市中央区天神1-1-1", phone="092-123-4567", email="hello@manabi.example.jp",
                   price_note="表示価格はすべて税込です。デジタル商品のため送料はかかりません。",
                   payment_methods="クレジットカード、コンビニ決済、銀行振込" if os.environ.get(
                       "MUSUBI_DEMO_STRIPE_STANDIN") else "クレジットカード、銀行振込",
                   delivery_timing="お支払いの確認後すぐに、購入者専用ページのリンクをメールでお送りします。",
                   returns_policy="デジタル商品の性質上、お支払い後の返品・返金はお受けできません。",
                   subscription_cancellation="定期のご契約はありません。")
    guide = catalog.create_product(**ws, name="副業スタートガイド（PDF）", kind="digital", tax_category="standard",
                                   description="第1章 副業を始める前に決めること\n第2章 最初の1万円を稼ぐまで\n"
                                               "第3章 続けるための時間の作り方")
    course = catalog.create_product(**ws, name="半年間オンライン講座", kind="service", tax_category="standard",
                                    goods_cost=24000, payment_fee=10000)
    front = catalog.create_offer(**ws, product_id=guide.pk, name="副業スタートガイド", role="front", price=2980)
    back = catalog.create_offer(**ws, product_id=course.pk, name="オンライン講座（本講座）", role="back", price=298000)
    for offer in (front, back):
        catalog.publish_offer(**ws, offer_id=offer.pk)
    access.set_invitation_only(**ws, offer_id=back.pk, invitation_only=True)  # the course: guide buyers only
    demo_files.add_guide_pdf(workspace, actor, front.pk)
    payment_setup.save_payment_settings(**ws, bank_transfer_enabled=True, bank_transfer_days=5,
                                        bank_account="むすび銀行 天神支店 普通 7654321\nマナビアカデミー（ド",
                                        **_demo_card(workspace.slug))
    ladder = catalog.create_ladder(**ws, name="ガイド → 本講座",
                                   description="アフィリエイターが報酬88%でガイドを販売。")
    catalog.add_step(**ws, ladder_id=ladder.pk, front_id=front.pk, back_id=back.pk, take_rate=D("0.03"))
    planner.create_plan(**ws, name="アフィリエイト報酬88%", ladder_id=ladder.pk, front_offer_id=front.pk, inputs={
        "acquisition": {"affiliate_rate": "0.88"}, "target_profit_per_customer": 1000,
        "monthly_profit_target": 3_000_000, "lead_conversion": "0.05",
        "uncertainty": {"draws": 2000, "seed": 3, "ranges": {"backs.0.take_rate": ["0.01", "0.05"]}}})
    planner.create_plan(**ws, name="自社広告（CPA 4,000円）", ladder_id=ladder.pk, front_offer_id=front.pk, inputs={
        "acquisition": {"ad_cost": 4000}, "target_profit_per_customer": 1000, "monthly_profit_target": 3_000_000,
        "lead_conversion": "0.05"})


BUSINESSES = {"kenko-shop": health_food, "izakaya-musubi": izakaya, "manabi-academy": info_products}
