"""The ladder and plan pages, as an owner uses them (the browser tests walk the same path in Chromium)."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from musubi.catalog.models import Offer
from musubi.planner.models import Plan
from musubi.workspaces.models import User


@pytest.fixture
def demo(db):
    call_command("demo")
    client = Client()
    client.force_login(User.objects.get(email="demo@example.com"))
    return client


def test_the_ladder_page_names_what_is_wrong_in_japanese(demo):
    page = demo.get("/w/izakaya-musubi/ladder/").content.decode()
    assert "LINE友だち追加で唐揚げ無料（案）" in page
    assert "どのラダーにもありません" in page  # the 480-yen dish offer leads nowhere
    assert "¥3,500" in page and "引き上げ率" in page


def test_a_premium_over_the_limit_is_refused_with_the_limit_explained(demo):
    offer = Offer.objects.get(name="LINE友だち追加で唐揚げ無料（案）")
    page = demo.get(f"/w/izakaya-musubi/offers/{offer.pk}/").content.decode()
    assert "公開できません" in page
    response = demo.post(f"/w/izakaya-musubi/offers/{offer.pk}/publish/", follow=True)
    text = response.content.decode()
    assert "480" in text and "200" in text and "来店" in text
    offer.refresh_from_db()
    assert offer.status == "draft"


def test_lowering_the_premium_to_its_limit_lets_the_offer_be_published(demo):
    offer = Offer.objects.get(name="LINE友だち追加で唐揚げ無料（案）")
    demo.post(f"/w/izakaya-musubi/offers/{offer.pk}/", {
        "description": "枝豆（通常200円）", "kind": "giveaway", "legal_value": 200, "cost": 40,
        "visit_required": "on", "cheapest_normal_purchase": 300})
    demo.post(f"/w/izakaya-musubi/offers/{offer.pk}/publish/")
    offer.refresh_from_db()
    assert offer.status == "published"


def test_an_owner_builds_a_ladder_from_scratch(demo):
    demo.post("/w/kenko-shop/products/new/", {"name": "酵素ドリンク", "kind": "physical", "tax_category": "reduced",
                                              "goods_cost": 300, "shipping_cost": 0, "fulfilment_cost": 0,
                                              "payment_fee": 0})
    product = demo.get("/w/kenko-shop/ladder/")
    assert "酵素ドリンク" in product.content.decode()
    from musubi.catalog.models import Product

    pid = Product.objects.get(name="酵素ドリンク").pk
    demo.post("/w/kenko-shop/offers/new/", {"product_id": pid, "name": "酵素お試し", "role": "front", "price": 500,
                                            "billing": "one_time"})
    demo.post("/w/kenko-shop/offers/new/", {"product_id": pid, "name": "酵素定期", "role": "back", "price": 300,
                                            "billing": "recurring", "interval": "month"})
    demo.post("/w/kenko-shop/ladders/new/", {"name": "酵素ラダー"})
    from musubi.catalog.models import Ladder

    ladder = Ladder.objects.get(name="酵素ラダー")
    front, back = Offer.objects.get(name="酵素お試し"), Offer.objects.get(name="酵素定期")
    refused = demo.post(f"/w/kenko-shop/ladders/{ladder.pk}/steps/new/", {
        "front_id": front.pk, "back_id": back.pk, "take_rate": "30"})
    assert "1回ごとの継続率を入力してください" in refused.content.decode()  # a subscription needs its retention
    assert not ladder.steps.exists()
    demo.post(f"/w/kenko-shop/ladders/{ladder.pk}/steps/new/", {
        "front_id": front.pk, "back_id": back.pk, "take_rate": "30", "retention": "70"})
    page = demo.get("/w/kenko-shop/ladder/").content.decode()
    assert "酵素定期" in page and "より高い価格になっていません" in page  # ¥300 back-end under a ¥500 front-end


def test_two_plans_are_compared_side_by_side(demo):
    ids = list(Plan.objects.filter(workspace__slug="kenko-shop", name__startswith="広告CPA").values_list("pk",
                                                                                                        flat=True))
    page = demo.get("/w/kenko-shop/plans/compare/", {"ids": ids}).content.decode()
    assert page.count("¥3,096") == 1 and "¥2,096" in page and "限界CPA" in page


def test_the_plan_page_draws_a_tornado_and_a_distribution(demo):
    plan = Plan.objects.get(name="広告CPA 1,500円")
    page = demo.get(f"/w/kenko-shop/plans/{plan.pk}/").content.decode()
    assert page.count("<svg") == 2
    assert "「青汁 定期便」の継続率" in page  # a tornado bar, labelled in words


def test_changing_an_assumption_recalculates_and_a_bad_one_is_named(demo):
    plan = Plan.objects.get(name="広告CPA 1,500円")
    page = demo.get(f"/w/kenko-shop/plans/{plan.pk}/")
    form = {name: value for name, value in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page.content.decode())}
    form["acquisition.ad_cost"] = "4000"
    demo.post(f"/w/kenko-shop/plans/{plan.pk}/", form)
    plan.refresh_from_db()
    assert plan.inputs["acquisition"]["ad_cost"] == 4000
    form["uncertainty.ranges.backs.0.take_rate"] = "50"  # percent
    form["uncertainty.ranges.backs.0.take_rate.high"] = "10"
    response = demo.post(f"/w/kenko-shop/plans/{plan.pk}/", form)
    assert response.status_code == 200 and "下限が上限を上回っています" in response.content.decode()
    plan.refresh_from_db()
    assert plan.inputs["uncertainty"]["ranges"]["backs.0.take_rate"] == ["0.15", "0.35"]


def test_staff_can_read_plans_but_not_change_them(demo):
    staff = Client()
    staff.force_login(User.objects.get(email="staff@example.com"))
    plan = Plan.objects.get(workspace__slug="izakaya-musubi")
    assert staff.get(f"/w/izakaya-musubi/plans/{plan.pk}/").status_code == 200
    assert staff.post(f"/w/izakaya-musubi/plans/{plan.pk}/refresh/").status_code == 403
    assert staff.get("/w/izakaya-musubi/products/new/").status_code == 403


def test_rates_are_typed_as_percentages(demo):
    plan = Plan.objects.get(name="広告CPA 1,500円")
    page = demo.get(f"/w/kenko-shop/plans/{plan.pk}/").content.decode()
    form = {name: value for name, value in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page)}
    assert form["backs.0.take_rate"] == "25"
    form["backs.0.take_rate"] = "30"
    demo.post(f"/w/kenko-shop/plans/{plan.pk}/", form)
    plan.refresh_from_db()
    assert plan.inputs["backs"][0]["take_rate"] == "0.3"


def test_half_a_simulation_range_is_an_error_not_silently_dropped(demo):
    plan = Plan.objects.get(name="広告CPA 1,500円")
    page = demo.get(f"/w/kenko-shop/plans/{plan.pk}/").content.decode()
    form = {name: value for name, value in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page)}
    form["uncertainty.ranges.backs.0.take_rate.high"] = ""
    response = demo.post(f"/w/kenko-shop/plans/{plan.pk}/", form)
    assert "範囲の両端を入力してください" in response.content.decode()
    plan.refresh_from_db()
    assert plan.inputs["uncertainty"]["ranges"]["backs.0.take_rate"] == ["0.15", "0.35"]


def test_an_offer_is_renamed_and_a_product_in_use_is_not_deleted(demo):
    offer = Offer.objects.get(name="LINE友だち追加で唐揚げ無料（案）")
    form = {"product_id": offer.product_id, "name": "LINE友だち追加で枝豆無料", "role": "front", "price": 0,
            "billing": "one_time"}
    demo.post(f"/w/izakaya-musubi/offers/{offer.pk}/edit/", form)
    offer.refresh_from_db()
    assert offer.name == "LINE友だち追加で枝豆無料"
    response = demo.post(f"/w/izakaya-musubi/products/{offer.product_id}/delete/", follow=True)
    assert "先にオファーを削除してください" in response.content.decode()
    assert Offer.objects.filter(pk=offer.pk).exists()
