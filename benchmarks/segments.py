"""B4 — a segment's live count against the same query written by hand in SQL, on PostgreSQL.

The segment is the one benchmarks.md names: tag X ∧ clicked a tracking link in the last 30 days ∧ never
paid for an order. ``contacts.services.count`` builds its query from the saved definition through the ORM;
the baseline is one SQL statement written by hand for the same people (merged records and erased people
handled the same way), run through the same connection. Both must give the same number.

The data is loaded with COPY (foreign-key triggers off during the load, as pg_restore does; superuser
needed) into a fresh workspace of the benchmark database (``musubi_bench`` unless
``MUSUBI_BENCH_DB`` names another): N contacts (2% merged into another, 0.5% erased), 20 tags with X on 10%
of the contacts, and 10·N facts over the last 365 days (35% link clicks, 4% paid orders, the rest other
kinds), each naming a random contact — merged records included. Then ``VACUUM ANALYZE``, as autovacuum
would after a load.

Each measurement runs in its own process, so its peak memory (max RSS) is its own: a warm-up, then
``--runs`` timed counts; processes alternate between the two queries ``--repeat`` times and the median of
all timed counts is reported.

    bin/bench                                       # every benchmark; B4 at 300k/3M and 1M/10M
    .venv/bin/python benchmarks/segments.py --quick  # 30k contacts / 300k facts and 100k / 1M, to try it
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from psycopg.copy import QueuedLibpqWriter

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-segments"
TAG = "VIP"
FACT_KINDS = [("link.clicked", 35), ("email.opened", 20), ("contact.tagged", 10), ("email.clicked", 8),
              ("consent.granted", 6), ("optin.submitted", 6), ("coupon.issued", 5), ("coupon.redeemed", 4),
              ("order.paid", 4), ("line.followed", 2)]
DEFINITION = {"match": "all", "conditions": [
    {"type": "tag", "op": "has", "tag": TAG},
    {"type": "event", "kind": "link.clicked", "op": "within", "days": 30},
    {"type": "event", "kind": "order.paid", "op": "never"},
]}

# The same people, written by hand over the tables the count reads (the tag links, the per-person summary of
# facts, the partial index of merged and erased records): the tag's people who clicked in 30 days, less those
# who paid, less the records that are never members. The tag's id is looked up first, which the ORM's join
# does not do.
HAND_WRITTEN = """
SELECT count(*) FROM (
  SELECT ct.contact_id FROM contacts_contacttag ct
  WHERE ct.workspace_id = %(ws)s
    AND ct.tag_id = (SELECT t.id FROM contacts_tag t WHERE t.workspace_id = %(ws)s AND t.name = %(tag)s)
  INTERSECT
  SELECT a.contact_id FROM contacts_activity a
  WHERE a.workspace_id = %(ws)s AND a.kind = 'link.clicked' AND a.last_at >= %(since)s
  EXCEPT
  SELECT a.contact_id FROM contacts_activity a WHERE a.workspace_id = %(ws)s AND a.kind = 'order.paid'
  EXCEPT
  SELECT c.id FROM contacts_contact c
  WHERE c.workspace_id = %(ws)s AND (c.merged_into_id IS NOT NULL OR c.erased_at IS NOT NULL)
) AS members
"""

# For reference, the best statement written by hand over the facts themselves (what count() read before the
# summary existed): a semi-join for the clicks, anti-joins for the orders, merged records looked up.
FROM_FACTS = """
SELECT count(*) FROM contacts_contact c
WHERE c.workspace_id = %(ws)s AND c.merged_into_id IS NULL AND c.erased_at IS NULL
  AND EXISTS (SELECT 1 FROM contacts_contacttag ct JOIN contacts_tag t ON t.id = ct.tag_id
              WHERE ct.contact_id = c.id AND t.workspace_id = %(ws)s AND t.name = %(tag)s)
  AND c.id IN (SELECT f.contact_id FROM kernel_fact f
               WHERE f.workspace_id = %(ws)s AND f.kind = 'link.clicked' AND f.occurred_at >= %(since)s
               UNION ALL
               SELECT m.merged_into_id FROM contacts_contact m JOIN kernel_fact f ON f.contact_id = m.id
               WHERE m.workspace_id = %(ws)s AND m.merged_into_id IS NOT NULL AND f.workspace_id = %(ws)s
                 AND f.kind = 'link.clicked' AND f.occurred_at >= %(since)s)
  AND NOT EXISTS (SELECT 1 FROM kernel_fact f
                  WHERE f.workspace_id = %(ws)s AND f.kind = 'order.paid' AND f.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM contacts_contact m JOIN kernel_fact f ON f.contact_id = m.id
                  WHERE m.workspace_id = %(ws)s AND m.merged_into_id = c.id AND f.workspace_id = %(ws)s
                    AND f.kind = 'order.paid')
"""


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("B4 runs on PostgreSQL, in a database whose name contains 'bench' (it replaces data)")


def load(contacts: int, facts: int, seed: int = 4) -> dict[str, float]:
    """Replace the benchmark workspace's contacts, tags and facts with a generated population, by COPY."""
    _django()
    from django.db import connection, transaction

    from musubi.contacts import activity
    from musubi.contacts.models import Tag
    from musubi.kernel import clock
    from musubi.workspaces.models import Workspace

    rng = random.Random(seed)  # noqa: S311 — reproducible data, not a secret
    now = clock.now()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE kernel_fact, contacts_activity, contacts_contacttag, contacts_segment, "
                       "contacts_identity, contacts_consentrecord, contacts_tag, contacts_contact CASCADE")
    workspace, _created = Workspace.objects.get_or_create(slug=SLUG, defaults={"name": "B4"})
    tags = [Tag.objects.create(workspace=workspace, name=TAG if i == 0 else f"tag-{i}") for i in range(20)]
    ws = workspace.pk
    with transaction.atomic(), connection.cursor() as cursor:
        # As pg_restore does: the rows are consistent by construction, so the per-row foreign-key triggers are
        # off, and the indexes that back no constraint are built after the load — the same ones, from their
        # own definitions, so the schema ends as the migrations made it.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                       "('kernel_fact', 'contacts_contact', 'contacts_contacttag', 'contacts_activity') "
                       "AND indexname NOT IN (SELECT conname FROM pg_constraint)")
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SELECT nextval(pg_get_serial_sequence('contacts_contact', 'id'))")
        first_id = cursor.fetchone()[0]
        ids = range(first_id, first_id + contacts)
        merged = {i for i in ids if i > first_id + 1 and rng.random() < 0.02}
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy("COPY contacts_contact (id, workspace_id, name, stage, fields, merged_into_id, created_at, "
                      "erased_at) FROM STDIN") as copy:
            buffer = io.StringIO()
            for i in ids:
                into = i - 1 if i - 1 not in merged else i - 2
                stage = rng.choices(("lead", "front_customer", "back_customer"), (80, 15, 5))[0]
                created = now - dt.timedelta(seconds=rng.randrange(2 * 365 * 86400))
                erased = now.isoformat() if rng.random() < 0.005 else r"\N"
                buffer.write(f"{i}\t{ws}\t\t{stage}\t{{}}\t{into if i in merged else r'\N'}\t{created.isoformat()}"
                             f"\t{erased}\n")
                if buffer.tell() > 1 << 20:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", [ids[-1]])
        with raw.copy("COPY contacts_contacttag (workspace_id, contact_id, tag_id, added_at) FROM STDIN") as copy:
            buffer = io.StringIO()
            stamp = now.isoformat()
            for i in ids:
                chosen = {tags[0].pk} if rng.random() < 0.10 else set()
                chosen.update(rng.choice(tags[1:]).pk for _ in range(rng.choice((0, 1, 2, 3))))
                for tag_id in chosen:
                    buffer.write(f"{ws}\t{i}\t{tag_id}\t{stamp}\n")
                if buffer.tell() > 1 << 20:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        kinds = [kind for kind, _weight in FACT_KINDS]
        weights = [weight for _kind, weight in FACT_KINDS]
        times = [(now - dt.timedelta(seconds=rng.randrange(365 * 86400))).isoformat() for _ in range(100_000)]
        people = range(first_id, first_id + contacts)
        stamp = now.isoformat()
        # A writer thread sends while this one makes the next rows: the two cores share the load.
        with raw.copy("COPY kernel_fact (workspace_id, kind, occurred_at, recorded_at, contact_id, subject_type, "
                      "subject_id, currency, data) FROM STDIN", writer=QueuedLibpqWriter(raw)) as copy:
            done = 0
            while done < facts:
                chunk = min(100_000, facts - done)
                copy.write("".join(
                    f"{ws}\t{kind}\t{at}\t{stamp}\t{contact}\t\t\t\t{{}}\n"
                    for kind, at, contact in zip(rng.choices(kinds, weights, k=chunk), rng.choices(times, k=chunk),
                                                 rng.choices(people, k=chunk), strict=True)))
                done += chunk
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
    loaded = time.perf_counter() - started
    # The triggers that keep the summary were off during the load (replica role), so it is built as
    # ``musubi rebuild_activity`` would.
    activity.rebuild(workspace_id=ws)
    summarised = time.perf_counter() - started - loaded
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_contact")
        cursor.execute("VACUUM ANALYZE contacts_contacttag")
        cursor.execute("VACUUM ANALYZE contacts_tag")
        cursor.execute("VACUUM ANALYZE kernel_fact")
        cursor.execute("VACUUM ANALYZE contacts_activity")
    return {"load_seconds": loaded, "rows_per_s": (contacts + facts) / loaded, "summary_seconds": summarised,
            "vacuum_seconds": time.perf_counter() - started - loaded - summarised}


def already_loaded(contacts: int, facts: int) -> dict[str, float] | None:
    """``--reuse``: a report saying so when the benchmark workspace already holds this many contacts and facts
    (and the summary of them), else None."""
    _django()
    from musubi.contacts.models import Activity, Contact
    from musubi.kernel.models import Fact
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.filter(slug=SLUG).first()
    if (workspace is None or Contact.objects.for_workspace(workspace).count() != contacts
            or Fact.objects.for_workspace(workspace).count() != facts
            or not Activity.objects.for_workspace(workspace).exists()):
        return None
    return {"reused": True}


def measure(kind: str, runs: int) -> dict[str, object]:
    """In a child process: one warm-up, then ``runs`` timed counts by ``kind``: "orm", "sql" (the baseline) or
    "facts" (the reference statement over the facts). Every process first checks that count() and the
    baseline agree; the "facts" process also that the facts give the same number, which checks the summary
    against the facts it summarises."""
    _django()
    from django.db import connection

    from musubi.contacts import services
    from musubi.contacts.models import Segment
    from musubi.kernel import clock
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.get(slug=SLUG)
    segment = Segment.objects.for_workspace(workspace).get(name="B4")
    # One moment for every count of this process, so both queries look at the same 30 days (clicks leave the
    # window as the benchmark runs).
    now = clock.now()

    def by_hand(statement: str = HAND_WRITTEN) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, {"ws": workspace.pk, "tag": TAG, "since": now - dt.timedelta(days=30)})
            return int(cursor.fetchone()[0])

    def from_facts() -> int:
        return by_hand(FROM_FACTS)

    def by_orm() -> int:
        return services.count(workspace=workspace, segment=segment, now=now)

    result = by_orm()  # also the warm-up: caches, the connection, Django's first query
    other, facts = by_hand(), (from_facts() if kind == "facts" else result)
    if other != result or facts != result:
        raise SystemExit(f"the queries disagree: count() {result}, SQL {other}, from the facts {facts}")
    count = {"orm": by_orm, "sql": by_hand, "facts": from_facts}[kind]
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        count()
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds, "count": result,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def save_segment() -> None:
    _django()
    from musubi.contacts import services
    from musubi.contacts.models import Segment
    from musubi.workspaces.models import Workspace
    from musubi.workspaces.services import SYSTEM

    workspace = Workspace.objects.get(slug=SLUG)
    if not Segment.objects.for_workspace(workspace).filter(name="B4").exists():  # kept by --reuse
        services.create_segment(workspace=workspace, actor=SYSTEM, name="B4", definition=DEFINITION)


def explain() -> str:
    """The plans PostgreSQL chose for the three statements (``--explain``), to see why one is slower."""
    _django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from musubi.contacts import services
    from musubi.contacts.models import Segment
    from musubi.kernel import clock
    from musubi.workspaces.models import Workspace

    workspace = Workspace.objects.get(slug=SLUG)
    segment = Segment.objects.for_workspace(workspace).get(name="B4")
    now = clock.now()
    with CaptureQueriesContext(connection) as queries:
        services.count(workspace=workspace, segment=segment, now=now)
    params = {"ws": workspace.pk, "tag": TAG, "since": now - dt.timedelta(days=30)}
    plans = []
    with connection.cursor() as cursor:
        for title, sql, args in (("COUNT()", queries.captured_queries[-1]["sql"], None),
                                 ("HAND-WRITTEN", HAND_WRITTEN, params), ("FROM THE FACTS", FROM_FACTS, params)):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, args)
            plans.append(f"{title}:\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def child(*args: str) -> str:
    done = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300000:3000000,1000000:10000000",
                        help="contacts:facts pairs, comma-separated")
    parser.add_argument("--quick", action="store_true", help="30k/300k and 100k/1M instead")
    parser.add_argument("--repeat", type=int, default=3, help="processes per query and size, alternating")
    parser.add_argument("--runs", type=int, default=5, help="timed counts per process")
    parser.add_argument("--explain", action="store_true", help="print both plans at each size")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the data already loaded when it has the size asked for (1M/10M takes minutes)")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        what, *rest = args.one
        if what == "load":
            print(json.dumps(load(int(rest[0]), int(rest[1]))))
        elif what == "loaded":
            print(json.dumps(already_loaded(int(rest[0]), int(rest[1]))))
        elif what == "save":
            save_segment()
            print("{}")
        elif what == "explain":
            print(json.dumps(explain()))
        else:
            print(json.dumps(measure(what, int(rest[0]))))
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("B4 (segment count) runs on PostgreSQL only: skipped on SQLite")
        return
    sizes = "30000:300000,100000:1000000" if args.quick else args.sizes
    print(f"B4 segment count (tag ∧ clicked in 30 days ∧ never paid) vs hand-written SQL — PostgreSQL, "
          f"median of {args.repeat}×{args.runs} counts")
    print(f"{'contacts':>9} {'facts':>11} {'members':>8} {'count() ms':>11} {'SQL ms':>8} {'ratio':>6} "
          f"{'peak MB (count/SQL)':>20} {'from facts ms':>14} {'load avg':>9}")
    results = []
    for pair in sizes.split(","):
        contacts, facts = (int(n) for n in pair.split(":"))
        loaded = (json.loads(child("--one", "loaded", str(contacts), str(facts))) if args.reuse else None) or \
            json.loads(child("--one", "load", str(contacts), str(facts)))
        child("--one", "save")
        if args.explain:
            print(json.loads(child("--one", "explain")))
        orm: list[dict] = []
        sql: list[dict] = []
        facts_: list[dict] = []
        for _ in range(args.repeat):
            orm.append(json.loads(child("--one", "orm", str(args.runs))))
            sql.append(json.loads(child("--one", "sql", str(args.runs))))
            if not facts_:  # a reference only, and seconds a count: measured in one process
                facts_.append(json.loads(child("--one", "facts", str(args.runs))))
        counts = {r["count"] for r in orm + sql}  # each process checked that both queries agree
        orm_ms = 1000 * statistics.median(s for r in orm for s in r["seconds"])
        sql_ms = 1000 * statistics.median(s for r in sql for s in r["seconds"])
        facts_ms = 1000 * statistics.median(s for r in facts_ for s in r["seconds"])
        peak = (max(r["peak_rss_mb"] for r in orm), max(r["peak_rss_mb"] for r in sql))
        results.append({"contacts": contacts, "facts": facts, "members": max(counts), "count_ms": round(orm_ms, 1),
                        "sql_ms": round(sql_ms, 1), "ratio": round(orm_ms / sql_ms, 3),
                        "from_facts_ms": round(facts_ms, 1), "load_average": os.getloadavg(),
                        "summary_seconds": loaded.get("summary_seconds"),
                        "peak_rss_mb": [round(p, 1) for p in peak],
                        "load_rows_per_s": round(loaded.get("rows_per_s", 0)),
                        "runs_ms": {"count": [round(1000 * s, 1) for r in orm for s in r["seconds"]],
                                    "sql": [round(1000 * s, 1) for r in sql for s in r["seconds"]],
                                    "facts": [round(1000 * s, 1) for r in facts_ for s in r["seconds"]]}})
        last = results[-1]
        print(f"{contacts:>9,} {facts:>11,} {last['members']:>8,} {orm_ms:>11.1f} {sql_ms:>8.1f} "
              f"{orm_ms / sql_ms:>6.2f} {peak[0]:>9.1f} / {peak[1]:<8.1f} {facts_ms:>14.1f} "
              f"{os.getloadavg()[0]:>9.2f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "segments-postgresql.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
