import datetime as dt

import pytest

from musubi.contacts import services
from musubi.contacts.models import ConsentRecord, Contact, Identity, Suppression
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.models import AppendOnlyError, Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

LINE_ID = "U" + "0123456789abcdef" * 2


def addresses(**kwargs):
    return services.normalise(**kwargs)


def test_the_same_person_typed_differently_is_one_contact(workspace):
    first, created = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="Taro@Example.jp"))
    again, created_again = services.find_or_create_contact(workspace=workspace,
                                                           addresses=addresses(email="ｔａｒｏ＠example.jp"))
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Fact.objects.filter(kind="contact.created").count() == 1


def test_bad_addresses_are_named_and_nothing_is_created(workspace):
    with pytest.raises(InvalidInput) as caught:
        services.normalise(email="taro@", phone="12")
    assert set(caught.value.fields) == {"email", "phone"}
    with pytest.raises(InvalidInput):
        services.normalise()
    assert not Contact.objects.exists()


def test_a_line_friend_who_later_gives_an_email_with_a_known_address_is_merged_keeping_history(workspace):
    line_friend, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(line_user_id=LINE_ID))
    services.record_consent(workspace=workspace, contact=line_friend, channel="line", address=LINE_ID)
    services.tag(workspace=workspace, contact=line_friend, names=["来店"])
    subscriber, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="taro@example.jp"))
    services.tag(workspace=workspace, contact=subscriber, names=["メルマガ"])

    merged, created = services.find_or_create_contact(
        workspace=workspace, addresses=addresses(email="taro@example.jp", line_user_id=LINE_ID))

    assert not created and merged.pk == line_friend.pk  # the oldest record survives
    assert Contact.objects.get(pk=subscriber.pk).merged_into_id == line_friend.pk
    assert sorted(Identity.objects.filter(contact=merged).values_list("kind", flat=True)) == ["email", "line"]
    assert sorted(merged.tags.values_list("name", flat=True)) == ["メルマガ", "来店"]
    assert services.marketing_allowed(workspace=workspace, contact=merged, channel="line", address=LINE_ID)
    assert services.history_ids(workspace, merged) == [line_friend.pk, subscriber.pk]


def test_consent_is_evidence_and_withdrawal_and_suppression_stop_marketing(workspace):
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="taro@example.jp"))
    assert not services.marketing_allowed(workspace=workspace, contact=contact, channel="email",
                                          address="taro@example.jp")  # no basis yet
    record = services.record_consent(workspace=workspace, contact=contact, channel="email", address="taro@example.jp",
                                     ip_address="203.0.113.5", user_agent="Mobile Safari", capture_point_id=7,
                                     capture_point_version=2, wording="メールで新商品のお知らせを受け取る")
    assert len(record.wording_hash) == 64
    assert services.marketing_allowed(workspace=workspace, contact=contact, channel="email", address="taro@example.jp")
    services.suppress(workspace=workspace, channel="email", value="taro@example.jp", reason="unsubscribed")
    assert not services.marketing_allowed(workspace=workspace, contact=contact, channel="email",
                                          address="taro@example.jp")
    record.basis = "published"
    with pytest.raises(AppendOnlyError):
        record.save()


def test_suppressing_twice_keeps_the_first_reason(workspace):
    services.suppress(workspace=workspace, channel="email", value="a@example.jp", reason="bounced")
    services.suppress(workspace=workspace, channel="email", value="a@example.jp", reason="manual")
    assert list(Suppression.objects.values_list("reason", flat=True)) == ["bounced"]


def test_erasing_a_person_keeps_pseudonymous_evidence_and_the_refusal(workspace, owner):
    actor = Actor(role=Role.OWNER, user=owner)
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="taro@example.jp"),
                                                 name="山田太郎")
    services.record_consent(workspace=workspace, contact=contact, channel="email", address="taro@example.jp",
                            ip_address="203.0.113.5", user_agent="Mobile Safari")
    services.suppress(workspace=workspace, channel="email", value="taro@example.jp", reason="unsubscribed")
    exported = services.export(workspace=workspace, contact_id=contact.pk)
    assert exported["identities"] == [{"kind": "email", "value": "taro@example.jp"}]

    services.erase(workspace=workspace, actor=actor, contact_id=contact.pk)

    contact.refresh_from_db()
    assert (contact.name, contact.erased_at is not None) == ("", True)
    assert not Identity.objects.filter(contact=contact).exists()
    record = ConsentRecord.objects.get(contact=contact)
    assert "taro" not in record.address and "203.0.113.5" not in record.ip_address and record.user_agent == ""
    assert Suppression.objects.filter(value="taro@example.jp").exists()  # the refusal keeps working
    assert "taro" not in str(services.export(workspace=workspace, contact_id=contact.pk))


def test_consent_evidence_cannot_be_deleted_before_its_retention_ends(workspace, owner):
    actor = Actor(role=Role.OWNER, user=owner)
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="taro@example.jp"))
    with clock.frozen(dt.datetime(2026, 1, 10, tzinfo=dt.UTC)):
        services.record_consent(workspace=workspace, contact=contact, channel="email", address="taro@example.jp")
    with clock.frozen(dt.datetime(2028, 12, 31, tzinfo=dt.UTC)):
        with pytest.raises(Conflict) as caught:
            services.delete_consent_records(workspace=workspace, actor=actor, contact_id=contact.pk)
        assert caught.value.code == "retention" and "2029-01-10" in caught.value.message
    assert ConsentRecord.objects.count() == 1
    with clock.frozen(dt.datetime(2029, 1, 11, tzinfo=dt.UTC)):
        assert services.delete_consent_records(workspace=workspace, actor=actor, contact_id=contact.pk) == 1


def test_another_workspace_does_not_see_or_merge_this_ones_contacts(workspace, other_workspace):
    mine, _ = services.find_or_create_contact(workspace=workspace, addresses=addresses(email="taro@example.jp"))
    theirs, created = services.find_or_create_contact(workspace=other_workspace,
                                                      addresses=addresses(email="taro@example.jp"))
    assert created and theirs.pk != mine.pk
    with pytest.raises(NotFound):
        services.export(workspace=other_workspace, contact_id=mine.pk)
