"""LINE friend-add through a local stand-in of LINE's API, driven by signed webhook requests."""

import base64
import hashlib
import hmac
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from musubi.capture import line, services
from musubi.capture.models import Click, Coupon, LineEvent, LineMessage, LineVisit
from musubi.capture.tests.factories import coupon_definition, owner_actor
from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Contact, Suppression
from musubi.integrations import line as line_sdk
from musubi.kernel.errors import Conflict, InvalidInput
from musubi.kernel.models import Fact
from musubi.testing.line_standin_friends import demo_name

SECRET = "0123456789abcdef0123456789abcdef"
USER = "U" + "a" * 32


@pytest.fixture
def channel(workspace, line_api):  # a follow fetches the profile: never from the real LINE in a test
    return line.connect_channel(workspace=workspace, actor=owner_actor(), name="居酒屋むすび 公式",
                                channel_id="2000123456", channel_secret=SECRET, access_token="t" * 40,
                                greeting="友だち追加ありがとうございます！",
                                coupon_id=coupon_definition(workspace).pk)


def event(kind, *, event_id=None, user=USER, unblocked=False, redelivery=False):
    body = {"type": kind, "mode": "active", "timestamp": 1763800000000, "source": {"type": "user", "userId": user},
            "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": redelivery}}
    if kind == "follow":
        body |= {"replyToken": "r" * 32, "follow": {"isUnblocked": unblocked}}
    return body


def post(channel_id, events, *, secret=SECRET, signature=None):
    raw = json.dumps({"destination": "U" + "0" * 32, "events": events}, ensure_ascii=False).encode()
    signed = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return Client().post(f"/line/webhook/{channel_id}", data=raw, content_type="application/json",
                         HTTP_X_LINE_SIGNATURE=signature if signature is not None else signed)


@pytest.mark.django_db(transaction=True)
def test_a_follow_makes_a_contact_with_line_consent_and_sends_the_greeting_with_the_coupon(
        channel, line_api, run_worker):
    line_api.names[USER] = "さくら"
    assert post(channel.channel_id, [event("follow")]).status_code == 200
    contact = Contact.objects.get()
    consent = ConsentRecord.objects.get()
    assert (consent.channel, consent.address, consent.granted) == ("line", USER, True)
    assert consent.source_id == channel.source_id == contact.first_source_id  # LINE, source unknown
    coupon = Coupon.objects.get(contact=contact)
    run_worker()
    greeting, coupon_text = line_api.delivered_to(USER)
    assert greeting == "友だち追加ありがとうございます！"
    assert f"{coupon.code[:5]}-{coupon.code[5:]}" in coupon_text and f"/c/{coupon.code}" in coupon_text
    assert Contact.objects.get().name == "さくら"  # from the LINE profile
    assert LineMessage.objects.get().status == "done"
    assert Fact.objects.filter(kind="line.followed", contact_id=contact.pk).count() == 1


def test_a_new_friend_is_named_from_their_line_profile_at_the_follow(channel, line_api):
    assert post(channel.channel_id, [event("follow")]).status_code == 200
    assert Contact.objects.get().name == demo_name(USER)  # what the stand-in's LINE calls them
    assert ("GET", f"/v2/bot/profile/{USER}", "") in line_api.requests


def test_a_contact_who_has_a_name_keeps_it(channel, line_api):
    contacts.find_or_create_contact(workspace=channel.workspace, addresses=contacts.normalise(line_user_id=USER),
                                    name="山田花子")
    post(channel.channel_id, [event("follow")])
    assert Contact.objects.get().name == "山田花子"
    assert not [r for r in line_api.requests if r[1].startswith("/v2/bot/profile/")]


@pytest.mark.django_db(transaction=True)
def test_a_failed_profile_fetch_keeps_the_follow_unnamed_and_logged_and_the_push_names_them(
        channel, line_api, run_worker, caplog):
    line_api.fail_profiles.append(500)
    with caplog.at_level("WARNING", logger="musubi.capture.line"):
        assert post(channel.channel_id, [event("follow")]).status_code == 200
    contact = Contact.objects.get()
    assert contact.name == "" and ConsentRecord.objects.get(contact=contact).granted
    assert LineMessage.objects.filter(contact=contact).exists()  # the greeting is still queued
    assert f"LINE profile of {USER}" in caplog.text and "LINE 500" in caplog.text
    run_worker()
    assert Contact.objects.get().name == demo_name(USER)  # fetched again before the greeting's push


def test_line_out_of_reach_does_not_lose_the_follow(channel, settings, caplog):
    settings.MUSUBI_LINE_API_HOST = "http://127.0.0.1:9"  # nothing listens on the discard port
    with caplog.at_level("WARNING", logger="musubi.capture.line"):
        assert post(channel.channel_id, [event("follow")]).status_code == 200
    assert Contact.objects.get().name == ""
    assert ConsentRecord.objects.get().granted and "LINE 0" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_event_is_applied_once(channel, line_api, run_worker):
    follow = event("follow", event_id="01HZZZZZZZZZZZZZZZZZZZZZZZ")
    post(channel.channel_id, [follow])
    post(channel.channel_id, [{**follow, "deliveryContext": {"isRedelivery": True}}])
    run_worker()
    assert LineEvent.objects.count() == 1 and ConsentRecord.objects.count() == 1
    assert len(line_api.pushes) == 1


def test_an_event_without_a_proper_user_id_is_refused_alone_and_logged(channel, line_api, caplog):
    message = {**event("message", user="U" + "A" * 32), "replyToken": "r" * 32,
               "message": {"type": "text", "id": "1", "text": "こんにちは", "quoteToken": "q"}}
    nobody = event("unfollow")
    del nobody["source"]["userId"]
    bad = [event("follow", user="U1234"), nobody, message, event("follow", user=" " + USER)]
    with caplog.at_level("WARNING", logger="musubi.capture.line"):
        assert post(channel.channel_id, [*bad, event("follow")]).status_code == 200
    contact = Contact.objects.get()  # the good follow in the same body was applied
    assert contacts.find_by_identity(workspace=channel.workspace, kind="line", value=USER) == contact
    assert ConsentRecord.objects.count() == 1 and not Suppression.objects.exists()
    refused = dict(LineEvent.objects.exclude(error="").values_list("event_id", "error"))
    assert set(refused) == {e["webhookEventId"] for e in bad}
    assert "no userId" in refused[nobody["webhookEventId"]] and "'U1234'" in refused[bad[0]["webhookEventId"]]
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 4 and all("refused" in line for line in logged)
    assert any(bad[0]["webhookEventId"] in line and "'U1234'" in line for line in logged)
    caplog.clear()
    redelivered = [{**e, "deliveryContext": {"isRedelivery": True}} for e in bad]
    assert post(channel.channel_id, redelivered).status_code == 200
    assert LineEvent.objects.count() == 5 and Contact.objects.count() == 1 and not caplog.records


@pytest.mark.parametrize("signature", ["", "bm90LXRoZS1zaWduYXR1cmU=", "not base64 at all"])
def test_a_bad_signature_is_a_400_and_nothing_is_written(channel, signature):
    response = post(channel.channel_id, [event("follow")], signature=signature)
    assert response.status_code == 400
    assert not LineEvent.objects.exists() and not Contact.objects.exists()


def test_a_body_signed_with_another_secret_is_refused(channel):
    assert post(channel.channel_id, [event("follow")], secret="f" * 32).status_code == 400
    assert not Contact.objects.exists()


def test_an_unknown_channel_is_a_404(channel):
    assert post("2999999999", [event("follow")]).status_code == 404
    assert Client().get(f"/line/webhook/{channel.channel_id}").status_code == 405


def test_a_block_suppresses_line_and_adding_the_account_again_restores_it(channel):
    post(channel.channel_id, [event("follow")])
    contact = Contact.objects.get()
    allowed = lambda: contacts.marketing_allowed(workspace=channel.workspace, contact=contact,  # noqa: E731
                                                 channel="line", address=USER)
    assert allowed()
    post(channel.channel_id, [event("unfollow")])
    assert Suppression.objects.get().reason == "blocked" and not allowed()
    post(channel.channel_id, [event("follow", unblocked=True)])
    assert not Suppression.objects.exists() and allowed()
    assert Coupon.objects.count() == 1  # one coupon per person, whatever they do


def test_an_unsubscribe_is_not_undone_by_a_follow(channel):
    contacts.suppress(workspace=channel.workspace, channel="line", value=USER, reason="manual")
    post(channel.channel_id, [event("follow", unblocked=True)])
    assert Suppression.objects.get().reason == "manual"


@pytest.mark.django_db(transaction=True)
def test_a_push_that_went_out_before_a_crash_is_not_delivered_twice(channel, line_api, run_worker):
    post(channel.channel_id, [event("follow")])
    message = LineMessage.objects.get()
    # The worker pushed, then died before recording it: the row is still pending with the same retry key.
    line_sdk.push_texts(access_token=channel.access_token, user_id=USER, texts=message.texts,
                        retry_key=str(message.retry_key))
    run_worker()  # LINE answers 409 for the accepted key: done, and nothing new was delivered
    assert LineMessage.objects.get().status == "done"
    assert len(line_api.pushes) == 1
    assert [k for m, p, k in line_api.requests if p == "/v2/bot/message/push"] == [str(message.retry_key)] * 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_push_is_retried_with_the_same_key_and_a_refused_one_fails(channel, line_api, run_worker):
    post(channel.channel_id, [event("follow")])
    line_api.fail_next.append(500)
    run_worker()
    message = LineMessage.objects.get()
    assert message.status == "pending" and message.attempts == 1
    LineMessage.objects.update(next_attempt_at=message.due_at)  # do not wait for the backoff
    run_worker()
    assert LineMessage.objects.get().status == "done" and len(line_api.pushes) == 1
    post(channel.channel_id, [event("follow", user="U" + "b" * 32)])
    line_api.fail_next.append(400)
    run_worker()
    assert LineMessage.objects.get(user_id="U" + "b" * 32).status == "failed"


def test_the_adapter_tells_a_retryable_failure_from_a_permanent_one(line_api):
    line_api.fail_next.extend([429, 403])
    for status, permanent in ((429, False), (403, True)):
        with pytest.raises(line_sdk.LineError) as failed:
            line_sdk.push_texts(access_token="t" * 40, user_id=USER, texts=["x"], retry_key=str(uuid.uuid4()))
        assert failed.value.status == status and failed.value.permanent is permanent


@pytest.mark.parametrize(("changes", "field"), [
    ({"channel_id": "abc"}, "channel_id"), ({"channel_secret": "short"}, "channel_secret"),
    ({"access_token": "x"}, "access_token"), ({"name": ""}, "name")])
def test_bad_connection_details_are_named(workspace, changes, field):
    values = {"name": "公式", "channel_id": "2000123456", "channel_secret": SECRET, "access_token": "t" * 40}
    with pytest.raises(InvalidInput) as refused:
        line.connect_channel(workspace=workspace, actor=owner_actor(), **(values | changes))
    assert field in refused.value.fields


def test_a_channel_is_connected_once(channel, other_workspace):
    with pytest.raises(Conflict):
        line.connect_channel(workspace=other_workspace, actor=owner_actor(), name="x", channel_id=channel.channel_id,
                             channel_secret=SECRET, access_token="t" * 40)


LOGIN_SECRET = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def linked(channel):
    """The channel with a LINE Login channel, and a table QR link leading to its add-friend address."""
    line.update_channel(workspace=channel.workspace, actor=owner_actor(), line_channel_id=channel.pk,
                        name=channel.name, greeting=channel.greeting, coupon_id=channel.coupon_id,
                        basic_id="@musubi", login_channel_id="2000999999", login_channel_secret=LOGIN_SECRET)
    source = services.create_source(workspace=channel.workspace, actor=owner_actor(), kind="store_spot",
                                    name="テーブル7")
    link = services.create_link(workspace=channel.workspace, actor=owner_actor(), source_id=source.pk,
                                target_url=f"http://testserver/line/join/{channel.channel_id}")
    return link


def scan_and_sign_in(client, link, user):
    """What a guest's phone does: the QR's tracking link, the join address, LINE Login (skipped here: it
    comes back with a code for this user), then the callback."""
    join = client.get(f"/r/{link.code}")["Location"]
    authorize = client.get(join.replace("http://testserver", ""))["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["bot_prompt"] == ["aggressive"] and query["client_id"] == ["2000999999"]
    return client.get("/line/callback", {"state": query["state"][0], "code": f"code-for-{user}"})


def test_a_friend_who_came_through_a_table_qr_is_credited_to_that_table(linked, line_api):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    assert scan_and_sign_in(client, linked, USER).status_code == 200
    post("2000123456", [event("follow")])  # LINE delivers the follow after the sign-in
    contact = Contact.objects.get()
    assert (contact.first_source_id, contact.last_source_id) == (linked.source_id, linked.source_id)
    assert ConsentRecord.objects.get().source_id == linked.source_id


def test_a_follow_that_arrives_before_the_sign_in_returns_is_credited_afterwards(linked, line_api):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    post("2000123456", [event("follow")])  # added on LINE's consent screen: the webhook comes first
    assert Contact.objects.get().last_source_id != linked.source_id  # "LINE, source unknown" for now
    assert scan_and_sign_in(client, linked, USER).status_code == 200
    contact = Contact.objects.get()
    assert (contact.first_source_id, contact.last_source_id) == (linked.source_id, linked.source_id)
    assert Fact.objects.filter(kind="line.attributed", source_id=linked.source_id).count() == 1


def test_a_forged_state_or_a_code_line_refuses_changes_nothing(linked, line_api):
    assert Client().get("/line/callback", {"state": "forged", "code": f"code-for-{USER}"}).status_code == 400
    client = Client()
    join = client.get(f"/line/join/{linked.source.pk}")
    assert join.status_code == 404  # not a channel id
    authorize = client.get("/line/join/2000123456")["Location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    assert client.get("/line/callback", {"state": state, "code": "wrong"}).status_code == 400
    assert not LineVisit.objects.exists()


def test_without_line_login_the_join_address_opens_the_add_friend_page(channel):
    line.update_channel(workspace=channel.workspace, actor=owner_actor(), line_channel_id=channel.pk,
                        name=channel.name, greeting="", coupon_id=None, basic_id="@musubi")
    response = Client().get(f"/line/join/{channel.channel_id}")
    assert response.status_code == 302 and response["Location"] == "https://line.me/R/ti/p/@musubi"


def test_a_join_address_without_an_add_friend_link_says_so_and_tells_the_owner_where_to_set_it(
        channel, owner, outsider_client):
    guest = Client().get(f"/line/join/{channel.channel_id}")
    assert guest.status_code == 409
    page = guest.content.decode()
    assert "友だち追加のリンクがありません" in page and "アカウントのID" in page
    settings_page = f"/w/{channel.workspace.slug}/line/{channel.pk}/"
    assert settings_page not in page  # a guest is not sent to the shop's settings, nor another shop's owner
    assert settings_page not in outsider_client.get(f"/line/join/{channel.channel_id}").content.decode()
    owner_client = Client()
    owner_client.force_login(owner)
    assert settings_page in owner_client.get(f"/line/join/{channel.channel_id}").content.decode()
    assert Client().get("/line/join/2000999999").status_code == 404  # no such channel: the usual page


def test_a_stopped_channel_refuses_its_webhook(channel):
    line.update_channel(workspace=channel.workspace, actor=owner_actor(), line_channel_id=channel.pk,
                        name=channel.name, greeting="", coupon_id=None, active=False)
    assert post(channel.channel_id, [event("follow")]).status_code == 404
    assert not Contact.objects.exists()


IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
CLICKED = {"conditions": [{"type": "event", "kind": "link.clicked", "op": "within", "days": 7}]}


def person_clicks(contact_id):
    return [subject for subject, in Fact.objects.filter(kind="link.clicked", contact_id=contact_id)
            .order_by("occurred_at").values_list("subject_id")]


def test_a_line_friend_s_clicks_count_whichever_comes_first_the_follow_or_the_sign_in(linked, line_api):
    client = Client(HTTP_USER_AGENT=IPHONE)
    assert scan_and_sign_in(client, linked, USER).status_code == 200
    post("2000123456", [event("follow")])
    contact_id = contacts.find_by_identity(workspace=linked.workspace, kind="line", value=USER).pk
    assert person_clicks(contact_id) == [str(Click.objects.get().pk)]

    other = "U" + "b" * 32
    post("2000123456", [event("follow", user=other)])  # the webhook first, then the sign-in
    second = Client(HTTP_USER_AGENT=IPHONE)
    assert scan_and_sign_in(second, linked, other).status_code == 200
    other_id = contacts.find_by_identity(workspace=linked.workspace, kind="line", value=other).pk
    latest = Click.objects.order_by("-pk").first()
    assert person_clicks(other_id) == [str(latest.pk)]
    members = contacts.members(workspace=linked.workspace, definition=CLICKED)
    assert set(members.values_list("pk", flat=True)) == {contact_id, other_id}
