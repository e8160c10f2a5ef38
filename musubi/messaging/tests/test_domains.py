"""The sending domain: a workspace's DKIM key signs its mail (verified by dkimpy on the bytes the SMTP server
received), and the domain check reads the records from DNS."""

from __future__ import annotations

import dkim as dkimpy
import pytest

from musubi.messaging import authoring, broadcasts, domains
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def test_mail_is_signed_with_the_workspace_key_covering_the_unsubscribe_headers(workspace, smtp, run_worker):
    f.sender(workspace)
    f.person(workspace, "hanako@example.jp")
    profile = domains.create_dkim_key(workspace=workspace, actor=f.OWNER)
    record = domains.dkim_record(profile)
    assert record.name == f"{profile.dkim_selector}._domainkey.kenko.example.jp"
    broadcasts.start_run(broadcast=authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=(
        authoring.BroadcastInput(name="x", template_id=f.email_template(workspace).pk))))
    run_worker()
    [received] = smtp.received
    raw = received.data
    published = {record.name + ".": record.value.encode()}
    assert dkimpy.verify(raw, dnsfunc=lambda name, timeout=5: published.get(name.decode(), b""))
    signature = raw.split(b"DKIM-Signature:", 1)[1].split(b"\r\n\r\n", 1)[0].lower()
    assert b"list-unsubscribe" in signature and b"list-unsubscribe-post" in signature


def test_the_domain_check_reads_spf_dkim_and_dmarc(workspace, dns_server, settings):
    settings.MUSUBI_SENDING_IPS = ["192.0.2.25"]
    f.sender(workspace)
    profile = domains.create_dkim_key(workspace=workspace, actor=f.OWNER)
    record = domains.dkim_record(profile)
    dns_server.txt("kenko.example.jp", "v=spf1 ip4:192.0.2.25 -all")
    dns_server.txt(record.name, record.value)
    dns_server.txt("_dmarc.kenko.example.jp", "v=DMARC1; p=none; rua=mailto:dmarc@kenko.example.jp")
    result = domains.check(profile)
    assert (result.spf.status, result.dkim.status, result.dmarc.status) == ("ok", "ok", "ok")
    dns_server.txt("kenko.example.jp", "v=spf1 ip4:198.51.100.1 -all")
    assert domains.check(profile).spf.status != "ok"
