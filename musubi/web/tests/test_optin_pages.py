"""The owner's pages for opt-in forms and coupons, and the counter."""

from musubi.capture.models import CapturePoint, CapturePointVersion, CouponDefinition
from musubi.workspaces import services
from musubi.workspaces.choices import Role

BASE = {"name": "テーブルQR", "incentive": "none", "headline": "唐揚げ1皿無料", "ask_name": "on", "ask_email": "on",
        "consent_text": "お知らせを受け取ります", "consent_required": "on", "purpose_text": "お知らせに使います",
        "sender_name": "株式会社むすび", "active": "on", "q-TOTAL_FORMS": "2", "q-INITIAL_FORMS": "0",
        "q-0-label": "ご来店の頻度", "q-0-kind": "single", "q-0-options": "初めて\n月1回", "q-0-required": "on",
        "q-1-label": ""}


def test_an_owner_makes_a_form_and_a_wording_change_makes_version_2(owner_client, workspace):
    response = owner_client.post("/w/kenko/forms/new/", BASE)
    point = CapturePoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/w/kenko/forms/{point.pk}/"
    version = CapturePointVersion.objects.get()
    assert version.questions == [{"key": "q1", "label": "ご来店の頻度", "kind": "single", "required": True,
                                  "options": ["初めて", "月1回"]}]
    page = owner_client.get(f"/w/kenko/forms/{point.pk}/").content.decode()
    assert f"/p/{point.code}" in page and "musubi-optin" in page  # its address and the embeddable snippet
    edit = {**BASE, "headline": "唐揚げ2皿無料", "q-INITIAL_FORMS": "1", "q-0-key": "q1"}
    owner_client.post(f"/w/kenko/forms/{point.pk}/edit/", edit)
    assert list(CapturePointVersion.objects.order_by("number").values_list("headline", flat=True)) == [
        "唐揚げ1皿無料", "唐揚げ2皿無料"]
    assert CapturePointVersion.objects.get(number=2).questions[0]["key"] == "q1"  # answers stay under their key


def test_bad_questions_are_shown_and_nothing_is_saved(owner_client, workspace):
    response = owner_client.post("/w/kenko/forms/new/", {**BASE, "q-0-options": "初めて"})
    assert response.status_code == 200 and not CapturePoint.objects.exists()
    errors = " ".join(response.context["form"].non_field_errors())
    assert "質問1" in errors or "Question 1" in errors  # the row is named, with why


def test_an_image_must_be_an_image(owner_client, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("photo.png", b"<script>alert(1)</script>", content_type="image/png")
    response = owner_client.post("/w/kenko/forms/new/", {**BASE, "image": fake})
    assert response.status_code == 200 and response.context["form"].errors["image"]
    png = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    owner_client.post("/w/kenko/forms/new/", {**BASE, "image": png})
    point = CapturePoint.objects.get()
    image = owner_client.get(f"/p/{point.code}/image/1")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_an_owner_defines_a_coupon_valid_until_the_end_of_a_day_in_the_shops_zone(owner_client, workspace):
    owner_client.post("/w/kenko/coupons/", {"name": "唐揚げ無料", "benefit": "唐揚げ1皿無料", "cost": "150",
                                            "valid_until": "2026-12-31", "max_redemptions": "1"})
    definition = CouponDefinition.objects.get()
    assert definition.valid_until.isoformat() == "2026-12-31T15:00:00+00:00"  # midnight in Tokyo


def test_staff_may_use_the_counter_but_not_make_forms_and_viewers_neither(teammate_client, workspace):
    assert teammate_client.get("/w/kenko/counter/").status_code == 200
    assert teammate_client.post("/w/kenko/forms/new/", BASE).status_code == 403
    assert teammate_client.post("/w/kenko/coupons/", {"name": "x"}).status_code == 403
    viewer = services.add_member(workspace=workspace, actor=services.SYSTEM, email="viewer@example.com",
                                 role=Role.VIEWER).user
    from django.test import Client

    client = Client()
    client.force_login(viewer)
    assert client.get("/w/kenko/counter/").status_code == 403


def test_a_link_to_a_form_prints_on_an_a6_card_with_the_forms_headline(owner_client, workspace):
    owner_client.post("/w/kenko/forms/new/", BASE)
    point = CapturePoint.objects.get()
    owner_client.post("/w/kenko/sources/", {"form": "source", "source-kind": "store_spot", "source-name": "テーブル12"})
    from musubi.capture.models import Source

    owner_client.post("/w/kenko/sources/", {"form": "link", "link-source_id": Source.objects.get().pk,
                                            "link-target_url": f"http://testserver/p/{point.code}"})
    from musubi.capture.models import TrackingLink

    link = TrackingLink.objects.get()
    card = owner_client.get(f"/w/kenko/links/{link.pk}/card/").content.decode()
    assert "@page { size: A6" in card and "唐揚げ1皿無料" in card and "<svg" in card


def test_an_owner_records_a_sources_cost_and_sees_the_total(owner_client, workspace):
    owner_client.post("/w/kenko/sources/", {"form": "source", "source-kind": "newsletter_ad", "source-name": "号外A"})
    from musubi.capture.models import Source, SourceCost

    source = Source.objects.get()
    owner_client.post("/w/kenko/sources/", {"form": "cost", "cost-source_id": source.pk, "cost-amount": "30000",
                                            "cost-spent_on": "2026-11-01", "cost-note": "11月号"})
    owner_client.post("/w/kenko/sources/", {"form": "cost", "cost-source_id": source.pk, "cost-amount": "-5",
                                            "cost-spent_on": "2026-11-02"})
    assert list(SourceCost.objects.values_list("amount", flat=True)) == [30000]
    assert "30,000" in owner_client.get("/w/kenko/sources/").content.decode()


def test_a_contacts_page_shows_answers_sources_and_timeline(owner_client, workspace):
    from musubi.capture import points
    from musubi.capture.tests.factories import capture_point, entry

    submission = points.submit(point=capture_point(workspace), entry=entry())
    page = owner_client.get(f"/w/kenko/contacts/{submission.contact_id}/").content.decode()
    assert "ご来店の頻度" in page and "唐揚げ、刺身" in page  # answers under their questions
    assert "登録フォームを送信" in page or "Sent an opt-in form" in page


def test_an_owner_stops_a_coupon_and_the_counter_refuses_it(owner_client, workspace):
    from musubi.capture import coupons, points
    from musubi.capture.tests.factories import capture_point, coupon_definition, entry

    definition = coupon_definition(workspace)
    code = points.submit(point=capture_point(workspace, incentive="coupon", coupon_id=definition.pk),
                         entry=entry()).coupon.code
    form = owner_client.get(f"/w/kenko/coupons/{definition.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    owner_client.post(f"/w/kenko/coupons/{definition.pk}/edit/", {**data, "active": ""})
    definition.refresh_from_db()
    assert not definition.active
    import pytest

    from musubi.kernel.errors import Conflict
    from musubi.workspaces.services import SYSTEM

    with pytest.raises(Conflict) as refused:
        coupons.redeem(workspace=workspace, actor=SYSTEM, code=code)
    assert refused.value.code == "coupon_inactive"


def test_an_owner_stops_a_line_channel_from_its_page_and_the_secrets_are_kept(owner_client, workspace):
    from musubi.capture import line
    from musubi.capture.models import LineChannel
    from musubi.workspaces.services import SYSTEM

    channel = line.connect_channel(workspace=workspace, actor=SYSTEM, name="公式", channel_id="2000123456",
                                   channel_secret="0" * 32, access_token="t" * 40)
    page = owner_client.get(f"/w/kenko/line/{channel.pk}/").content.decode()
    assert "0" * 32 not in page and "t" * 40 not in page
    owner_client.post(f"/w/kenko/line/{channel.pk}/", {"name": "公式", "greeting": "", "active": ""})
    channel = LineChannel.objects.get()
    assert not channel.active and channel.channel_secret == "0" * 32 and channel.access_token == "t" * 40
