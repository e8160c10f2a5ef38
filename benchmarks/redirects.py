"""B1: tracking-link redirects with a durable click record, against a raw ASGI 302 on the same server.

Both run under granian with one worker (or ``--workers N``, both alike) on 127.0.0.1; ``wrk`` sends 64 connections
for a fixed time (two durations, the longer 3× the shorter, so a growing click table shows). Musubi's path
(``capture.fastlink``) answers each request only after its click and fact are committed, in groups. After each
Musubi run the server is stopped and the clicks in the database are counted against the responses wrk received: a
click may exist for a request whose answer wrk did not wait for, but never the other way round.

``--target`` picks what Musubi answers: ``link`` (``/r/<code>``, a tracking link), ``message-click``
(``/m/c/<token>?u=…``, a tracked link in a sent email, spread over ``DELIVERIES`` deliveries by a wrk script; every
answer is an ``email.clicked`` fact) or ``message-open`` (``/m/o/<token>``, the open pixel of the same
deliveries; every answer waits for a commit, but only a delivery's first open is kept, so the table's
"clicks" column counts the deliveries marked opened).

Run through ``bin/bench`` (PostgreSQL, then SQLite). Reports requests/s, p99 latency, the ratio to the
baseline, clicks vs answers, and the server's peak memory (VmHWM of the worker process).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import save  # benchmarks/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 64
# A phone's browser: wrk sends no User-Agent, and a request without one is taken for a bot (kept, not counted).
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
DELIVERIES = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(kind: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    python = sys.executable
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-ws",
              "--log-level", "warning"]
    if kind == "baseline":
        command = [python, "-m", "granian", "--interface", "asgi", *common, "benchmarks.raw_redirect:app"]
    elif kind == "musubi-wsgi":
        command = [python, "-m", "granian", "--interface", "wsgi", "--blocking-threads", "32",
                   "--backpressure", "64", *common, "musubi.config.wsgi:application"]
    else:
        command = [python, "-m", "granian", "--interface", "asgi", *common, "musubi.config.asgi:application"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.settings", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    for _ in range(1200):  # up to a minute: Django's start is slow on a busy machine
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            time.sleep(0.05)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError(f"{kind} server did not start")


def peak_kb(process: subprocess.Popen[bytes]) -> int:
    """The largest VmHWM among the server's processes (granian's worker holds the application)."""
    peaks = []
    children = subprocess.run([shutil.which("pgrep") or "pgrep", "-P", str(process.pid)], capture_output=True,
                              text=True).stdout.split()
    for pid in [process.pid, *map(int, children)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+)", status)
        if match:
            peaks.append(int(match.group(1)))
    return max(peaks, default=0)


def run_wrk(url: str, seconds: int, paths: list[str] | None = None,
            visitors: list[str] | None = None) -> dict[str, float]:
    script = []
    lua = Path(os.environ.get("MUSUBI_DATA_DIR", "var")) / "redirects-paths.lua"
    lua.parent.mkdir(parents=True, exist_ok=True)
    if paths:  # each request picks one of the paths at random
        quoted = ",\n".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
        lua.write_text(f"local paths = {{\n{quoted}\n}}\n"
                       "request = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n")
        script = ["-s", str(lua)]
    elif visitors:  # each request is one of these browsers at random (their visitor cookie)
        quoted = ",\n".join(f'"{v}"' for v in visitors)
        lua.write_text(f"local ids = {{\n{quoted}\n}}\n"
                       "request = function() return wrk.format(\"GET\", nil, {[\"User-Agent\"] = "
                       f"\"{PHONE}\", [\"Cookie\"] = \"mvid=\" .. ids[math.random(#ids)]}}) end\n")
        script = ["-s", str(lua)]
    out = subprocess.run([shutil.which("wrk") or "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          "-H", f"User-Agent: {PHONE}", *script, url],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": requests, "rate": rate, "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else -1,
            "bad": int(errors.group(1)) if errors else 0}


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
    import django

    django.setup()


def setup_link() -> str:
    setup_django()
    from musubi.capture import services
    from musubi.workspaces import services as workspaces
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.filter(slug="bench-links").first() or workspaces.create_workspace(
        slug="bench-links", name="bench", owner=None)
    source = services.create_source(workspace=workspace, actor=workspaces.SYSTEM, kind="store_spot",
                                    name=f"table {time.time_ns()}")
    return services.create_link(workspace=workspace, actor=workspaces.SYSTEM, source_id=source.pk,
                                target_url="https://example.jp/menu").code


def setup_known_visitors() -> list[str]:
    """``DELIVERIES`` browsers, each already tied to a person of its own (as an opt-in from it would)."""
    setup_django()
    import uuid

    from musubi.capture.models import KnownVisitor
    from musubi.contacts.models import Contact
    from musubi.kernel import clock
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.get(slug="bench-links")
    now = clock.now()
    people = Contact.objects.bulk_create([Contact(workspace=workspace, name=f"bench {i}", created_at=now)
                                          for i in range(DELIVERIES)])
    known = KnownVisitor.objects.bulk_create([KnownVisitor(workspace=workspace, visitor_id=str(uuid.uuid4()),
                                                           contact=person, since=now) for person in people])
    return [k.visitor_id for k in known]


def clicks(code: str) -> int:
    from musubi.capture.models import Click

    return Click.objects.filter(link__code=code).count()


def setup_deliveries() -> tuple[int, list[str], list[str]]:
    """A sent broadcast's ``DELIVERIES`` email deliveries: (run id, click paths, open paths)."""
    setup_django()
    from musubi.contacts.models import Contact
    from musubi.kernel import clock
    from musubi.messaging import authoring, tracking
    from musubi.messaging.choices import MessageChannel
    from musubi.messaging.models import BroadcastRun, Delivery
    from musubi.messaging.tests import factories
    from musubi.workspaces import services as workspaces
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.filter(slug="bench-links").first() or workspaces.create_workspace(
        slug="bench-links", name="bench", owner=None)
    template = factories.email_template(workspace)
    broadcast = authoring.create_broadcast(workspace=workspace, actor=factories.OWNER,
                                           data=authoring.BroadcastInput(name="bench", template_id=template.pk))
    now = clock.now()
    run = BroadcastRun.objects.create(workspace=workspace, broadcast=broadcast, number=1, due_at=now, started_at=now,
                                     next_attempt_at=now)
    stamp = time.time_ns()
    people = Contact.objects.bulk_create([Contact(workspace=workspace, name=f"bench {stamp} {i}", created_at=now)
                                          for i in range(DELIVERIES)])
    made = Delivery.objects.bulk_create([
        Delivery(workspace=workspace, contact=person, channel=MessageChannel.EMAIL, template=template, run=run,
                 address=f"p{i}.{stamp}@example.jp", due_at=now, next_attempt_at=now, sent_at=now)
        for i, person in enumerate(people)])
    target = "https://kenko.example.jp/guide?x=1&y=2"
    click_paths = [tracking.click_url(d.pk, target).split("/", 3)[3] for d in made]
    open_paths = [tracking.open_url(d.pk).split("/", 3)[3] for d in made]
    return run.pk, ["/" + p for p in click_paths], ["/" + p for p in open_paths]


def recorded(target: str, run_id: int) -> int:
    from musubi.kernel.models import Fact
    from musubi.messaging.models import Delivery

    ids = [str(pk) for pk in Delivery.objects.filter(run_id=run_id).values_list("pk", flat=True)]
    if target == "message-click":
        return Fact.objects.filter(kind="email.clicked", subject_type="messaging.delivery", subject_id__in=ids).count()
    return Delivery.objects.filter(run_id=run_id).exclude(opened_at=None).count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--durations", default="5,15")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interface", choices=("asgi", "wsgi"), default="wsgi",
                        help="Musubi through its WSGI application (wsgi), or through musubi.config.asgi, as "
                             "musubi serve runs it, where clicks wait on the event loop (asgi)")
    parser.add_argument("--target", choices=("link", "message-click", "message-open"), default="link")
    parser.add_argument("--workers", type=int, default=1,
                        help="granian workers for both servers (musubi serve starts 2, MUSUBI_WEB_WORKERS)")
    parser.add_argument("--visitors", choices=("new", "known"), default="new",
                        help="link clicks by browsers never seen (new: each gets a visitor id, its fact no person) "
                             "or by DELIVERIES browsers each tied to a person (known: their facts carry the person)")
    args = parser.parse_args()
    from django.db import connection

    database = "PostgreSQL" if "postgres" in os.environ.get("DATABASE_URL", "") else "SQLite"
    if args.target != "link" and args.interface != "asgi":
        parser.error("opens and clicks of messages take the fast path only over ASGI")
    print(f"B1 {args.target} ({args.visitors} visitors) on {database}, Musubi over {args.interface.upper()}: "
          f"{CONNECTIONS} connections, granian {args.workers} worker(s) (median of {args.repeat})")
    print(f"{'seconds':>8} {'baseline req/s':>15} {'musubi req/s':>13} {'ratio':>6} {'p99 ms':>8} "
          f"{'answered':>9} {'clicks':>8} {'peak MB base/musubi':>20}")
    results = []
    for seconds in [int(s) for s in args.durations.split(",")]:
        runs = []
        for _ in range(args.repeat):
            port = free_port()
            server = serve("baseline", port, args.workers)
            base = run_wrk(f"http://127.0.0.1:{port}/r/X", seconds)
            base_peak = peak_kb(server)
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
            known = None
            if args.target == "link":
                code, paths = setup_link(), None
                known = setup_known_visitors() if args.visitors == "known" else None
            else:
                run_id, click_paths, open_paths = setup_deliveries()
                paths = click_paths if args.target == "message-click" else open_paths
            connection.close()
            port = free_port()
            server = serve(f"musubi-{args.interface}", port, args.workers)
            ours = run_wrk(f"http://127.0.0.1:{port}/r/{code}" if paths is None else f"http://127.0.0.1:{port}/",
                           seconds, paths, known)
            ours_peak = peak_kb(server)
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)
            counted = clicks(code) if paths is None else recorded(args.target, run_id)
            runs.append({"base": base, "ours": ours, "clicks": counted, "base_peak": base_peak,
                         "ours_peak": ours_peak})
        def med(key: str, side: str, runs: list[dict] = runs) -> float:  # type: ignore[type-arg]
            return statistics.median(r[side][key] for r in runs)

        row = {"seconds": seconds, "baseline_rate": med("rate", "base"), "musubi_rate": med("rate", "ours"),
               "p99_ms": med("p99_ms", "ours"), "answered": sum(r["ours"]["requests"] for r in runs),
               "clicks": sum(r["clicks"] for r in runs), "bad": sum(r["ours"]["bad"] for r in runs),
               "peak_mb_base": max(r["base_peak"] for r in runs) / 1024,
               "peak_mb_musubi": max(r["ours_peak"] for r in runs) / 1024}
        row["ratio"] = row["musubi_rate"] / row["baseline_rate"]
        results.append(row)
        print(f"{seconds:>8} {row['baseline_rate']:>15,.0f} {row['musubi_rate']:>13,.0f} {row['ratio']:>6.2f} "
              f"{row['p99_ms']:>8.1f} {row['answered']:>9,} {row['clicks']:>8,} "
              f"{row['peak_mb_base']:>9.1f}/{row['peak_mb_musubi']:<9.1f}")
        if row["bad"]:
            print(f"         {row['bad']} answers were not redirects")
    suffix = ("" if args.target == "link" else f"-{args.target}") + ("-known" if args.visitors == "known" else "")
    save(f"redirects-{database.lower()}-{args.interface}{suffix}-w{args.workers}", results)


if __name__ == "__main__":
    main()
