"""The public opt-in page, its embedded form, the thank-you and confirmation pages, and the coupon page."""

import pytest
from django.test import Client

from musubi.capture.models import Redemption, Submission
from musubi.capture.tests.factories import capture_point, coupon_definition
from musubi.contacts.models import ConsentRecord, Contact
from musubi.kernel.models import RateCounter

FORM = {"name": "山田花子", "email": "hanako@example.jp", "consent": "on", "visits": "月1回", "likes": ["唐揚げ"],
        "version": "1"}


@pytest.fixture
def point(workspace):
    definition = coupon_definition(workspace)
    return capture_point(workspace, incentive="coupon", coupon_id=definition.pk)


def test_the_page_shows_the_wording_the_law_asks_for_with_the_box_unticked(point):
    page = Client().get(f"/p/{point.code}").content.decode()
    for text in ("LINE登録で唐揚げ1皿無料", "株式会社むすび", "クーポンの送付とお知らせに利用します。",
                 "https://izakaya.example.jp/privacy", "https://izakaya.example.jp/law", "ご来店の頻度"):
        assert text in page
    consent_box = page[page.index('name="consent"') - 120:page.index('name="consent"') + 60]
    assert "checked" not in consent_box


def test_opting_in_on_the_page_leads_to_the_coupon(point):
    client = Client(REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    response = client.post(f"/p/{point.code}", FORM, follow=True)
    page = response.content.decode()
    coupon = Submission.objects.get().coupon
    assert response.status_code == 200 and "唐揚げ1皿無料" in page
    assert f"{coupon.code[:5]}-{coupon.code[5:]}" in page
    assert ConsentRecord.objects.get().ip_address == "198.51.100.20"


def test_the_hosted_page_needs_its_csrf_token(point):
    response = Client(enforce_csrf_checks=True).post(f"/p/{point.code}", FORM)
    assert response.status_code == 403 and not Submission.objects.exists()


def test_the_embedded_form_posts_from_another_site_without_a_token(point):
    response = Client(enforce_csrf_checks=True).post(f"/p/{point.code}/embed", FORM)
    assert response.status_code == 302 and Submission.objects.get().via == "embed"


def test_errors_are_shown_on_the_fields_and_nothing_is_written(point):
    response = Client().post(f"/p/{point.code}", {**FORM, "email": "hanako@", "consent": ""})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["email"] and form.errors["consent"]
    assert response.context["form"]["name"].value() == "山田花子"  # what was typed is kept
    assert not Contact.objects.exists()


def test_a_filled_honeypot_looks_like_success_and_writes_nothing(point):
    response = Client().post(f"/p/{point.code}", {**FORM, "website": "http://spam.example"})
    assert response.status_code == 200 and not Contact.objects.exists()


def test_oversized_submissions_are_refused(point):
    response = Client().post(f"/p/{point.code}", {**FORM, "comment": "x" * 70_000})
    assert response.status_code == 413 and not Contact.objects.exists()


def test_submissions_are_limited_per_ip(point, settings):
    settings.MUSUBI_OPTIN_LIMIT = 3
    statuses = [Client(REMOTE_ADDR="203.0.113.5").post(f"/p/{point.code}", {**FORM, "email": f"p{i}@example.jp"}
                                                        ).status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert Client(REMOTE_ADDR="203.0.113.6").post(f"/p/{point.code}", {**FORM, "email": "q@example.jp"}
                                                  ).status_code == 302  # another address is not limited
    assert Submission.objects.count() == 4
    assert not RateCounter.objects.filter(key__contains="203.0.113.5").exists()  # the IP is kept only hashed


def test_a_closed_or_unknown_form_is_not_found(workspace):
    point = capture_point(workspace, active=False)
    assert Client().get(f"/p/{point.code}").status_code == 404
    assert Client().get("/p/NOSUCH22").status_code == 404


def test_double_opt_in_confirms_on_a_button_not_on_opening_the_link(workspace):
    point = capture_point(workspace, double_opt_in=True)
    response = Client().post(f"/p/{point.code}", FORM, follow=True)
    assert "hanako@example.jp" in response.content.decode() and not ConsentRecord.objects.exists()
    from musubi.capture import points

    link = f"/p/{point.code}/confirm/{points.confirm_token(Submission.objects.get())}"
    assert Client().get(link).status_code == 200 and not ConsentRecord.objects.exists()  # a mail scanner's visit
    assert Client().post(link).status_code == 302
    assert ConsentRecord.objects.count() == 1
    assert Client().get(link.replace("/confirm/", "/confirm/x")).status_code == 404


def test_counter_staff_who_scan_a_coupon_land_on_the_counter_and_redeem_it(point, teammate_client):
    Client().post(f"/p/{point.code}", FORM)
    code = Submission.objects.get().coupon.code
    scanned = teammate_client.get(f"/c/{code}")
    assert scanned.status_code == 302 and scanned["Location"] == f"/w/kenko/counter/?code={code}"
    page = teammate_client.get(scanned["Location"]).content.decode()
    assert "唐揚げ1皿無料" in page and "山田花子" in page
    teammate_client.post("/w/kenko/counter/", {"code": code, "redeem": "1"})
    again = teammate_client.post("/w/kenko/counter/", {"code": code, "redeem": "1"}, follow=True).content.decode()
    assert Redemption.objects.count() == 1
    assert "使用済み" in again or "already used" in again


def test_a_customer_sees_their_coupon_and_an_outsider_cannot_redeem_it(point, outsider_client):
    Client().post(f"/p/{point.code}", FORM)
    code = Submission.objects.get().coupon.code
    page = Client().get(f"/c/{code}").content.decode()
    assert "唐揚げ1皿無料" in page and f"{code[:5]}-{code[5:]}" in page
    assert outsider_client.get(f"/c/{code}").status_code == 200  # shown as to any customer, no counter
    response = outsider_client.post("/w/izakaya/counter/", {"code": code, "redeem": "1"}, follow=True)
    assert not Redemption.objects.exists()
    assert response.content.decode().count("唐揚げ1皿無料") == 0
