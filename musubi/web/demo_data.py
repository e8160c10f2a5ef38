"""The demo's three businesses, from the seed articles: each with products, offers, a ladder and plans whose
numbers make sense and whose offers can be published.

- すこやか健康食品店: a one-time 980-yen trial set (8% tax) → the 4,980-yen monthly 定期便, which is also
  offered with a discounted first delivery.
- 居酒屋むすび: a free dish with a normal price of 200 yen for adding the shop on LINE through a QR code on
  the table → return visits of about 3,500 yen. A second draft offers a 480-yen dish, over the legal limit.
- まなびアカデミー: a 2,980-yen guide sold by affiliates who keep 88% → a 298,000-yen course.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from musubi.catalog import services as catalog
from musubi.planner import services as planner
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor


def health_food(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
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


def izakaya(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
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


def info_products(workspace: Workspace, actor: Actor) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    guide = catalog.create_product(**ws, name="副業スタートガイド（PDF）", kind="digital", tax_category="standard")
    course = catalog.create_product(**ws, name="半年間オンライン講座", kind="service", tax_category="standard",
                                    goods_cost=24000, payment_fee=10000)
    front = catalog.create_offer(**ws, product_id=guide.pk, name="副業スタートガイド", role="front", price=2980)
    back = catalog.create_offer(**ws, product_id=course.pk, name="オンライン講座（本講座）", role="back", price=298000)
    for offer in (front, back):
        catalog.publish_offer(**ws, offer_id=offer.pk)
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
