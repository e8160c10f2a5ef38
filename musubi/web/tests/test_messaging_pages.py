"""The owner's messaging pages: the sender details, templates with preview and test send, sequences with their
steps and funnel, and the navigation (broadcasts, the outbox and the log are in test_broadcast_pages)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from musubi.capture import line
from musubi.messaging import enrollments
from musubi.messaging.choices import Timing
from musubi.messaging.models import (
    Delivery,
    Enrollment,
    OutboxMessage,
    SenderProfile,
    Sequence,
    Step,
    Template,
)
from musubi.messaging.tests import factories as f
from musubi.workspaces.services import SYSTEM

SENDER = {"from_name": "けんこう堂", "from_address": "news@kenko.example.jp", "reply_to": "",
          "legal_name": "株式会社けんこう堂", "postal_address": "東京都千代田区丸の内1-1-1",
          "contact_info": "03-1234-5678"}
EMAIL = {"name": "お礼", "subject": "{{ name }}様、ありがとうございます",
         "html": '<p>{{ name }}様</p><p><a href="https://kenko.example.jp/guide">ガイド</a></p>', "text": ""}


def _errors(page: str) -> list[str]:
    return re.findall(r'<ul class="errorlist"><li>(.*?)</li>', page)


# --- sender ------------------------------------------------------------------------------------------------

def test_the_owner_fills_in_the_sender_and_the_page_says_email_can_be_sent(owner_client, workspace):
    page = owner_client.get("/w/kenko/messaging/sender/").content.decode()
    assert "特定電子メール法" in page and 'id="sender-missing"' in page
    response = owner_client.post("/w/kenko/messaging/sender/", SENDER)
    assert response.status_code == 302
    profile = SenderProfile.objects.get(workspace=workspace)
    assert (profile.legal_name, profile.contact_info) == ("株式会社けんこう堂", "03-1234-5678")
    page = owner_client.get("/w/kenko/messaging/sender/").content.decode()
    assert 'id="sender-complete"' in page and 'id="sender-missing"' not in page


def test_a_bad_sender_address_is_named_and_nothing_is_saved(owner_client, workspace):
    response = owner_client.post("/w/kenko/messaging/sender/", {**SENDER, "from_address": "not-an-address"})
    assert response.status_code == 400
    page = response.content.decode()
    assert _errors(page) == ["正しいメールアドレスを入力してください。"]
    assert 'aria-describedby="id_from_address_error"' in page
    assert not SenderProfile.objects.exists()


def test_the_page_names_what_is_missing_before_mail_can_go(owner_client, workspace):
    owner_client.post("/w/kenko/messaging/sender/", {**SENDER, "postal_address": "", "contact_info": ""})
    page = owner_client.get("/w/kenko/messaging/sender/").content.decode()
    missing = re.search(r'id="sender-missing">.*?未入力：(.*?)</p>', page, re.S).group(1)
    assert "住所" in missing and "問い合わせ先" in missing and "送信者名" not in missing


def test_staff_read_the_sender_but_cannot_change_it(teammate_client, workspace):
    f.sender(workspace)
    page = teammate_client.get("/w/kenko/messaging/sender/").content.decode()
    assert "株式会社けんこう堂" in page and "<form method=\"post\" class=\"card\">" not in page
    assert teammate_client.post("/w/kenko/messaging/sender/", {**SENDER, "legal_name": "x"}).status_code == 403
    assert SenderProfile.objects.get().legal_name == "株式会社けんこう堂"


# --- templates ---------------------------------------------------------------------------------------------

def test_the_owner_writes_an_email_template_and_edits_it(owner_client, workspace):
    response = owner_client.post("/w/kenko/messaging/templates/new/?channel=email", EMAIL)
    template = Template.objects.get()
    assert response["Location"] == f"/w/kenko/messaging/templates/{template.pk}/"
    assert (template.channel, template.subject) == ("email", "{{ name }}様、ありがとうございます")
    form = owner_client.get(response["Location"]).content.decode()
    assert "{{ name }}" in form and "受信者の名前" in form  # the variables are explained beside the form
    owner_client.post(response["Location"], {**EMAIL, "subject": "ご案内"})
    template.refresh_from_db()
    assert template.subject == "ご案内"
    assert "お礼" in owner_client.get("/w/kenko/messaging/templates/").content.decode()


def test_an_unknown_name_in_a_template_is_named_on_its_field_and_nothing_is_saved(owner_client, workspace):
    response = owner_client.post("/w/kenko/messaging/templates/new/?channel=email",
                                 {**EMAIL, "html": "<p>{{ password }}</p>"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "password という名前は使えません" in page
    assert page.index("password という名前は使えません") > page.index('id="id_html"')  # shown under the HTML field
    assert not Template.objects.exists()


def test_a_line_template_has_up_to_five_bubbles_and_empty_ones_are_left_out(owner_client, workspace):
    owner_client.post("/w/kenko/messaging/templates/new/?channel=line",
                      {"name": "雨の日", "m-count": "3", "m-0-kind": "text", "m-0-text": "☔ 雨の日は生ビール半額！",
                       "m-1-kind": "text", "m-1-text": "", "m-2-kind": "text", "m-2-text": "{{ name }}さんへ"})
    assert Template.objects.get().line_messages == [{"kind": "text", "text": "☔ 雨の日は生ビール半額！"},
                                                    {"kind": "text", "text": "{{ name }}さんへ"}]
    empty = owner_client.post("/w/kenko/messaging/templates/new/?channel=line",
                              {"name": "空", "m-count": "1", "m-0-kind": "text", "m-0-text": ""})
    assert empty.status_code == 400 and "LINEのメッセージを1つ以上追加してください。" in empty.content.decode()
    assert Template.objects.count() == 1


def test_staff_see_templates_but_cannot_write_them(teammate_client, workspace):
    template = f.email_template(workspace)
    assert teammate_client.get(f"/w/kenko/messaging/templates/{template.pk}/").status_code == 200
    assert teammate_client.get("/w/kenko/messaging/templates/new/").status_code == 403
    assert teammate_client.post(f"/w/kenko/messaging/templates/{template.pk}/", EMAIL).status_code == 403
    assert Template.objects.get().name == "お試しセットのお礼"


def test_the_preview_shows_the_mail_as_the_chosen_person_gets_it_and_writes_nothing(owner_client, workspace):
    f.sender(workspace)
    template = f.email_template(workspace)
    person = f.person(workspace, "taro@example.jp", name="佐藤太郎")
    sample = owner_client.get(f"/w/kenko/messaging/templates/{template.pk}/preview/").content.decode()
    assert "山田花子様、ありがとうございます" in sample
    page = owner_client.get(f"/w/kenko/messaging/templates/{template.pk}/preview/?contact={person.pk}").content.decode()
    assert '<strong>佐藤太郎様、ありがとうございます</strong>' in page
    assert 'sandbox="" ' in page and "srcdoc=\"&lt;p&gt;佐藤太郎様&lt;/p&gt;" in page  # the HTML, escaped into srcdoc
    text = re.search(r'<pre class="mail-text" id="preview-text">(.*?)</pre>', page, re.S).group(1)
    assert "送信者：株式会社けんこう堂" in text and "/m/u/0." in text  # the footer the system adds
    assert not Delivery.objects.exists()


def test_a_line_preview_shows_the_bubbles(owner_client, workspace):
    template = f.line_template(workspace, texts=["{{ name }}さん、こんばんは", "今夜は生ビール半額"])
    page = owner_client.get(f"/w/kenko/messaging/templates/{template.pk}/preview/").content.decode()
    assert '<p class="bubble">山田花子さん、こんばんは</p>' in page and "今夜は生ビール半額" in page


def test_a_test_send_mails_one_copy_to_the_typed_address_and_records_nothing(owner_client, workspace, smtp):
    f.sender(workspace)
    template = f.email_template(workspace)
    response = owner_client.post(f"/w/kenko/messaging/templates/{template.pk}/test/", {"to": "me@example.jp"},
                                 follow=True)
    assert "me@example.jp にテストメールを送信しました。" in response.content.decode()
    [message] = smtp.messages
    assert message["To"] == "me@example.jp" and message["Subject"] == "[テスト] 山田花子様、ありがとうございます"
    assert not Delivery.objects.exists() and not OutboxMessage.objects.exists()


def test_a_test_send_is_refused_while_the_sender_is_incomplete(owner_client, workspace, smtp):
    f.sender(workspace, postal_address="")
    template = f.email_template(workspace)
    response = owner_client.post(f"/w/kenko/messaging/templates/{template.pk}/test/", {"to": "me@example.jp"},
                                 follow=True)
    assert "送信前に必要です：住所" in response.content.decode()
    assert smtp.messages == []


def test_a_test_send_to_a_bad_address_names_it(owner_client, workspace, smtp):
    f.sender(workspace)
    template = f.email_template(workspace)
    response = owner_client.post(f"/w/kenko/messaging/templates/{template.pk}/test/", {"to": "me"}, follow=True)
    assert "テスト送信先のアドレスを入力してください。" in response.content.decode()
    assert smtp.messages == []


# --- sequences ---------------------------------------------------------------------------------------------

def _new_sequence(owner_client, **changes):
    data = {"name": "お試し後フォロー", "trigger": "api", "reentry": "never", "quiet_start": "21:00",
            "quiet_end": "08:00", "active": "on", **changes}
    return owner_client.post("/w/kenko/messaging/sequences/new/", data)


def test_the_owner_makes_a_sequence_with_two_steps_and_changes_one(owner_client, workspace):
    day0 = f.email_template(workspace, name="0日目")
    day3 = f.email_template(workspace, name="3日目")
    response = _new_sequence(owner_client)
    sequence = Sequence.objects.get()
    assert response["Location"] == f"/w/kenko/messaging/sequences/{sequence.pk}/"
    url = f"/w/kenko/messaging/sequences/{sequence.pk}/steps/new/"
    owner_client.post(url, {"template": day0.pk, "timing": "after", "delay": "0", "delay_unit": "minutes"})
    owner_client.post(url, {"template": day3.pk, "timing": "day_at", "day": "3", "at_time": "09:00",
                            "delay_unit": "days", "skip_if_tag": "購入済み"})
    first, second = Step.objects.order_by("position")
    assert (second.timing, second.day, second.at_time, second.skip_if_tag) == (
        Timing.DAY_AT, 3, dt.time(9, 0), "購入済み")
    page = owner_client.get(response["Location"]).content.decode()
    assert "登録からすぐ" in page and "3日目 09:00" in page and "タグ「購入済み」がある人には送らない" in page

    owner_client.post(f"/w/kenko/messaging/steps/{first.pk}/", {"template": day0.pk, "timing": "after",
                                                               "delay": "2", "delay_unit": "hours"})
    first.refresh_from_db()
    assert first.delay_minutes == 120
    owner_client.post(f"/w/kenko/messaging/steps/{second.pk}/remove/")
    second.refresh_from_db()
    assert second.archived_at is not None
    assert "3日目 09:00" not in owner_client.get(response["Location"]).content.decode()


def test_a_step_at_a_day_without_a_time_is_named_and_not_added(owner_client, workspace):
    template = f.email_template(workspace)
    _new_sequence(owner_client)
    sequence = Sequence.objects.get()
    response = owner_client.post(f"/w/kenko/messaging/sequences/{sequence.pk}/steps/new/",
                                 {"template": template.pk, "timing": "day_at", "day": "3", "delay_unit": "days"})
    assert response.status_code == 400
    assert _errors(response.content.decode()) == ["時刻を入力してください。"]
    assert not Step.objects.exists()


def test_a_tag_trigger_without_its_tag_is_named_and_nothing_is_saved(owner_client, workspace):
    response = _new_sequence(owner_client, trigger="tag_added", trigger_tag="")
    assert response.status_code == 400
    assert "シーケンスを開始するタグを入力してください。" in _errors(response.content.decode())
    assert not Sequence.objects.exists()


def test_the_settings_of_a_sequence_are_changed_from_its_page(owner_client, workspace):
    point_channel = line.connect_channel(workspace=workspace, actor=SYSTEM, name="本店", channel_id="1234567890",
                                         channel_secret="a" * 32, access_token="t" * 40)
    _new_sequence(owner_client)
    sequence = Sequence.objects.get()
    owner_client.post(f"/w/kenko/messaging/sequences/{sequence.pk}/", {
        "name": "友だち追加後", "trigger": "line_follow", "trigger_line": point_channel.pk, "reentry": "after_finish",
        "quiet_start": "22:00", "quiet_end": "07:30", "goal_tag": "購入済み"})
    sequence.refresh_from_db()
    assert (sequence.trigger, sequence.trigger_ref, sequence.active, sequence.quiet_end, sequence.goal_tag) == (
        "line_follow", point_channel.pk, False, dt.time(7, 30), "購入済み")


@pytest.mark.django_db(transaction=True)
def test_the_funnel_counts_each_step_as_a_table_and_a_chart(owner_client, workspace, smtp, run_worker):
    f.sender(workspace)
    first = f.email_template(workspace, name="ようこそ")
    second = f.email_template(workspace, name="VIPだけ")
    sequence = f.sequence(workspace, steps=[{"template_id": first.pk},
                                            {"template_id": second.pk, "only_if_tag": "VIP"}])
    people = [f.person(workspace, f"p{i}@example.jp", name=f"客{i}") for i in range(3)]
    for person in people:
        enrollments.enroll(sequence=sequence, contact=person)
    run_worker()
    run_worker()
    Delivery.objects.filter(step__position=1, contact=people[0]).update(opened_at=dt.datetime.now(dt.UTC),
                                                                        clicked_at=dt.datetime.now(dt.UTC))
    page = owner_client.get(f"/w/kenko/messaging/sequences/{sequence.pk}/").content.decode()
    rows = re.findall(r"<tr><td><strong>(\d)\.</strong>.*?</td>\s*<td class=\"details\">.*?</td>\s*<td>(\d+)"
                      r".*?</td>\s*<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>\s*<td>(\d+) / (\d+)</td><td>(\d+)</td>",
                      page, re.S)
    assert rows == [("1", "3", "3", "1", "1", "0", "0", "0"), ("2", "3", "0", "0", "0", "3", "0", "0")]
    assert 'aria-label="シーケンスのステップごとの推移"' in page
    assert page.count('class="entered"') == 2 and len(smtp.messages) == 3


def test_a_person_is_put_into_a_sequence_by_hand_once(owner_client, workspace):
    template = f.email_template(workspace)
    sequence = f.sequence(workspace, steps=[{"template_id": template.pk}])
    person = f.person(workspace, "hanako@example.jp")
    url = f"/w/kenko/messaging/sequences/{sequence.pk}/enroll/"
    assert owner_client.post(url, {"address": "Hanako@example.jp"}).status_code == 302
    assert Enrollment.objects.get().contact == person
    again = owner_client.post(url, {"address": "hanako@example.jp"})
    assert again.status_code == 400 and "すでにシーケンス配信中" in again.content.decode()
    unknown = owner_client.post(url, {"address": "nobody@example.jp"})
    assert "このアドレスの人はこのワークスペースにいません。" in unknown.content.decode()
    assert Enrollment.objects.count() == 1


def test_staff_see_a_sequence_but_cannot_change_it(teammate_client, workspace):
    template = f.email_template(workspace)
    sequence = f.sequence(workspace, steps=[{"template_id": template.pk}])
    page = teammate_client.get(f"/w/kenko/messaging/sequences/{sequence.pk}/").content.decode()
    assert "お試しセットのお礼" in page and 'id="add-step"' not in page
    assert teammate_client.post(f"/w/kenko/messaging/sequences/{sequence.pk}/",
                                {"name": "x", "trigger": "api"}).status_code == 403
    assert teammate_client.post(f"/w/kenko/messaging/sequences/{sequence.pk}/steps/new/",
                                {"template": template.pk}).status_code == 403
    assert Sequence.objects.get().name == "お試し後のフォロー" and Step.objects.count() == 1


# --- broadcasts --------------------------------------------------------------------------------------------

def test_the_messaging_pages_are_in_the_navigation(owner_client, workspace):
    page = owner_client.get("/w/kenko/").content.decode()
    assert re.search(r'href="/w/kenko/messaging/sequences/"\s*>配信</a>', page)
    tabs = owner_client.get("/w/kenko/messaging/broadcasts/").content.decode()
    for label in ("ステップ配信", "一斉配信", "テンプレート", "送信者情報", "送信箱", "配信履歴"):
        assert f">{label}</a>" in tabs


def test_a_sequence_is_started_from_a_persons_page(owner_client, teammate_client, workspace):
    template = f.email_template(workspace)
    sequence = f.sequence(workspace, name="手動フォロー", steps=[{"template_id": template.pk}])
    person = f.person(workspace, "hanako@example.jp")
    page = owner_client.get(f"/w/kenko/contacts/{person.pk}/").content.decode()
    assert "シーケンスに入っていません。" in page and f'<option value="{sequence.pk}">手動フォロー</option>' in page
    url = f"/w/kenko/contacts/{person.pk}/sequences/"
    assert teammate_client.post(url, {"sequence": sequence.pk}).status_code == 403
    assert not Enrollment.objects.exists()
    owner_client.post(url, {"sequence": sequence.pk})
    assert Enrollment.objects.get().contact == person
    page = owner_client.get(f"/w/kenko/contacts/{person.pk}/").content.decode()
    assert re.search(r"手動フォロー</a> — 配信中", page)
