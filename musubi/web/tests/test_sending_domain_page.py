"""The sending-domain page: the records to add, copyable; a check of DNS in words (against the DNS stand-in);
who signs the mail."""

from __future__ import annotations

import re

import pytest

from musubi.messaging import domains
from musubi.messaging.models import SenderProfile
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/w/kenko/messaging/sender/domain/"


def _text(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S).group(1).strip()


def test_the_records_to_add_and_who_signs(owner_client, workspace, settings):
    settings.MUSUBI_SENDING_IPS = ["192.0.2.25"]
    settings.MUSUBI_SPF_INCLUDES = []
    settings.MUSUBI_MARKETING_MAIL = "smtp"
    f.sender(workspace)
    page = owner_client.get(URL).content.decode()
    assert _text(page, "spf-name") == "kenko.example.jp"
    assert _text(page, "spf-value") == "v=spf1 ip4:192.0.2.25 ~all"
    assert 'id="dkim-none"' in page and 'data-signer="nobody"' in page
    assert _text(page, "dmarc-name") == "_dmarc.kenko.example.jp"
    assert _text(page, "dmarc-value").startswith("v=DMARC1; p=none; rua=mailto:")
    assert 'data-copy="#dkim-value"' not in page and 'data-copy="#dmarc-value"' in page
    made = owner_client.post(URL, follow=True).content.decode()
    profile = SenderProfile.objects.get()
    record = domains.dkim_record(profile)
    assert _text(made, "dkim-name") == record.name and _text(made, "dkim-value") == record.value
    assert 'data-signer="musubi"' in made and profile.dkim_selector in made
    settings.MAILERS = {**settings.MAILERS, "marketing": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert 'data-signer="service"' in owner_client.get(URL).content.decode()
    settings.MUSUBI_MARKETING_MAIL = "outbox"
    assert 'data-signer="outbox"' in owner_client.get(URL).content.decode()


def test_check_now_reads_dns_and_says_what_each_result_means(owner_client, workspace, dns_server, settings):
    settings.MUSUBI_SENDING_IPS = ["192.0.2.25"]
    f.sender(workspace)
    profile = domains.create_dkim_key(workspace=workspace, actor=f.OWNER)
    record = domains.dkim_record(profile)
    dns_server.txt("kenko.example.jp", "v=spf1 ip4:198.51.100.1 -all")
    dns_server.txt(record.name, record.value)
    page = owner_client.get(URL + "?check=1").content.decode()
    spf = re.search(r'id="check-spf">(.*?)</tr>', page, re.S).group(1)
    assert "要修正" in spf and "SPFにメールの送信元がすべては含まれていません。足りないもの： 192.0.2.25" in spf
    assert "DKIMの公開鍵が公開されています。" in page
    assert "DMARCレコードがありません。" in page
    dns_server.txt("kenko.example.jp", "v=spf1 ip4:192.0.2.25 -all")
    dns_server.txt("_dmarc.kenko.example.jp", "v=DMARC1; p=none; rua=mailto:dmarc@kenko.example.jp")
    page = owner_client.get(URL + "?check=1").content.decode()
    assert "SPFはメールを送るサーバーを許可しています。" in page and "監視のみ（p=none）" in page


def test_staff_see_the_records_but_cannot_make_a_key(teammate_client, workspace):
    f.sender(workspace)
    page = teammate_client.get(URL)
    assert page.status_code == 200
    assert '<button type="submit" class="secondary">DKIM鍵を作成' not in page.content.decode()
    assert teammate_client.post(URL).status_code == 403
    assert SenderProfile.objects.get().dkim_private_key == ""


def test_without_a_sender_address_the_page_says_to_set_it_first(owner_client, workspace):
    page = owner_client.get(URL).content.decode()
    assert "先に送信者のメールアドレスを設定してください（レコードはそのドメイン用です）。" in page
