"""B2: a personalised email broadcast to postfix's ``smtp-sink`` on 127.0.0.1, against a bare aiosmtplib
sender of pre-built bytes to the same sink in the same run.

- Baseline: 4 aiosmtplib connections sending pre-built message bytes (1,000 distinct messages of the same
  size as ours, cycled) as fast as the sink takes them — nothing built, nothing signed.
- Musubi: the transport the messaging engine uses. A ``MailSkeleton`` and a ``DkimSigner`` (RSA 2048) made
  once; per recipient the subject, the text and HTML bodies (name, a tracking link, the footer) and the
  unsubscribe URL are filled in, the bytes built and signed, and the envelope handed to
  ``smtp_pool.send_all`` (4 connections), whose results are counted as they come back — all lazily, so peak
  memory must not grow with the number of recipients.

Each measurement runs in its own process (its peak RSS is its own), baseline and Musubi alternating
``--repeat`` times; the medians are reported. ``--full-sizes`` runs the whole engine as well (contacts,
a broadcast run planned into delivery rows, the email queue drained by ``--workers`` worker processes started
together, by default ``MUSUBI_WORKER_PROCESSES`` as ``musubi worker`` would run); ``--sizes ""`` skips the
transport-only runs.

    .venv/bin/python benchmarks/b2_email.py                       # 10,000 and 100,000 recipients
    .venv/bin/python benchmarks/b2_email.py --sizes 2000,6000 --repeat 1
    .venv/bin/python benchmarks/b2_email.py --sizes "" --full-sizes 10000,100000
    .venv/bin/python benchmarks/b2_email.py --sizes "" --full-sizes 10000 --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from common import in_own_process, save  # benchmarks/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONNECTIONS = 4
DOMAIN = "kenko.example.jp"

TEXT = ("{name}様\n\nいつもすこやか健康食品店をご利用いただきありがとうございます。\n"
        + "青汁トライアルセットをお試しいただいた方だけに、本製品を特別価格でご案内しています。\n" * 12
        + "\nご注文はこちら: {link}\n\n――――――――――\nすこやか健康食品店 東京都千代田区千代田1-1\n"
        "お問い合わせ: support@kenko.example.jp\n配信停止: {unsubscribe}\n")
HTML = ("<html><body><p>{name}様</p>"
        + "<p>青汁トライアルセットをお試しいただいた方だけに、本製品を特別価格でご案内しています。</p>" * 12
        + '<p><a href="{link}">ご注文はこちら</a></p><hr><p>すこやか健康食品店 東京都千代田区千代田1-1<br>'
        'お問い合わせ: support@kenko.example.jp<br><a href="{unsubscribe}">配信停止</a></p></body></html>')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        raise SystemExit("smtp-sink not found: install the Debian package postfix (bin/bench does)")
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to keep root privileges
    sink = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "256"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return sink, port
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("smtp-sink did not start")


def personal(n: int) -> dict[str, str]:
    token = f"{n:08d}x{(n * 2654435761) % 4294967296:08x}"
    return {"name": f"山田 太郎{n}", "link": f"https://kenko.example.jp/r/{token}",
            "unsubscribe": f"https://kenko.example.jp/u/{token}"}


def signer_and_skeleton(key=None):  # type: ignore[no-untyped-def]
    from musubi.integrations.dkim import DkimSigner, generate_key
    from musubi.integrations.mime import MailSkeleton

    key = key or generate_key()
    signer = DkimSigner(domain=DOMAIN, selector="bench", private_pem=key.private_pem)
    skeleton = MailSkeleton(from_address=f"info@{DOMAIN}", from_name="すこやか健康食品店",
                            reply_to=f"support@{DOMAIN}")
    return signer, skeleton


def render(n: int, skeleton) -> bytes:  # type: ignore[no-untyped-def]
    fields = personal(n)
    data = skeleton.render(to_address=f"user{n}@example.com", to_name=fields["name"],
                           subject=f"{fields['name']}様、本製品を特別価格でご案内します",
                           text=TEXT.format(**fields), html=HTML.format(**fields),
                           unsubscribe_url=fields["unsubscribe"], message_id=f"b2-{n}")
    return data  # type: ignore[no-any-return]


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def usage(seconds: float, sent: int, cpu_before: float) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "sent": sent, "peak_rss_mb": own.ru_maxrss / 1024,
            "cpu_us_per_msg": (own.ru_utime + own.ru_stime - cpu_before) / sent * 1e6}


def measure_baseline(port: int, count: int) -> dict[str, float]:
    import aiosmtplib

    signer, skeleton = signer_and_skeleton()
    prebuilt = [signer.sign(render(n, skeleton)) for n in range(1000)]
    numbers = iter(range(count))

    async def connection() -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="localhost", start_tls=False)
        await client.connect()
        sent = 0
        for n in numbers:  # shared: each connection takes the next number
            await client.sendmail(f"bounce@{DOMAIN}", [f"user{n}@example.com"], prebuilt[n % 1000])
            sent += 1
        await client.quit()
        return sent

    async def run() -> int:
        return sum(await asyncio.gather(*(connection() for _ in range(CONNECTIONS))))

    started, cpu_before = time.perf_counter(), cpu_seconds()
    sent = asyncio.run(run())
    seconds = time.perf_counter() - started
    if sent != count:
        raise SystemExit(f"baseline sent {sent} of {count}")
    return usage(seconds, sent, cpu_before)


def measure_musubi(port: int, count: int) -> dict[str, float]:
    from musubi.integrations.smtp_pool import Envelope, Outcome, SmtpServer, send_all

    signer, skeleton = signer_and_skeleton()
    server = SmtpServer(host="127.0.0.1", port=port, connections=CONNECTIONS, timeout=30)

    def envelopes() -> Iterator[Envelope]:
        for n in range(count):
            yield Envelope(key=n, mail_from=f"bounce@{DOMAIN}", rcpt_to=f"user{n}@example.com",
                           data=render(n, skeleton))

    started, cpu_before = time.perf_counter(), cpu_seconds()
    sent = sum(1 for result in send_all(server, envelopes(), sign=signer.sign) if result.outcome == Outcome.SENT)
    seconds = time.perf_counter() - started
    if sent != count:
        raise SystemExit(f"Musubi sent {sent} of {count}")
    return usage(seconds, sent, cpu_before)


def measure_full(port: int, count: int, workers: int = 0) -> dict[str, float]:
    """The whole path of a broadcast in the messaging engine: delivery rows claimed by the worker's email
    queue, consent asked per batch, each mail composed from the template (tracked links, footer, unsubscribe),
    built, DKIM-signed, sent over the pool and its outcome recorded at once — what a worker does.

    This process makes the contacts and the broadcast's delivery rows; ``workers`` processes of their own
    (``MUSUBI_WORKER_PROCESSES`` when 0, what ``musubi worker`` starts) then drain the email queue together,
    started at the same moment once each has loaded Django. The CPU time is theirs added up; the peak memory
    the largest of theirs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    os.environ["MUSUBI_TEST_SMTP_PORT"] = str(port)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from musubi.contacts.models import ConsentRecord, Contact, Identity
    from musubi.kernel import clock
    from musubi.kernel.worker import drain_queues
    from musubi.messaging import authoring, broadcasts, domains
    from musubi.messaging.models import Delivery
    from musubi.workspaces.choices import Role
    from musubi.workspaces.models import Workspace
    from musubi.workspaces.services import Actor

    with connection.cursor() as cursor:
        tables = ["messaging_delivery", "messaging_broadcastrun", "messaging_broadcast", "messaging_template",
                  "messaging_senderprofile", "kernel_fact", "contacts_consentrecord", "contacts_identity",
                  "contacts_contact"]
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own tables
    owner = Actor(role=Role.OWNER)
    workspace, _created = Workspace.objects.get_or_create(slug="bench-b2", defaults={"name": "B2"})
    authoring.save_sender_profile(workspace=workspace, actor=owner, values={
        "from_name": "すこやか健康食品店", "from_address": f"news@{DOMAIN}", "legal_name": "株式会社すこやか",
        "postal_address": "東京都千代田区千代田1-1", "contact_info": f"support@{DOMAIN}"})
    domains.create_dkim_key(workspace=workspace, actor=owner)
    now = clock.now()
    for start in range(0, count, 10_000):
        people = Contact.objects.bulk_create([Contact(workspace=workspace, name=f"顧客{n}", created_at=now)
                                              for n in range(start, min(count, start + 10_000))])
        Identity.objects.bulk_create([Identity(workspace=workspace, contact=c, kind="email",
                                               value=f"user{start + i}@example.com", created_at=now)
                                      for i, c in enumerate(people)])
        ConsentRecord.objects.bulk_create([ConsentRecord(workspace=workspace, contact=c, channel="email",
                                                         address=f"user{start + i}@example.com", basis="consent",
                                                         granted=True, at=now) for i, c in enumerate(people)])
    template = authoring.create_template(workspace=workspace, actor=owner, data=authoring.TemplateInput(
        name="B2", channel="email", subject="{{ name }}様へ 特別価格のご案内",
        html=HTML.replace("{name}", "{{ name }}").replace("{link}", "https://kenko.example.jp/order")
        .replace("{unsubscribe}", "https://kenko.example.jp/")))
    broadcast = authoring.create_broadcast(workspace=workspace, actor=owner, data=authoring.BroadcastInput(
        name="B2", template_id=template.pk))
    broadcasts.start_run(broadcast=broadcast)
    drain_queues(worker="bench", only={"messaging.runs"})
    connection.close()
    workers = workers or settings.MUSUBI_WORKER_PROCESSES
    drainers = [subprocess.Popen([sys.executable, __file__, "--one", "drain", str(port), str(count)], cwd=ROOT,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(workers)]
    for drainer in drainers:  # each says "ready" once Django is loaded; then all start at once
        if drainer.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit("a worker process did not start")
    started = time.perf_counter()
    for drainer in drainers:
        drainer.stdin.write("go\n")  # type: ignore[union-attr]
        drainer.stdin.close()  # type: ignore[union-attr]
    outputs = [drainer.stdout.read() for drainer in drainers]  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    if any(drainer.wait() for drainer in drainers):
        raise SystemExit("a worker process failed")
    reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    sent = Delivery.objects.filter(outcome="sent").count()
    if sent != count:
        raise SystemExit(f"the engine sent {sent} of {count}")
    return {"seconds": seconds, "sent": sent, "workers": workers,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
            "setup_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_us_per_msg": sum(r["cpu_seconds"] for r in reports) / sent * 1e6}


def drain(port: int, count: int) -> dict[str, float]:
    """One worker process of :func:`measure_full`: load Django, say ready, wait for the go, drain the email
    queue as ``musubi worker`` does, and report its own CPU time and peak memory."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    os.environ["MUSUBI_TEST_SMTP_PORT"] = str(port)
    import django

    django.setup()
    from musubi.kernel.worker import drain_queues, new_worker_id, warm_up
    from musubi.messaging import transports

    warm_up()  # what `musubi worker` loads when it starts, before its first batch
    print("ready", flush=True)
    sys.stdin.readline()
    cpu_before = cpu_seconds()
    drain_queues(worker=new_worker_id(), only={"messaging.email"}, max_batches=10**9)
    transports.close_pool()
    return {"cpu_seconds": cpu_seconds() - cpu_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_signing() -> dict[str, float]:
    """Signatures a second on one thread: dkimpy's own signer against ours, for the same message and key."""
    import dkim

    from musubi.integrations.dkim import generate_key

    key = generate_key()
    signer, skeleton = signer_and_skeleton(key)
    message = render(1, skeleton)
    private_pem = key.private_pem
    rates = {}
    for name, sign, count in (
            ("dkimpy", lambda: dkim.sign(message, b"bench", DOMAIN.encode(), private_pem.encode(),
                                         include_headers=[h.encode() for h in signer.headers]), 60),
            ("musubi", lambda: signer.sign(message), 600)):
        started = time.perf_counter()
        for _ in range(count):
            sign()
        rates[name] = count / (time.perf_counter() - started)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="recipient counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--full-sizes", default="10000,100000",
                        help="recipient counts for the whole engine with its delivery rows (needs the database)")
    parser.add_argument("--workers", type=int, default=0,
                        help="worker processes draining the email queue together in the whole-engine runs "
                             "(default: MUSUBI_WORKER_PROCESSES, what `musubi worker` starts)")
    parser.add_argument("--one", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, port, count = args.one[0], int(args.one[1]), int(args.one[2])
        if kind == "full":
            print(json.dumps(measure_full(port, count, int(args.one[3]))))
            return
        measure = {"baseline": measure_baseline, "musubi": measure_musubi, "drain": drain}[kind]
        print(json.dumps(measure(port, count)))
        return

    signing = measure_signing()
    print(f"DKIM rsa-sha256 signatures/s on one thread: dkimpy {signing['dkimpy']:,.0f}, "
          f"Musubi {signing['musubi']:,.0f}")
    sink, port = start_sink()
    try:
        print(f"B2 personalised email broadcast to smtp-sink, {CONNECTIONS} connections, DKIM rsa-sha256 "
              f"(median of {args.repeat})")
        print(f"{'recipients':>10} {'baseline msg/s':>15} {'musubi msg/s':>13} {'ratio':>6} "
              f"{'peak MB (musubi/base)':>22} {'CPU µs/msg (musubi/base)':>25}")
        results = []
        for count in (int(size) for size in args.sizes.split(",") if size):
            ours, base = [], []
            for kind, runs in itertools.chain.from_iterable(
                    [("baseline", base), ("musubi", ours)] for _ in range(args.repeat)):
                runs.append(in_own_process(__file__, kind, str(port), str(count)))
            base_rate = count / statistics.median(r["seconds"] for r in base)
            our_rate = count / statistics.median(r["seconds"] for r in ours)
            peak = (max(r["peak_rss_mb"] for r in ours), max(r["peak_rss_mb"] for r in base))
            cpu = (statistics.median(r["cpu_us_per_msg"] for r in ours),
                   statistics.median(r["cpu_us_per_msg"] for r in base))
            results.append({"recipients": count, "baseline_msg_per_s": round(base_rate),
                            "musubi_msg_per_s": round(our_rate), "ratio": round(our_rate / base_rate, 3),
                            "peak_rss_mb": [round(p, 1) for p in peak], "cpu_us_per_msg": [round(c) for c in cpu]})
            print(f"{count:>10,} {base_rate:>15,.0f} {our_rate:>13,.0f} {our_rate / base_rate:>6.2f} "
                  f"{peak[0]:>10.1f} / {peak[1]:<9.1f} {cpu[0]:>12.0f} / {cpu[1]:.0f}")
        full = []
        for count in (int(size) for size in args.full_sizes.split(",") if size):
            base = in_own_process(__file__, "baseline", str(port), str(count))
            engine = in_own_process(__file__, "full", str(port), str(count), str(args.workers))
            ratio = base["seconds"] / engine["seconds"]
            full.append({"recipients": count, "workers": engine["workers"],
                         "baseline_msg_per_s": round(count / base["seconds"]),
                         "engine_msg_per_s": round(count / engine["seconds"]), "ratio": round(ratio, 3),
                         "peak_rss_mb": round(engine["peak_rss_mb"], 1),
                         "setup_peak_rss_mb": round(engine["setup_peak_rss_mb"], 1),
                         "cpu_us_per_msg": [round(engine["cpu_us_per_msg"]), round(base["cpu_us_per_msg"])]})
            print(f"B2 whole engine (delivery rows, consent, tracking, footer, DKIM, outcomes recorded as they come) "
                  f"{count:,}, {engine['workers']} worker process(es): {count / engine['seconds']:,.0f} msg/s "
                  f"against {count / base['seconds']:,.0f}, ratio {ratio:.2f}, peak {engine['peak_rss_mb']:.0f} MB "
                  f"per worker (baseline {base['peak_rss_mb']:.0f} MB), "
                  f"CPU µs/msg {engine['cpu_us_per_msg']:.0f} / {base['cpu_us_per_msg']:.0f}", flush=True)
        save("b2-email", {"signatures_per_s": {k: round(v) for k, v in signing.items()}, "runs": results,
                          "engine": full})
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
