"""The seller's legal particulars: the owner's settings page, the public 特商法 page, and publishing."""

import pytest

from musubi.catalog import services as catalog
from musubi.catalog.models import Offer
from musubi.testing.legal import COMPLETE_LEGAL_PROFILE, fill_legal_profile
from musubi.workspaces.models import LegalProfile
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def offer(workspace):
    product = catalog.create_product(workspace=workspace, actor=SYSTEM, name="お試しセット")
    return catalog.create_offer(workspace=workspace, actor=SYSTEM, product_id=product.pk, name="お試し",
                                role="front", price=980)


def test_the_owner_saves_the_legal_details_from_the_settings_page(owner_client, workspace):
    response = owner_client.post("/w/kenko/settings/legal/", {**COMPLETE_LEGAL_PROFILE,
                                                               "invoice_registration_number": "T1234567890123"})
    assert response.status_code == 302
    profile = LegalProfile.objects.get(workspace=workspace)
    assert profile.values() == {**COMPLETE_LEGAL_PROFILE, "application_period": "",
                                "invoice_registration_number": "T1234567890123"}
    page = owner_client.get("/w/kenko/settings/legal/").content.decode()
    assert 'id="complete"' in page


def test_the_settings_page_names_a_bad_registration_number_and_saves_nothing(owner_client, workspace):
    response = owner_client.post("/w/kenko/settings/legal/", {**COMPLETE_LEGAL_PROFILE,
                                                               "invoice_registration_number": "1234"})
    assert response.status_code == 200
    assert "T に続けて13桁" in response.content.decode()
    assert not LegalProfile.objects.exists()


def test_the_settings_page_lists_what_is_still_missing(owner_client, workspace):
    fill_legal_profile(workspace, phone="")
    page = owner_client.get("/w/kenko/settings/legal/").content.decode()
    assert 'id="missing"' in page and "電話番号" in page.split('id="missing"')[1].split("</div>")[0]


def test_staff_cannot_open_the_legal_settings(teammate_client, workspace):
    assert teammate_client.get("/w/kenko/settings/legal/").status_code == 403


def test_the_public_legal_page_shows_every_particular_without_a_sign_in(client, workspace):
    fill_legal_profile(workspace, invoice_registration_number="T1234567890123")
    page = client.get("/legal/kenko/").content.decode()
    assert "特定商取引法に基づく表記" in page
    for value in (*COMPLETE_LEGAL_PROFILE.values(), "T1234567890123"):
        assert value in page
    assert "運営統括責任者" in page


def test_the_public_legal_page_of_an_unknown_shop_is_not_found(client, db):
    assert client.get("/legal/nowhere/").status_code == 404


def test_publishing_without_legal_details_sends_the_owner_to_fill_them_in(owner_client, workspace, offer):
    page = owner_client.get(f"/w/kenko/offers/{offer.pk}/").content.decode()
    assert 'id="legal-refusal"' in page
    response = owner_client.post(f"/w/kenko/offers/{offer.pk}/publish/", follow=True)
    assert response.redirect_chain[-1][0] == "/w/kenko/settings/legal/"
    assert "特定商取引法に基づく表記" in response.content.decode()
    assert Offer.objects.get(pk=offer.pk).status == "draft"


def test_the_api_refuses_to_publish_without_legal_details(client, owner_key, offer):
    response = client.post(f"/api/v1/offers/{offer.pk}/publish", HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "legal_profile_incomplete"
    assert "seller_name" in response.json()["error"]["fields"]
    assert Offer.objects.get(pk=offer.pk).status == "draft"


def test_an_opt_in_page_without_its_own_legal_link_links_the_generated_page(client, workspace):
    from musubi.capture import points

    point = points.create_capture_point(
        workspace=workspace, actor=SYSTEM, setup=points.Setup(name="form", incentive="none"),
        wording=points.Wording(headline="ご登録ください", consent_text="同意します", purpose_text="お知らせ",
                               sender_name="すこやか"))
    page = client.get(f"/p/{point.code}").content.decode()
    assert 'href="/legal/kenko/"' in page
