"""DKIM signatures, each checked with dkimpy's verifier (the reference), before and after a real SMTP server."""

from __future__ import annotations

import re

import dkim as dkimpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musubi.integrations.dkim import DkimSigner, canonical_body, generate_key, public_record
from musubi.integrations.mime import MailSkeleton
from musubi.integrations.smtp_pool import Envelope, Outcome, SmtpServer, send_all

DOMAIN = "kenko.example.jp"
SELECTOR = "musubi2026"
KEY = generate_key()
SIGNER = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_pem=KEY.private_pem)
SKELETON = MailSkeleton(from_address=f"info@{DOMAIN}", from_name="すこやか健康食品店", reply_to=f"support@{DOMAIN}")


def published(record: str = KEY.dns_value):
    """dkimpy's DNS lookup, answered with the record we would publish (split as a DNS host would)."""
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode():
            return record.encode()
        return None
    return dnsfunc


def verify(message: bytes, record: str = KEY.dns_value) -> bool:
    return bool(dkimpy.verify(message, dnsfunc=published(record)))


def mail(n: int = 1, **overrides) -> bytes:
    values = {"to_address": f"user{n}@example.com", "to_name": "山田 太郎", "subject": f"{n}日目のご案内",
              "text": f"山田様\n{n}通目です。", "html": f"<p>{n}通目です。</p>",
              "unsubscribe_url": f"https://{DOMAIN}/u/{n}"}
    return SKELETON.render(**(values | overrides))


def signature_tags(message: bytes) -> dict[str, str]:
    header = message.split(b"\r\nFrom:")[0].decode()
    value = re.sub(r"\s+", "", header.split(":", 1)[1])
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_a_signed_message_verifies():
    signed = SIGNER.sign(mail())

    assert verify(signed)
    assert max(len(line) for line in signed.split(b"\r\n")) <= 78


def test_the_signature_covers_the_headers_a_receiver_relies_on():
    tags = signature_tags(SIGNER.sign(mail()))

    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"]) == (DOMAIN, SELECTOR)
    assert tags["h"].split(":") == ["from", "from", "reply-to", "to", "subject", "date", "message-id",
                                    "list-unsubscribe", "list-unsubscribe-post", "mime-version", "content-type"]


@pytest.mark.parametrize("change", [
    (b"Subject: =?UTF-8?B?", b"Subject: =?UTF-8?B?X"),
    (b"List-Unsubscribe: <https://", b"List-Unsubscribe: <https://evil."),
    (b"\r\nTo: ", b"\r\nTo: x"),
    (b"\r\nReply-To: support@", b"\r\nReply-To: attacker@"),
    (b"\r\n\r\n", b"\r\nFrom: other@example.com\r\n\r\n"),
])
def test_a_changed_signed_header_fails_verification(change):
    signed = SIGNER.sign(mail())
    tampered = signed.replace(*change, 1)

    assert tampered != signed
    assert not verify(tampered)


def test_a_changed_body_fails_verification():
    signed = SIGNER.sign(mail())
    head, body = signed.split(b"\r\n\r\n", 1)

    assert not verify(head + b"\r\n\r\n" + body.replace(b"--=_musubi", b"--=_musubX", 1))


def test_another_key_does_not_verify():
    other = generate_key()

    assert not verify(SIGNER.sign(mail()), record=other.dns_value)


def test_refolding_and_whitespace_changes_on_the_way_still_verify():
    signed = SIGNER.sign(mail())
    refolded = signed.replace(b"\r\nDate: ", b"\r\nDate:    ", 1).replace(b"Reply-To: ", b"Reply-To:\r\n\t", 1)

    assert verify(refolded)


def test_a_message_with_bare_line_feeds_is_signed_as_it_will_travel():
    message = mail().replace(b"\r\n", b"\n")

    assert verify(SIGNER.sign(message).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_the_published_record_is_the_public_half_of_the_key():
    assert public_record(KEY.private_pem) == KEY.dns_value
    assert KEY.dns_value.startswith("v=DKIM1; k=rsa; p=MII")
    assert "BEGIN PRIVATE KEY" in KEY.private_pem


@pytest.mark.parametrize(("body", "expected"), [
    (b"", b""),
    (b"\r\n\r\n", b""),
    (b"a  b \t c \r\n\r\n\r\n", b"a b c\r\n"),
    (b"a\r\n \r\nb", b"a\r\n\r\nb\r\n"),
    (b"end with space ", b"end with space\r\n"),
])
def test_the_body_is_canonicalised_as_rfc_6376_relaxed_says(body, expected):
    assert canonical_body(body) == expected


def test_bad_domains_and_selectors_are_refused():
    with pytest.raises(ValueError, match="selector"):
        DkimSigner(domain=DOMAIN, selector="bad selector", private_pem=KEY.private_pem)
    with pytest.raises(ValueError, match="domain"):
        DkimSigner(domain="ex ample.jp", selector=SELECTOR, private_pem=KEY.private_pem)


@settings(max_examples=25, deadline=None)
@given(subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120),
       text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400))
def test_any_personalised_message_verifies(subject, text):
    assert verify(SIGNER.sign(mail(subject=subject, text=text)))


def test_signatures_still_verify_after_a_real_smtp_server(smtp):
    envelopes = [Envelope(key=n, mail_from=f"bounce@{DOMAIN}", rcpt_to=f"user{n}@example.com",
                          data=SIGNER.sign(mail(n, text=f".{n}\n..dots at line starts\n"))) for n in range(40)]

    results = list(send_all(SmtpServer(host=smtp.host, port=smtp.port, timeout=5), envelopes))

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(smtp.received) == 40
    assert all(verify(received.data) for received in smtp.received)


def test_signing_inside_the_pool_verifies_after_a_real_smtp_server(smtp):
    envelopes = [Envelope(key=n, mail_from=f"bounce@{DOMAIN}", rcpt_to=f"user{n}@example.com", data=mail(n))
                 for n in range(30)]

    results = list(send_all(SmtpServer(host=smtp.host, port=smtp.port, timeout=5), envelopes, sign=SIGNER.sign))

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(smtp.received) == 30
    assert all(received.data.startswith(b"DKIM-Signature: ") for received in smtp.received)
    assert all(verify(received.data) for received in smtp.received)
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(f"{n}日目のご案内" for n in range(30))
