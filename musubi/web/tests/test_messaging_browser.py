"""An owner sets up email in a real browser: the sender details, a template checked in the preview, a sequence
with two steps, and a broadcast whose count they see before sending it and whose progress bar they watch
reach 100% while the worker (run in this process) sends to a real SMTP server."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from musubi.messaging.models import Broadcast, Sequence, Step
from musubi.messaging.tests import factories as f
from musubi.web.tests.test_browser import browser, shot, sign_in_as_demo  # noqa: F401 — the fixture
from musubi.workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"locale": "ja-JP", "viewport": {"width": 390, "height": 844}, "is_mobile": True}
DESKTOP = {"locale": "ja-JP", "viewport": {"width": 1100, "height": 760}}


def _sender(page: Page, base: str) -> None:
    page.goto(base + "/w/kenko-shop/messaging/sender/")
    page.get_by_label("送信者名").fill("すこやか健康食品店")
    page.get_by_label("送信元アドレス").fill("news@kenko.example.jp")
    page.get_by_label("送信者の正式名称").fill("株式会社すこやか")
    page.get_by_label("住所").fill("東京都千代田区丸の内1-1-1")
    page.get_by_label("問い合わせ先").fill("03-1234-5678")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#sender-complete")).to_be_visible()


def _template(page: Page, base: str, name: str, subject: str) -> None:
    page.goto(base + "/w/kenko-shop/messaging/templates/")
    page.get_by_role("link", name="新しいメールテンプレート").click()
    page.get_by_label("管理用の名前（お客様には見えません）").fill(name)
    page.get_by_label("件名").fill(subject)
    page.get_by_label("本文（HTML）").fill(
        "<p>{{ name }}様</p><p>お試しセットはいかがでしたか？</p>"
        '<p><a href="https://kenko.example.jp/teiki">定期便のご案内</a></p>')
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".messages")).to_contain_text("テンプレートを保存しました")


def test_an_owner_writes_a_sequence_and_sends_a_broadcast_watching_its_progress(live_server, browser, smtp,  # noqa: F811
                                                                                run_worker):
    call_command("demo")
    workspace = Workspace.objects.get(slug="kenko-shop")
    for i, name in enumerate(["佐藤花子", "鈴木一郎", "高橋美咲"]):
        f.person(workspace, f"guest{i}@example.jp", name=name)
    f.person(workspace, "stopped@example.jp", name="停止中の人", consent=False)
    desktop = browser.new_context(**DESKTOP)
    page = desktop.new_page()
    base = live_server.url
    sign_in_as_demo(page, base)
    page.get_by_role("link", name="すこやか健康食品店").click()
    page.get_by_role("link", name="配信", exact=True).click()
    expect(page.get_by_role("heading", name="ステップ配信")).to_be_visible()

    _sender(page, base)
    shot(page, "msg-01-sender-desktop-ja")
    _template(page, base, "お試し0日目", "{{ name }}様、お試しセットのご注文ありがとうございます")
    page.get_by_role("link", name="プレビューとテスト送信").click()
    page.get_by_label("プレビューする相手").select_option(label="佐藤花子 <guest0@example.jp>")
    page.get_by_role("button", name="表示").click()
    expect(page.locator("#preview-subject")).to_have_text("佐藤花子様、お試しセットのご注文ありがとうございます")
    expect(page.locator("#preview-text")).to_contain_text("送信者：株式会社すこやか")
    expect(page.frame_locator("iframe.mail-html").get_by_text("佐藤花子様")).to_be_visible()
    shot(page, "msg-02-preview-desktop-ja")
    _template(page, base, "お試し3日目", "定期便のご案内")

    page.goto(base + "/w/kenko-shop/messaging/sequences/")
    page.get_by_role("link", name="新しいシーケンス").click()
    page.locator("#id_name").fill("お試しセット後のフォロー")
    page.get_by_label("開始のきっかけ", exact=True).select_option("tag_added")
    expect(page.locator("#id_trigger_tag")).to_be_visible()  # only the chosen trigger's own field is shown
    expect(page.locator("#id_trigger_point")).to_be_hidden()
    page.get_by_label("開始のきっかけ", exact=True).select_option("optin")
    expect(page.locator("#id_trigger_point")).to_be_visible()
    expect(page.locator("#id_trigger_tag")).to_be_hidden()
    page.get_by_label("ゴール：このタグが付いたら終了").fill("定期購入")
    page.get_by_label("稼働中（登録を受け付け、ステップを配信する）").check()
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name="お試しセット後のフォロー")).to_be_visible()
    add = page.locator("#add-step")
    add.get_by_label("メッセージ", exact=True).select_option(label="お試し0日目（メール）")
    add.get_by_role("button", name="ステップを追加").click()
    expect(page.locator(".messages")).to_contain_text("ステップを追加しました")
    add.get_by_label("メッセージ", exact=True).select_option(label="お試し3日目（メール）")
    expect(add.get_by_label("何日目", exact=True)).to_be_hidden()  # a delay is the default timing
    add.get_by_label("N日目の指定時刻").check()
    expect(add.locator("[name=delay]")).to_be_hidden()
    add.get_by_label("何日目", exact=True).fill("3")
    add.get_by_label("時刻", exact=True).fill("09:00")
    add.get_by_role("button", name="ステップを追加").click()
    expect(page.locator("#funnel")).to_contain_text("3日目 09:00")
    sequence = Sequence.objects.get(workspace=workspace, name="お試しセット後のフォロー")
    assert Step.objects.filter(sequence=sequence, archived_at=None).count() == 2
    shot(page, "msg-03-sequence-desktop-ja")

    page.goto(base + "/w/kenko-shop/messaging/broadcasts/")
    page.get_by_role("link", name="新しい一斉配信").click()
    page.get_by_label("管理用の名前（お客様には見えません）").fill("定期便キャンペーンのお知らせ")
    page.get_by_label("メッセージ", exact=True).select_option(label="お試し3日目（メール）")
    page.get_by_role("button", name="保存").click()
    count = int(page.locator("#recipient-count").inner_text().replace(",", ""))
    assert count >= 3  # the three who agreed, and whoever the demo has
    shot(page, "msg-04-broadcast-desktop-ja")
    page.get_by_role("link", name="送信する…").click()
    expect(page.get_by_role("heading", name="この一斉配信を送信しますか？")).to_be_visible()
    page.get_by_role("button", name=f"{count:,}人に今すぐ送信").click()
    expect(page.locator(".messages")).to_contain_text("送信を開始しました（第1回）")
    expect(page.locator(".run progress")).to_be_visible()
    shot(page, "msg-05-run-started-desktop-ja")

    run_worker()  # plans the run and sends
    run_worker()  # marks it finished
    run = page.locator(".run")
    expect(run.locator(".percent")).to_have_text("100%", timeout=15000)  # htmx polls every 2 s
    expect(run.locator(".run-state")).to_have_text("完了", timeout=15000)
    shot(page, "msg-06-run-finished-desktop-ja")
    broadcast = Broadcast.objects.get(workspace=workspace, name="定期便キャンペーンのお知らせ")
    sent_to = {m["To"] for m in smtp.messages if m["Subject"] == "定期便のご案内"}
    assert len(sent_to) == count and "stopped@example.jp" not in sent_to
    assert broadcast.runs.count() == 1

    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    sign_in_as_demo(page, base)
    page.goto(f"{base}/w/kenko-shop/messaging/broadcasts/{broadcast.pk}/")
    expect(page.locator(".run .percent")).to_have_text("100%")
    shot(page, "msg-07-broadcast-phone-ja")
    page.goto(f"{base}/w/kenko-shop/messaging/sequences/{sequence.pk}/")
    expect(page.locator("#funnel")).to_be_visible()
    shot(page, "msg-08-sequence-phone-ja")
    page.goto(f"{base}/w/kenko-shop/messaging/templates/")
    page.get_by_role("link", name="お試し0日目").click()
    page.get_by_role("link", name="プレビューとテスト送信").click()
    shot(page, "msg-09-preview-phone-ja")
    phone.close()
    desktop.close()


def test_the_funnel_chart_is_drawn_for_a_sequence_people_went_through(live_server, browser: Browser,  # noqa: F811
                                                                      smtp, run_worker):
    call_command("demo")
    workspace = Workspace.objects.get(slug="kenko-shop")
    f.sender(workspace)
    first = f.email_template(workspace, name="ようこそ")
    second = f.email_template(workspace, name="VIPの方へ")
    sequence = f.sequence(workspace, steps=[{"template_id": first.pk}, {"template_id": second.pk,
                                                                        "only_if_tag": "VIP"}])
    from musubi.contacts import services as contacts
    from musubi.messaging import enrollments

    for i in range(4):
        person = f.person(workspace, f"p{i}@example.jp", name=f"お客様{i}")
        if i % 2:
            contacts.tag(workspace=workspace, contact=person, names=["VIP"])
        enrollments.enroll(sequence=sequence, contact=person)
    run_worker()
    run_worker()
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    sign_in_as_demo(page, live_server.url)
    page.goto(f"{live_server.url}/w/kenko-shop/messaging/sequences/{sequence.pk}/")
    expect(page.get_by_role("img", name="シーケンスのステップごとの推移")).to_be_visible()
    shot(page, "msg-10-funnel-desktop-ja")
    context.close()
