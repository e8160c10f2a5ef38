"""Education in the demo: the health-food shop's step mails after the trial-set request, and the izakaya's
LINE friends with a rainy-day broadcast ready to send.

One health-food customer asked for the trial set eight days ago (the demo moves the clock back while
entering them), so the first worker pass after start-up sends their day 0, day 3 and day 7 mails: they are on
the outbox page at once. New requests made through the form get day 0 at once and the rest on their days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from musubi.capture import line, points
from musubi.contacts import services as contacts
from musubi.kernel import clock
from musubi.messaging import authoring
from musubi.messaging.choices import MessageChannel, Timing, Trigger
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor

GUIDE = "https://sukoyaka.example.jp/aojiru/guide"
SUBSCRIBE = "https://sukoyaka.example.jp/aojiru/teiki"

STEP_MAILS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("お試しセット 0日目：ご請求ありがとうございます", "{{ name }}様、お試しセットのご請求ありがとうございます",
     "<p>{{ name }}様</p><p>すこやか健康食品店です。青汁お試しセット（7包）のご請求ありがとうございます。"
     "2〜3日でお届けします。</p><p>おいしい飲み方は<a href=\"" + GUIDE + "\">こちらのガイド</a>をご覧ください。</p>",
     {"timing": Timing.AFTER, "delay_minutes": 0}),
    ("お試しセット 3日目：続けるコツ", "{{ name }}様、青汁は続けられていますか？",
     "<p>{{ name }}様</p><p>お試しセットはお手元に届きましたか？ 毎朝の一杯を続けるコツは、"
     "牛乳や豆乳で割ること。<a href=\"" + GUIDE + "#recipes\">人気のアレンジ</a>をご紹介します。</p>",
     {"timing": Timing.DAY_AT, "day": 3, "at_time": dt.time(9, 0)}),
    ("お試しセット 7日目：定期便のご案内", "【{{ name }}様限定】定期便のご案内",
     "<p>{{ name }}様</p><p>お試しいただいた方だけに、毎月届く定期便（30包 4,980円・送料無料）をご案内します。"
     "いつでも休止・解約できます。</p><p><a href=\"" + SUBSCRIBE + "\">定期便の詳細を見る</a></p>",
     {"timing": Timing.DAY_AT, "day": 7, "at_time": dt.time(9, 0)}),
]


def health_food_education(workspace: Workspace, actor: Actor, *, trial_offer_id: int) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    authoring.save_sender_profile(**ws, values={
        "from_name": "すこやか健康食品店", "from_address": "info@sukoyaka.example.jp",
        "reply_to": "support@sukoyaka.example.jp", "legal_name": "株式会社すこやか",
        "postal_address": "〒150-0001 東京都渋谷区神宮前1-2-3", "contact_info": "0120-000-123（平日10〜17時）"})
    point = points.create_capture_point(
        **ws, setup=points.Setup(name="お試しセットのご請求", offer_id=trial_offer_id, tags=["お試し請求"]),
        wording=points.Wording(
            headline="青汁お試しセット（7包）980円",
            body="はじめての方限定。ご請求いただいた方には、続け方のコツをメールでお届けします。",
            consent_text="すこやか健康食品店からのお知らせ（メール）を受け取ることに同意します",
            purpose_text="お試しセットの発送と、商品のご案内の配信に利用します。", sender_name="株式会社すこやか",
            privacy_url="https://sukoyaka.example.jp/privacy", tokushoho_url="https://sukoyaka.example.jp/law",
            button_label="お試しセットを申し込む"))
    sequence = authoring.create_sequence(**ws, data=authoring.SequenceInput(
        name="お試しセット後のステップメール", trigger=Trigger.OPTIN, trigger_ref=point.pk, goal_tag="定期便購入",
        active=True))
    for name, subject, html, timing in STEP_MAILS:
        template = authoring.create_template(**ws, data=authoring.TemplateInput(
            name=name, channel=MessageChannel.EMAIL, subject=subject, html=html))
        authoring.add_step(**ws, sequence_id=sequence.pk, data=authoring.StepInput(template_id=template.pk, **timing))
    eight_days_ago = clock.now() - dt.timedelta(days=8)
    with clock.frozen(eight_days_ago):
        points.submit(point=point, entry=points.Entry(email="yamada@example.jp", name="山田花子", consented=True,
                                                      ip_address="192.0.2.20", user_agent="Mozilla/5.0 (iPhone)"))
    points.submit(point=point, entry=points.Entry(email="kato@example.jp", name="加藤一郎", consented=True,
                                                  ip_address="192.0.2.21", user_agent="Mozilla/5.0 (Android)"))


# Friends of the izakaya's LINE account: (LINE user id, display name, blocked the account since).
FRIENDS = [(f"U{n:032x}", name, blocked) for n, (name, blocked) in enumerate(
    [("さとう", False), ("すずき", False), ("たかはし", True), ("たなか", False), ("いとう", False),
     ("わたなべ", False), ("やまもと", True), ("なかむら", False)], start=0xA11CE)]


def izakaya_education(workspace: Workspace, actor: Actor, *, greeting_coupon_id: int) -> None:
    ws: dict[str, Any] = {"workspace": workspace, "actor": actor}
    channel = line.connect_channel(**ws, name="居酒屋むすび 公式LINE", channel_id="1650000001",
                                   channel_secret="0123456789abcdef0123456789abcdef",  # noqa: S106 - made up
                                   access_token="demo-token-for-the-local-line-stand-in-0000000000",  # noqa: S106
                                   greeting="友だち追加ありがとうございます！居酒屋むすびです🍺",
                                   coupon_id=greeting_coupon_id)
    for user_id, name, blocked in FRIENDS:
        contact, _created = contacts.find_or_create_contact(
            workspace=workspace, addresses=contacts.normalise(line_user_id=user_id), name=name)
        contacts.record_consent(workspace=workspace, contact=contact, channel="line", address=user_id,
                                wording=f"LINE friend-add: {channel.name} ({channel.channel_id})")
        if blocked:
            contacts.suppress(workspace=workspace, channel="line", value=user_id, reason="blocked")
    rainy = authoring.create_template(**ws, data=authoring.TemplateInput(
        name="雨の日：生ビール半額", channel=MessageChannel.LINE, line_texts=[
            "☔ 雨の日限定！本日18時から閉店まで、生ビールが半額です。",
            "お席のご予約はこちら👉 https://izakaya-musubi.example.jp/reserve"]))
    authoring.create_broadcast(**ws, data=authoring.BroadcastInput(
        name="雨の日の一斉配信（生ビール半額）", template_id=rainy.pk, line_channel_id=channel.pk))
    authoring.save_sender_profile(**ws, values={
        "from_name": "居酒屋むすび", "from_address": "info@izakaya-musubi.example.jp",
        "legal_name": "株式会社むすびフーズ", "postal_address": "〒530-0001 大阪府大阪市北区梅田1-1-1",
        "contact_info": "06-0000-1234"})
