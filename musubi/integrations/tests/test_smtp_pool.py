"""The pooled SMTP sender against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import collections
import contextlib
import email
import email.policy
import time

import pytest

from musubi.integrations.smtp_pool import Envelope, Outcome, SmtpPool, SmtpResult, SmtpServer, send_all
from musubi.testing.smtp import free_port, smtp_server

SENDER = "info@kenko.example.jp"


def message(n: int) -> bytes:
    return (f"From: {SENDER}\r\nTo: user{n}@example.com\r\nSubject: number {n}\r\n"
            f"Message-ID: <m{n}@kenko.example.jp>\r\n\r\nline one\r\n.line starting with a dot {n}\r\n").encode()


def envelopes(count: int, start: int = 0) -> list[Envelope]:
    return [Envelope(key=n, mail_from=SENDER, rcpt_to=f"user{n}@example.com", data=message(n))
            for n in range(start, start + count)]


def server_for(inbox, **options) -> SmtpServer:
    return SmtpServer(host=inbox.host, port=inbox.port, timeout=5, **options)


def by_key(results: list[SmtpResult]) -> dict[int, SmtpResult]:
    keys = [r.key for r in results]
    assert len(keys) == len(set(keys)), "a message was answered twice"
    return {r.key: r for r in results}


def received_keys(inbox) -> collections.Counter[int]:
    return collections.Counter(int(r.rcpt_tos[0].removeprefix("user").split("@")[0]) for r in inbox.received)


def test_many_messages_over_several_connections_all_arrive_once(smtp):
    results = by_key(list(send_all(server_for(smtp, connections=4, max_per_connection=7), envelopes(300))))

    assert set(results) == set(range(300))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert {r.code for r in results.values()} == {250}
    assert received_keys(smtp) == collections.Counter(range(300))


def test_the_bytes_arrive_unchanged_dots_included(smtp):
    list(send_all(server_for(smtp), envelopes(3)))

    assert sorted(r.data for r in smtp.received) == sorted(message(n) for n in range(3))
    parsed = email.message_from_bytes(smtp.received[0].data, policy=email.policy.default)
    assert ".line starting with a dot" in parsed.get_content()


def test_a_refused_recipient_fails_with_its_code_and_the_rest_are_sent(smtp):
    smtp.rcpt_replies["user3@example.com"] = "550 5.1.1 No such user"
    smtp.data_replies["user5@example.com"] = "554 5.7.1 Rejected as spam"

    results = by_key(list(send_all(server_for(smtp, connections=2), envelopes(10))))

    assert (results[3].outcome, results[3].code, results[3].stage) == (Outcome.FAILED, 550, "rcpt")
    assert "5.1.1 No such user" in results[3].detail
    assert (results[5].outcome, results[5].code, results[5].stage) == (Outcome.FAILED, 554, "data")
    assert all(results[n].outcome == Outcome.SENT for n in set(range(10)) - {3, 5})
    assert received_keys(smtp) == collections.Counter(set(range(10)) - {3, 5})


def test_a_temporary_refusal_is_to_be_retried(smtp):
    smtp.rcpt_replies["user1@example.com"] = "451 4.7.1 Greylisted, try again later"
    smtp.data_replies["user2@example.com"] = "452 4.3.1 Insufficient system storage"

    results = by_key(list(send_all(server_for(smtp, connections=1), envelopes(4))))

    assert (results[1].outcome, results[1].code) == (Outcome.RETRY, 451)
    assert (results[2].outcome, results[2].code) == (Outcome.RETRY, 452)
    assert (results[0].outcome, results[3].outcome) == (Outcome.SENT, Outcome.SENT)
    assert received_keys(smtp) == collections.Counter({0: 1, 3: 1})


def test_a_server_that_is_down_answers_retry_for_everything_promptly():
    server = SmtpServer(host="127.0.0.1", port=free_port(), timeout=5, connections=3)

    results = by_key(list(send_all(server, envelopes(500))))

    assert set(results) == set(range(500))
    assert {r.outcome for r in results.values()} == {Outcome.RETRY}
    assert {r.stage for r in results.values()} == {"connect"}
    assert all("cannot connect" in r.detail for r in results.values())


def test_a_dropped_connection_is_reopened_and_the_rest_still_sent(smtp):
    smtp.drop_every = 7  # after every 7th accepted message the server hangs up

    results = by_key(list(send_all(server_for(smtp, connections=3), envelopes(200))))

    arrived = received_keys(smtp)
    assert set(results) == set(range(200))
    assert arrived == collections.Counter(range(200))  # each once
    assert {r.outcome for r in results.values()} == {Outcome.SENT}


def test_a_server_going_down_mid_batch_reports_what_it_accepted_as_sent(smtp):
    def feed():
        for envelope in envelopes(400):
            if envelope.key == 150:
                smtp.stop()
            yield envelope

    results = by_key(list(send_all(server_for(smtp, connections=2), feed())))

    arrived = received_keys(smtp)
    assert set(results) == set(range(400))
    assert max(arrived.values()) == 1
    assert {k for k, r in results.items() if r.outcome == Outcome.SENT} == set(arrived)
    assert {r.outcome for k, r in results.items() if k not in arrived} == {Outcome.RETRY}
    assert len(arrived) >= 100  # what was handed over before the stop went out


def test_closing_the_results_early_stops_the_sending(smtp):
    results = send_all(server_for(smtp, connections=2), envelopes(1000))
    seen = [next(results) for _ in range(10)]
    results.close()
    arrived_at_close = len(smtp.received)
    time.sleep(0.3)

    assert len(seen) == 10
    assert len(smtp.received) == arrived_at_close
    assert arrived_at_close < 1000
    assert arrived_at_close <= 10 + 2 * 16 + 2  # what had been answered, handed over or in progress


def test_the_input_is_read_lazily_with_a_bounded_number_in_flight(smtp):
    taken = 0
    most_ahead = 0
    answered = 0

    def feed():
        nonlocal taken
        for envelope in envelopes(500):
            taken += 1
            yield envelope

    for _ in send_all(server_for(smtp, connections=2), feed(), window=8):
        answered += 1
        most_ahead = max(most_ahead, taken - answered)

    assert answered == 500
    assert most_ahead <= 8


def test_an_error_in_the_callers_iterator_stops_the_pool_and_is_raised(smtp):
    def feed():
        yield from envelopes(5)
        raise LookupError("the database went away")

    with pytest.raises(LookupError):
        list(send_all(server_for(smtp), feed()))
    assert len(smtp.received) <= 5


def test_a_refused_sender_is_retried_not_failed_and_stops_the_rest(smtp):
    async def handle_MAIL(server, session, envelope, address, options):
        return "550 5.7.1 Not allowed to send as this address"

    smtp.handle_MAIL = handle_MAIL  # aiosmtpd looks the hook up on the handler for each command
    results = by_key(list(send_all(server_for(smtp, connections=2), envelopes(50))))

    assert {(r.outcome, r.code) for r in results.values()} == {(Outcome.RETRY, 550)}
    assert all("Not allowed" in r.detail for r in results.values())
    assert smtp.received == []


def test_login_is_used_when_a_username_is_given():
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"kenko" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535 itself

    with (pytest.warns(UserWarning, match="AUTH while not requiring TLS"),
          smtp_server(authenticator=authenticator, auth_required=True, auth_require_tls=False) as inbox):
        good = by_key(list(send_all(server_for(inbox, username="kenko", password="s3cret"), envelopes(3))))
        bad = by_key(list(send_all(server_for(inbox, username="kenko", password="wrong"), envelopes(3, start=3))))

    assert {r.outcome for r in good.values()} == {Outcome.SENT}
    assert {(r.outcome, r.code) for r in bad.values()} == {(Outcome.RETRY, 535)}
    assert received_keys(inbox) == collections.Counter(range(3))


def test_messages_are_signed_on_the_way_when_a_signer_is_given(smtp):
    def sign(data: bytes) -> bytes:
        return b"X-Signed: yes\r\n" + data

    results = by_key(list(send_all(server_for(smtp, connections=2), envelopes(20), sign=sign, sign_threads=2)))

    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert sorted(r.data for r in smtp.received) == sorted(b"X-Signed: yes\r\n" + message(n) for n in range(20))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key, as files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def server_context(certificate):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_is_used_and_the_certificate_checked(certificate):
    with smtp_server(tls_context=server_context(certificate), require_starttls=True) as inbox:
        trusted = by_key(list(send_all(server_for(inbox, security="starttls", ca_file=str(certificate[0])),
                                       envelopes(5))))
        untrusted = by_key(list(send_all(server_for(inbox, security="starttls"), envelopes(3, start=5))))
        plain = by_key(list(send_all(server_for(inbox), envelopes(2, start=8))))

    assert {r.outcome for r in trusted.values()} == {Outcome.SENT}
    assert {(r.outcome, r.stage) for r in untrusted.values()} == {(Outcome.RETRY, "connect")}
    assert {(r.outcome, r.code) for r in plain.values()} == {(Outcome.RETRY, 530)}  # "must issue STARTTLS"
    assert received_keys(inbox) == collections.Counter(range(5))


def test_implicit_tls_is_used(certificate):
    with smtp_server(ssl_context=server_context(certificate)) as inbox:
        results = by_key(list(send_all(server_for(inbox, security="tls", ca_file=str(certificate[0])),
                                       envelopes(4))))

    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert received_keys(inbox) == collections.Counter(range(4))


def test_a_server_that_never_answers_costs_one_timeout_not_one_per_message():
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        server = SmtpServer(host="127.0.0.1", port=silent.getsockname()[1], timeout=0.5, connections=2)

        results = by_key(list(send_all(server, envelopes(200))))
        silent.setblocking(False)
        attempts = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                attempts += 1

    assert {(r.outcome, r.stage) for r in results.values()} == {(Outcome.RETRY, "connect")}
    assert set(results) == set(range(200))
    assert 2 <= attempts <= 4  # a timeout or two per connection before the pool gives up, not one per message


def _count_connections(smtp) -> list[object]:
    """Each connection's peer, once per EHLO (a connection says EHLO once)."""
    peers: list[object] = []

    async def handle_EHLO(server, session, envelope, hostname, responses):
        peers.append(session.peer)
        session.host_name = hostname
        return responses

    smtp.handle_EHLO = handle_EHLO
    return peers


def test_a_pool_sends_batch_after_batch_over_the_connections_it_opened_first(smtp):
    peers = _count_connections(smtp)
    pool = SmtpPool(server_for(smtp, connections=2))
    try:
        first = by_key(list(pool.send(envelopes(40))))
        second = by_key(list(pool.send(envelopes(40, start=40))))
    finally:
        pool.close()

    assert {r.outcome for r in [*first.values(), *second.values()]} == {Outcome.SENT}
    assert received_keys(smtp) == collections.Counter(range(80))
    assert len(peers) == 2


def test_a_pool_closes_idle_connections_and_opens_them_again_when_mail_comes(smtp):
    peers = _count_connections(smtp)
    pool = SmtpPool(server_for(smtp, connections=1), idle_seconds=0.2)
    try:
        list(pool.send(envelopes(3)))
        time.sleep(0.6)
        later = by_key(list(pool.send(envelopes(3, start=3))))
    finally:
        pool.close()

    assert {r.outcome for r in later.values()} == {Outcome.SENT}
    assert received_keys(smtp) == collections.Counter(range(6))
    assert len(peers) == 2


def test_a_pool_tries_a_server_again_in_the_batch_after_it_was_down():
    port = free_port()
    pool = SmtpPool(SmtpServer(host="127.0.0.1", port=port, timeout=5, connections=2))
    try:
        down = by_key(list(pool.send(envelopes(5))))
        with smtp_server_on(port) as inbox:
            up = by_key(list(pool.send(envelopes(5, start=5))))
    finally:
        pool.close()

    assert {(r.outcome, r.stage) for r in down.values()} == {(Outcome.RETRY, "connect")}
    assert {r.outcome for r in up.values()} == {Outcome.SENT}
    assert received_keys(inbox) == collections.Counter(range(5, 10))


@contextlib.contextmanager
def smtp_server_on(port: int):
    from aiosmtpd.controller import Controller

    from musubi.testing.smtp import Inbox

    inbox = Inbox(host="127.0.0.1", port=port)
    inbox.controller = Controller(inbox, hostname=inbox.host, port=port)
    inbox.controller.start()
    try:
        yield inbox
    finally:
        inbox.stop()


def test_a_closed_pool_sends_nothing_more(smtp):
    pool = SmtpPool(server_for(smtp))
    list(pool.send(envelopes(2)))
    pool.close()

    with pytest.raises(RuntimeError, match="closed"):
        list(pool.send(envelopes(2, start=2)))
    assert received_keys(smtp) == collections.Counter(range(2))
