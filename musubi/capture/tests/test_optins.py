"""Capture points: versions of the wording, opt-ins with consent evidence and attribution, double opt-in."""

import dataclasses

import pytest

from musubi.capture import points, services
from musubi.capture.models import CapturePointVersion, ConfirmationMail, Coupon, Submission
from musubi.capture.rules import version_wording, wording_hash
from musubi.capture.tests.factories import capture_point, coupon_definition, entry, owner_actor, wording
from musubi.contacts.models import ConsentRecord, Contact, Identity
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.models import Fact


def _counts():
    return (Contact.objects.count(), Identity.objects.count(), ConsentRecord.objects.count(),
            Submission.objects.count(), Coupon.objects.count(), Fact.objects.count())


def test_an_opt_in_records_the_contact_answers_consent_evidence_and_the_coupon(workspace):
    definition = coupon_definition(workspace)
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk, tags=["テーブルQR"],
                          wording_changes={"headline": "ＬＩＮＥ登録で唐揚げ１皿無料！（先着）"})  # full-width text
    submission = points.submit(point=point, entry=entry())
    contact = Contact.objects.get(pk=submission.contact_id)
    assert submission.status == "confirmed" and submission.email == "hanako@example.jp"
    assert contact.name == "山田花子" and contact.fields == {"visits": "月1回", "likes": ["唐揚げ", "刺身"]}
    assert list(contact.tags.values_list("name", flat=True)) == ["テーブルQR"]
    consent = ConsentRecord.objects.get()
    version = CapturePointVersion.objects.get()
    assert (consent.channel, consent.address, consent.basis, consent.granted) == (
        "email", "hanako@example.jp", "consent", True)
    assert (consent.capture_point_id, consent.capture_point_version) == (point.pk, 1)
    assert consent.ip_address == "198.51.100.7" and consent.user_agent == "Mozilla/5.0 (iPhone)"
    # The hash in the evidence is the hash of exactly what the version showed.
    shown = {f.name: getattr(version, f.name) for f in dataclasses.fields(points.Wording)} | {"image": ""}
    assert consent.wording_hash == version.wording_hash == wording_hash(version_wording(shown))
    assert submission.coupon.contact_id == contact.pk and submission.coupon.definition_id == definition.pk
    kinds = set(Fact.objects.values_list("kind", flat=True))
    assert {"optin.submitted", "optin.confirmed", "coupon.issued", "consent.granted"} <= kinds


def test_without_consent_the_form_is_refused_naming_the_box_and_nothing_is_written(workspace):
    point = capture_point(workspace)
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        points.submit(point=point, entry=entry(consented=False))
    assert set(refused.value.fields) == {"consent"}
    assert _counts() == before


def test_when_consent_is_optional_a_person_who_does_not_tick_it_gets_no_consent_record(workspace):
    point = capture_point(workspace, consent_required=False)
    submission = points.submit(point=point, entry=entry(consented=False))
    assert submission.status == "confirmed" and not ConsentRecord.objects.exists()


@pytest.mark.parametrize(("changes", "fields"), [
    ({"email": "hanako@"}, {"email"}),
    ({"email": ""}, {"email"}),
    ({"name": " "}, {"name"}),
    ({"answers": {"visits": "毎日"}}, {"visits"}),
    ({"answers": {}}, {"visits"}),
    ({"answers": {"visits": "初めて", "likes": ["ラーメン"]}}, {"likes"}),
    ({"answers": {"visits": "初めて", "comment": "あ" * 2001}}, {"comment"}),
    ({"email": "x", "consented": False, "answers": {}}, {"email", "consent", "visits"}),
])
def test_bad_entries_name_every_bad_field_and_change_nothing(workspace, changes, fields):
    point = capture_point(workspace)
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        points.submit(point=point, entry=entry(**changes))
    assert set(refused.value.fields) == fields
    assert _counts() == before


def test_a_phone_only_form_normalises_the_number(workspace):
    point = capture_point(workspace, wording_changes={"ask_email": False, "ask_phone": True, "questions": []})
    submission = points.submit(point=point, entry=entry(email="", phone="０９０−１２３４−５６７８"))
    assert Identity.objects.get(contact=submission.contact).value == "+819012345678"
    assert not ConsentRecord.objects.exists()  # consent here is to email, and no email was given


def test_changing_the_wording_makes_a_new_version_and_consent_points_at_what_was_seen(workspace):
    point = capture_point(workspace)
    first = points.submit(point=point, entry=entry())
    setup = points.Setup(name="テーブルQR（改）")
    _point, changed = points.update_capture_point(workspace=workspace, actor=owner_actor(), capture_point_id=point.pk,
                                                  setup=setup, wording=wording())
    assert not changed  # renaming the point changes nothing people read
    _point, changed = points.update_capture_point(workspace=workspace, actor=owner_actor(), capture_point_id=point.pk,
                                                  setup=setup, wording=wording(headline="唐揚げ2皿無料"))
    assert changed
    second = points.submit(point=point, entry=entry(email="taro@example.jp", version_number=2))
    v1, v2 = CapturePointVersion.objects.order_by("number")
    assert v1.headline == "LINE登録で唐揚げ1皿無料" and v2.headline == "唐揚げ2皿無料"  # v1 is kept unchanged
    records = {r.contact_id: r for r in ConsentRecord.objects.all()}
    assert records[first.contact_id].capture_point_version == 1
    assert records[first.contact_id].wording_hash == v1.wording_hash
    assert records[second.contact_id].capture_point_version == 2
    assert records[second.contact_id].wording_hash == v2.wording_hash != v1.wording_hash


def test_an_opt_in_for_a_version_that_was_replaced_is_refused(workspace):
    point = capture_point(workspace)
    points.update_capture_point(workspace=workspace, actor=owner_actor(), capture_point_id=point.pk,
                                setup=points.Setup(name="x"),
                                wording=wording(consent_text="メールとLINEで受け取ります"))
    with pytest.raises(Conflict):
        points.submit(point=point, entry=entry(version_number=1))
    assert not Submission.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"questions": [{"key": "email", "label": "x", "kind": "text"}]}, "questions.0.key"),
    ({"questions": [{"key": "a", "label": "x", "kind": "single", "options": ["only"]}]}, "questions.0.options"),
    ({"questions": [{"key": "a", "label": "x", "kind": "text"}, {"key": "a", "label": "y", "kind": "text"}]},
     "questions.1.key"),
    ({"sender_name": ""}, "sender_name"),
    ({"purpose_text": " "}, "purpose_text"),
    ({"ask_email": False, "ask_phone": False}, "ask_email"),
    ({"privacy_url": "javascript:alert(1)"}, "privacy_url"),
])
def test_bad_wording_is_refused_by_path(workspace, changes, field):
    with pytest.raises(InvalidInput) as refused:
        points.create_capture_point(workspace=workspace, actor=owner_actor(), setup=points.Setup(name="x"),
                                    wording=wording(**changes))
    assert field in refused.value.fields


def test_an_incentive_needs_its_coupon_and_another_workspaces_coupon_is_unknown(workspace, other_workspace):
    foreign = coupon_definition(other_workspace)
    with pytest.raises(InvalidInput) as refused:
        capture_point(workspace, incentive="coupon")
    assert "coupon_id" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        capture_point(workspace, incentive="coupon", coupon_id=foreign.pk)
    assert "coupon_id" in refused.value.fields


def test_the_opt_in_is_credited_to_the_last_link_clicked_and_the_first_is_kept(workspace):
    actor = owner_actor()
    flyer = services.create_source(workspace=workspace, actor=actor, kind="store_spot", name="チラシB")
    table = services.create_source(workspace=workspace, actor=actor, kind="store_spot", name="テーブル12")
    point = capture_point(workspace)
    visitor = None
    for source in (flyer, table):
        link = services.create_link(workspace=workspace, actor=actor, source_id=source.pk,
                                    target_url=f"https://musubi.example/p/{point.code}")
        visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent="Mozilla/5.0 (iPhone)",
                                       referrer="", visitor_id=visitor).visitor_id
    submission = points.submit(point=point, entry=entry(visitor_id=visitor))
    assert submission.source_id == table.pk
    contact = Contact.objects.get(pk=submission.contact_id)
    assert (contact.first_source_id, contact.last_source_id) == (flyer.pk, table.pk)
    assert ConsentRecord.objects.get().source_id == table.pk


def test_without_a_click_the_points_own_source_is_credited(workspace):
    source = services.create_source(workspace=workspace, actor=owner_actor(), kind="website", name="公式サイト")
    submission = points.submit(point=capture_point(workspace, source_id=source.pk), entry=entry(visitor_id=""))
    assert submission.source_id == source.pk


def test_a_second_opt_in_by_the_same_person_finds_them_and_gives_no_second_coupon(workspace):
    definition = coupon_definition(workspace)
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk)
    first = points.submit(point=point, entry=entry())
    second = points.submit(point=point, entry=entry(email="hanako@example.jp"))
    assert first.contact_id == second.contact_id
    assert first.coupon_id is not None and second.coupon_id is None  # not shown to whoever typed the address
    assert Coupon.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_double_opt_in_gives_nothing_until_the_mailed_link_is_confirmed(workspace, smtp, run_worker):
    definition = coupon_definition(workspace)
    point = capture_point(workspace, double_opt_in=True, incentive="coupon", coupon_id=definition.pk)
    submission = points.submit(point=point, entry=entry())
    assert submission.status == "pending"
    assert not ConsentRecord.objects.exists() and not Coupon.objects.exists()
    run_worker()
    (mail,) = smtp.messages
    assert mail["To"] == "hanako@example.jp" and "株式会社むすび" in mail["From"]
    body = mail.get_content()
    link = next(word for word in body.split() if "/confirm/" in word)
    token = link.rsplit("/", 1)[1]
    assert ConfirmationMail.objects.get().status == "done"
    confirmed = points.confirm(point=point, token=token, ip_address="198.51.100.8", user_agent="Mail app")
    assert confirmed.status == "confirmed" and confirmed.coupon is not None
    consent = ConsentRecord.objects.get()
    assert consent.ip_address == "198.51.100.8" and consent.capture_point_version == 1
    points.confirm(point=point, token=token, ip_address="x", user_agent="y")  # a second click changes nothing
    assert ConsentRecord.objects.count() == 1 and Coupon.objects.count() == 1
    run_worker()
    assert len(smtp.messages) == 1  # the confirmation mail went once


def test_a_forged_or_foreign_confirmation_token_is_not_found(workspace):
    point = capture_point(workspace, double_opt_in=True)
    other = capture_point(workspace, double_opt_in=True)
    submission = points.submit(point=point, entry=entry())
    with pytest.raises(NotFound):
        points.confirm(point=other, token=points.confirm_token(submission), ip_address="", user_agent="")
    with pytest.raises(NotFound):
        points.confirm(point=point, token=points.thanks_token(submission), ip_address="", user_agent="")
    assert not ConsentRecord.objects.exists()


def test_double_opt_in_needs_an_email_field(workspace):
    with pytest.raises(InvalidInput) as refused:
        capture_point(workspace, double_opt_in=True,
                      wording_changes={"ask_email": False, "ask_phone": True})
    assert "double_opt_in" in refused.value.fields
