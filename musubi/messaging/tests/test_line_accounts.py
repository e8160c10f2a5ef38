"""Removing a LINE connection: contacts and their consent stay, the secrets go, the webhook stops, nothing more
is sent through it — queued messages are recorded as failed, running broadcasts cancelled, later LINE steps
fail visibly without a request to LINE — and the owner is told all this beforehand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client

from musubi.capture import line as capture_line
from musubi.capture.models import LineChannel
from musubi.contacts.models import ConsentRecord, Contact
from musubi.kernel import clock
from musubi.kernel.errors import Forbidden, NotFound
from musubi.messaging import authoring, broadcasts, enrollments, line_accounts
from musubi.messaging.choices import Outcome, RunState
from musubi.messaging.models import BroadcastRun, Delivery, LineRequest
from musubi.messaging.tests import factories as f
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def account(workspace):
    return capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋むすび",
                                        channel_id="2001234567", channel_secret="a" * 32, access_token="t" * 40,
                                        greeting="")


def pushes_to_line(line_api):
    return [path for method, path, _key in line_api.requests
            if method == "POST" and path.startswith("/v2/bot/message/")]


def test_removing_stops_what_waits_keeps_contacts_and_erases_the_secrets(workspace, account, line_api, run_worker):
    template = f.line_template(workspace, texts=["ご来店ありがとうございました！"])
    seq = f.sequence(workspace, name="来店後フォロー",
                     steps=[{"template_id": template.pk, "delay_minutes": 5, "line_channel_id": account.pk}])
    friends = [f.person(workspace, line=f"U{n:032x}", name=f"友{n}") for n in range(2)]
    with clock.frozen(START):
        enrollments.enroll(sequence=seq, contact=friends[0])
    line_api.fail_next = [500]  # the push is waiting for a retry when the account is removed
    with clock.frozen(START + dt.timedelta(minutes=5)):
        run_worker()
    assert LineRequest.objects.get().status == "pending"
    broadcast = authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(
        name="雨の日", template_id=template.pk, line_channel_id=account.pk))
    run, _new = broadcasts.start_run(broadcast=broadcast)

    impact = line_accounts.removal_impact(account)
    assert impact.sequences == ["来店後フォロー"] and impact.broadcasts == ["雨の日"]
    contacts_before, consents_before = Contact.objects.count(), ConsentRecord.objects.count()
    sent_before = len(pushes_to_line(line_api))

    line_accounts.remove_line_account(workspace=workspace, actor=f.OWNER, line_channel_id=account.pk)

    assert BroadcastRun.objects.get(pk=run.pk).state == RunState.CANCELLED
    request = LineRequest.objects.get()
    assert (request.status, request.last_error) == ("failed", line_accounts.REMOVED)
    delivery = Delivery.objects.get(step__sequence=seq, contact=friends[0])
    assert (delivery.outcome, delivery.last_error) == (Outcome.FAILED, line_accounts.REMOVED)
    # A LINE step that comes due later fails, named, without asking LINE.
    with clock.frozen(START + dt.timedelta(minutes=10)):
        enrollments.enroll(sequence=seq, contact=friends[1])
    for minutes in (15, 20, 60):
        with clock.frozen(START + dt.timedelta(minutes=minutes)):
            run_worker()
    later = Delivery.objects.get(step__sequence=seq, contact=friends[1])
    assert later.outcome == Outcome.FAILED and "connection was removed" in later.last_error
    assert len(pushes_to_line(line_api)) == sent_before
    assert (Contact.objects.count(), ConsentRecord.objects.count()) == (contacts_before, consents_before)

    with connection.cursor() as cursor:
        cursor.execute("SELECT channel_secret, access_token, login_channel_secret FROM capture_linechannel")
        assert cursor.fetchone() == ("", "", "")
    assert not LineChannel.objects.filter(pk=account.pk).exists()
    assert LineChannel.with_removed.get(pk=account.pk).removed_at is not None
    assert Client().post(f"/line/webhook/{account.channel_id}", data=b"{}", content_type="application/json",
                         HTTP_X_LINE_SIGNATURE="x").status_code == 404
    with pytest.raises(NotFound):
        capture_line.channel_of(workspace, account.pk)


def test_only_an_owner_removes_and_the_channel_can_be_connected_again(workspace, other_workspace, account):
    with pytest.raises(Forbidden):
        line_accounts.remove_line_account(workspace=workspace, actor=Actor(role=Role.STAFF),
                                          line_channel_id=account.pk)
    with pytest.raises(NotFound):
        line_accounts.remove_line_account(workspace=other_workspace, actor=f.OWNER, line_channel_id=account.pk)
    assert LineChannel.objects.get().removed_at is None
    line_accounts.remove_line_account(workspace=workspace, actor=f.OWNER, line_channel_id=account.pk)
    again = capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋むすび（再接続）",
                                         channel_id=account.channel_id, channel_secret="b" * 32,
                                         access_token="u" * 40, greeting="")
    assert again.pk != account.pk and LineChannel.objects.get() == again
