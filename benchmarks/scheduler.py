"""B3 — one scheduler pass over N active sequence enrolments, 1% of them due, on PostgreSQL.

The population (``--sizes``, 1,000,000 by default) is loaded with COPY into a workspace of the benchmark
database: N contacts, one sequence of three email steps, and N enrolments that have had step 1; 1% are due now
and the rest fall due over the next weeks. Then ``VACUUM ANALYZE``, as autovacuum would after a load.

Measured, each in its own process:
- *idle*: a pass when nothing is due (the clock set before the first due time) — the worker does this every
  second, so it must cost next to nothing (target < 2 s);
- *baseline*: the same work written by hand as one set-based SQL statement (deliveries inserted for the due
  enrolments' next step, enrolments moved on), timed and rolled back;
- *pass*: ``messaging.enrollments.run_scheduler`` itself (target < 60 s), and the ratio to the baseline.
Both write the same number of deliveries, and that number is checked.

    bin/bench                                          # with the others
    .venv/bin/python benchmarks/scheduler.py --sizes 100000   # to try it
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from common import in_own_process, save  # noqa: E402 - benchmarks/ is the script's directory

SLUG = "bench-scheduler"
DUE_SHARE = 100  # one in a hundred is due

BY_HAND = """
WITH due AS (
  SELECT e.id, e.workspace_id, e.contact_id, s.id AS step_id, s.template_id
  FROM messaging_enrollment e
  JOIN LATERAL (SELECT st.id, st.template_id FROM messaging_step st
                WHERE st.sequence_id = e.sequence_id AND st.archived_at IS NULL AND st.position > e.last_position
                ORDER BY st.position LIMIT 1) s ON true
  WHERE e.status = 'active' AND e.next_due_at <= %(now)s
), queued AS (
  INSERT INTO messaging_delivery (workspace_id, contact_id, channel, template_id, enrollment_id, step_id, status,
                                  due_at, next_attempt_at, attempts, claimed_by, last_error, address, outcome)
  SELECT workspace_id, contact_id, 'email', template_id, id, step_id, 'pending', %(now)s, %(now)s, 0, '', '', '', ''
  FROM due RETURNING 1
)
UPDATE messaging_enrollment e SET last_position = e.last_position + 1, next_due_at = %(now)s + interval '4 days'
FROM due WHERE e.id = due.id
"""


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("B3 runs on PostgreSQL, in a database whose name contains 'bench' (it replaces data)")


def load(size: int) -> dict[str, object]:
    _django()
    from django.db import connection, transaction

    from musubi.kernel import clock
    from musubi.messaging import authoring
    from musubi.workspaces.choices import Role
    from musubi.workspaces.models import Workspace
    from musubi.workspaces.services import Actor

    owner = Actor(role=Role.OWNER)
    now = clock.now()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_delivery, messaging_enrollment, messaging_step, messaging_sequence, "
                       "messaging_template, kernel_fact, contacts_contact CASCADE")
    workspace, _created = Workspace.objects.get_or_create(slug=SLUG, defaults={"name": "B3"})
    sequence = authoring.create_sequence(workspace=workspace, actor=owner, data=authoring.SequenceInput(
        name="B3", trigger="api", active=True, quiet_start=dt.time(0), quiet_end=dt.time(0)))
    for day in (0, 3, 7):
        template = authoring.create_template(workspace=workspace, actor=owner, data=authoring.TemplateInput(
            name=f"day {day}", channel="email", subject=f"day {day}", text="x"))
        authoring.add_step(workspace=workspace, actor=owner, sequence_id=sequence.pk, data=authoring.StepInput(
            template_id=template.pk, timing="day_at", day=day, at_time=dt.time(9, 0)))
    ws = workspace.pk
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # consistent by construction, as pg_restore
        cursor.execute("SELECT nextval(pg_get_serial_sequence('contacts_contact', 'id'))")
        first = cursor.fetchone()[0]
        raw = cursor.cursor
        stamp = now.isoformat()
        with raw.copy("COPY contacts_contact (id, workspace_id, name, stage, fields, created_at) FROM STDIN") as copy:
            _write(copy, (f"{first + i}\t{ws}\t\tlead\t{{}}\t{stamp}\n" for i in range(size)))
        cursor.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", [first + size])
        with raw.copy("COPY messaging_enrollment (workspace_id, sequence_id, contact_id, round, status, entered_at, "
                      "last_position, next_due_at) FROM STDIN") as copy:
            _write(copy, (f"{ws}\t{sequence.pk}\t{first + i}\t1\tactive\t{stamp}\t1\t"
                          f"{_due(now, i).isoformat()}\n" for i in range(size)))
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "messaging_enrollment", "messaging_delivery", "messaging_step"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"size": size, "load_seconds": round(time.perf_counter() - started, 1), "now": now.isoformat()}


def _due(now: dt.datetime, i: int) -> dt.datetime:
    if i % DUE_SHARE == 0:
        return now - dt.timedelta(minutes=1 + i % 50)
    return now + dt.timedelta(minutes=10 + (i * 7919) % (60 * 24 * 20))


def _write(copy: object, lines: object) -> None:
    buffer = io.StringIO()
    for line in lines:  # type: ignore[attr-defined]
        buffer.write(line)
        if buffer.tell() > 1 << 20:
            copy.write(buffer.getvalue())  # type: ignore[attr-defined]
            buffer = io.StringIO()
    copy.write(buffer.getvalue())  # type: ignore[attr-defined]


def measure(kind: str, now_text: str) -> dict[str, object]:
    _django()
    from django.db import connection, transaction

    from musubi.kernel import clock
    from musubi.messaging import enrollments
    from musubi.messaging.models import Delivery

    now = dt.datetime.fromisoformat(now_text)
    before = Delivery.objects.count()
    if kind == "idle":
        with clock.frozen(now - dt.timedelta(hours=2)):
            started = time.perf_counter()
            moved = enrollments.run_scheduler()
            seconds = time.perf_counter() - started
        queued = Delivery.objects.count() - before
    elif kind == "baseline":
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(BY_HAND, {"now": now})
            moved = cursor.rowcount
            seconds = time.perf_counter() - started
            queued = Delivery.objects.count() - before
            transaction.set_rollback(True)
    else:
        with clock.frozen(now):
            started = time.perf_counter()
            moved = enrollments.run_scheduler()
            seconds = time.perf_counter() - started
        queued = Delivery.objects.count() - before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "seconds": round(seconds, 3), "moved": moved, "queued": queued, "peak_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "NOW"), help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one)))
        return
    if args.load:
        print(json.dumps(load(args.load)))
        return
    results = []
    for size in args.sizes:
        loaded = _run("--load", str(size))
        idle = in_own_process(__file__, "idle", str(loaded["now"]))
        baseline = in_own_process(__file__, "baseline", str(loaded["now"]))
        scheduled = in_own_process(__file__, "pass", str(loaded["now"]))
        if scheduled["queued"] != baseline["queued"] or idle["queued"] != 0:
            raise SystemExit(f"the pass and the baseline disagree: {scheduled} {baseline} {idle}")
        ratio = float(scheduled["seconds"]) / max(float(baseline["seconds"]), 1e-6)
        row = {"enrolments": size, "due": scheduled["queued"], "load_s": loaded["load_seconds"],
               "idle_pass_s": idle["seconds"], "baseline_s": baseline["seconds"], "pass_s": scheduled["seconds"],
               "pass_vs_baseline": round(ratio, 2), "pass_peak_mb": scheduled["peak_mb"]}
        results.append(row)
        print(f"B3 {size:>9,} enrolments, {row['due']:,} due: idle pass {row['idle_pass_s']} s (target < 2), "
              f"pass {row['pass_s']} s (target < 60), hand-written SQL {row['baseline_s']} s, ratio {ratio:.2f}, "
              f"peak {row['pass_peak_mb']} MB", flush=True)
    save("scheduler", results)


def _run(*args: str) -> dict[str, object]:
    import subprocess

    output = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
