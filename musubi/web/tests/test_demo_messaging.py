"""The demo's education, as a new user meets it: the health-food step mails in the outbox, and the izakaya's
rainy-day LINE broadcast reaching every friend who has not blocked the account (at the LINE stand-in)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from musubi.kernel import clock
from musubi.messaging import broadcasts
from musubi.messaging.models import Broadcast, OutboxMessage
from musubi.web.demo_messaging import FRIENDS

pytestmark = pytest.mark.django_db(transaction=True)
NOON_IN_TOKYO = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def test_the_health_food_sequence_sends_days_0_3_7_to_the_outbox_and_the_rainy_day_broadcast_reaches_line(
        settings, run_worker, line_api):
    settings.MUSUBI_MARKETING_MAIL = "outbox"
    with clock.frozen(NOON_IN_TOKYO):  # outside the sequence's quiet hours (21:00–08:00)
        call_command("demo")
        run_worker()
        run_worker()
    subjects = sorted((m.recipient, m.subject) for m in OutboxMessage.objects.all())
    assert subjects == sorted([
        ("yamada@example.jp", "山田花子様、お試しセットのご請求ありがとうございます"),
        ("yamada@example.jp", "山田花子様、青汁は続けられていますか？"),
        ("yamada@example.jp", "【山田花子様限定】定期便のご案内"),
        ("kato@example.jp", "加藤一郎様、お試しセットのご請求ありがとうございます")])
    raw = OutboxMessage.objects.filter(recipient="kato@example.jp").get().raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw

    rainy = Broadcast.objects.get(name__startswith="雨の日")
    assert broadcasts.open_recipient_count(rainy) == sum(1 for _u, _n, blocked in FRIENDS if not blocked)
    broadcasts.start_run(broadcast=rainy)
    run_worker()
    reached = sorted(u for m in line_api.multicasts for u in m["to"])
    assert reached == sorted(u for u, _n, blocked in FRIENDS if not blocked)
    assert line_api.multicasts[0]["messages"][0]["text"].startswith("☔ 雨の日限定")
