from decimal import Decimal as D

import pytest

from musubi.catalog import services
from musubi.catalog.models import LadderStep, Offer, Premium, Product
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from musubi.testing.legal import fill_legal_profile
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor


@pytest.fixture
def actor(owner):
    return Actor(role=Role.OWNER, user=owner)


@pytest.fixture
def shop(workspace, actor):
    fill_legal_profile(workspace)
    ws = {"workspace": workspace, "actor": actor}
    product = services.create_product(**ws, name="お試しセット", goods_cost=300)
    front = services.create_offer(**ws, product_id=product.pk, name="お試し", role="front", price=980)
    back = services.create_offer(**ws, product_id=product.pk, name="定期便", role="back", price=4980,
                                 billing="recurring", interval="month")
    return {"ws": ws, "product": product, "front": front, "back": back}


def test_a_price_cut_that_puts_a_published_premium_over_its_limit_is_refused(shop):
    ws, front = shop["ws"], shop["front"]
    services.update_offer(**ws, offer_id=front.pk, price=1500)
    services.set_premium(**ws, offer_id=front.pk, description="ギフト", legal_value=300)  # 20% of 1,500
    services.publish_offer(**ws, offer_id=front.pk)
    with pytest.raises(InvalidInput) as caught:
        services.update_offer(**ws, offer_id=front.pk, price=980)
    assert caught.value.code == "premium_over_limit"
    assert Offer.objects.get(pk=front.pk).price == 1500


def test_a_premium_over_the_limit_cannot_be_put_on_a_published_offer(shop):
    ws, front = shop["ws"], shop["front"]
    services.publish_offer(**ws, offer_id=front.pk)
    with pytest.raises(InvalidInput):
        services.set_premium(**ws, offer_id=front.pk, description="ギフト", legal_value=300)
    assert not Premium.objects.filter(offer=front).exists()


@pytest.mark.parametrize(("changes", "fields"), [
    ({"price": -1}, {"price"}),
    ({"billing": "one_time", "cycles": 3}, {"cycles", "interval"}),  # the monthly interval no longer fits
    ({"first_price": 5000}, {"first_price"}),
    ({"interval": ""}, {"interval"}),
    ({"colour": "red"}, {"colour"}),
])
def test_invalid_offer_changes_name_their_fields_and_change_nothing(shop, changes, fields):
    before = Offer.objects.values().get(pk=shop["back"].pk)
    with pytest.raises(InvalidInput) as caught:
        services.update_offer(**shop["ws"], offer_id=shop["back"].pk, **changes)
    assert set(caught.value.fields) == fields
    assert Offer.objects.values().get(pk=shop["back"].pk) == before


def test_a_product_still_on_sale_cannot_be_deleted(shop):
    with pytest.raises(Conflict):
        services.delete_product(**shop["ws"], product_id=shop["product"].pk)
    assert Product.objects.filter(pk=shop["product"].pk).exists()


def test_a_subscription_step_needs_its_retention_and_a_front_end_cannot_be_a_back_end(shop):
    ws = shop["ws"]
    ladder = services.create_ladder(**ws, name="L")
    with pytest.raises(InvalidInput) as caught:
        services.add_step(**ws, ladder_id=ladder.pk, front_id=shop["front"].pk, back_id=shop["back"].pk,
                          take_rate=D("0.2"))
    assert set(caught.value.fields) == {"retention"}
    with pytest.raises(InvalidInput) as caught:
        services.add_step(**ws, ladder_id=ladder.pk, front_id=shop["back"].pk, back_id=shop["front"].pk,
                          take_rate=D("0.2"))
    assert set(caught.value.fields) == {"front_id", "back_id"}
    assert not LadderStep.objects.exists()


def test_another_workspaces_offer_cannot_join_a_ladder(shop, other_workspace, outsider):
    theirs_ws = {"workspace": other_workspace, "actor": Actor(role=Role.OWNER, user=outsider)}
    product = services.create_product(**theirs_ws, name="x")
    theirs = services.create_offer(**theirs_ws, product_id=product.pk, name="x", role="back", price=9999)
    ladder = services.create_ladder(**shop["ws"], name="L")
    with pytest.raises(InvalidInput) as caught:
        services.add_step(**shop["ws"], ladder_id=ladder.pk, front_id=shop["front"].pk, back_id=theirs.pk,
                          take_rate=D("0.2"))
    assert set(caught.value.fields) == {"back_id"}
    with pytest.raises(NotFound):
        services.publish_offer(**shop["ws"], offer_id=theirs.pk)


def test_staff_cannot_change_the_catalog(shop, teammate, workspace):
    with pytest.raises(Forbidden):
        services.create_product(workspace=workspace, actor=Actor(role=Role.STAFF, user=teammate), name="x")


def test_an_offer_cannot_be_published_while_a_legal_particular_is_empty(shop, workspace):
    fill_legal_profile(workspace, responsible_person="", returns_policy="  ")
    with pytest.raises(Conflict) as caught:
        services.publish_offer(**shop["ws"], offer_id=shop["front"].pk)
    assert caught.value.code == "legal_profile_incomplete"
    assert set(caught.value.fields) == {"responsible_person", "returns_policy"}
    assert "運営統括責任者" in caught.value.message and "返品・交換" in caught.value.message
    assert Offer.objects.get(pk=shop["front"].pk).status == "draft"


def test_an_offer_of_a_workspace_without_a_legal_profile_is_not_published(workspace, actor):
    ws = {"workspace": workspace, "actor": actor}
    product = services.create_product(**ws, name="お試しセット")
    offer = services.create_offer(**ws, product_id=product.pk, name="お試し", role="front", price=980)
    with pytest.raises(Conflict) as caught:
        services.publish_offer(**ws, offer_id=offer.pk)
    assert len(caught.value.fields) == 11
    assert Offer.objects.get(pk=offer.pk).status == "draft"


def test_a_complete_legal_profile_lets_the_offer_be_published(shop):
    services.publish_offer(**shop["ws"], offer_id=shop["front"].pk)
    assert Offer.objects.get(pk=shop["front"].pk).status == "published"
