"""Durable-work claims: rows per second through claim → handle → record, against a plain batched UPDATE.

Every unit of background work in Musubi (a delivery, an import row) goes through ``kernel.claims``: a
claiming transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) that sets a lease, then a second statement
that records the outcome. The baseline, measured in the same run on the same database, is the least work
that can mark the same rows done in the same batches: select a batch of due ids, update them, commit. The
ratio says what leases and fencing cost; the handler does nothing, so nothing else is measured.

Run through ``bin/bench``. Each measurement runs in its own process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

from common import in_own_process, save  # benchmarks/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]
BATCH = 500


def measure(kind: str, rows: int) -> dict[str, float]:
    """In a child process: make ``rows`` due chores, then push them all through ``kind``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from musubi.kernel import clock
    from musubi.kernel.claims import WorkStatus
    from musubi.kernel.tests.chores.models import Chore
    from musubi.kernel.worker import WorkQueue, process_batch

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM chores_choreeffect")
        cursor.execute("DELETE FROM chores_chore")
    now = clock.now()
    Chore.objects.bulk_create((Chore(label="b", due_at=now, next_attempt_at=now) for _ in range(rows)), batch_size=5000)

    started = time.perf_counter()
    if kind == "claims":
        queue = WorkQueue(name="bench", rows=Chore.objects.all, batch_size=BATCH,
                          handle=lambda batch, outcome: outcome.done.extend(row.pk for row in batch))
        while process_batch(queue, worker="bench").claimed:
            pass
    else:
        while True:
            with transaction.atomic():
                ids = list(Chore.objects.filter(status=WorkStatus.PENDING, next_attempt_at__lte=now)
                           .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:BATCH])
                if not ids:
                    break
                Chore.objects.filter(pk__in=ids).update(status=WorkStatus.DONE)
    seconds = time.perf_counter() - started
    done = Chore.objects.filter(status=WorkStatus.DONE).count()
    if done != rows:
        raise SystemExit(f"{kind}: {done} of {rows} rows done")
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(kind: str, rows: int) -> dict[str, float]:
    return in_own_process(__file__, kind, str(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,40000", help="row counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return

    backend = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    print(f"durable-work claims vs plain batched UPDATE — {backend}, batches of {BATCH}, median of {args.repeat}")
    print(f"{'rows':>8} {'claims rows/s':>14} {'baseline rows/s':>16} {'ratio':>6} {'peak MB (claims/base)':>22}")
    results = []
    for rows in (int(size) for size in args.sizes.split(",")):
        claims, base = [], []
        for _ in range(args.repeat):  # interleaved, so a noisy moment hits both
            claims.append(run("claims", rows))
            base.append(run("baseline", rows))
        claims_rate = rows / statistics.median(r["seconds"] for r in claims)
        base_rate = rows / statistics.median(r["seconds"] for r in base)
        peak = (max(r["peak_rss_mb"] for r in claims), max(r["peak_rss_mb"] for r in base))
        results.append({"rows": rows, "claims_rows_per_s": round(claims_rate), "baseline_rows_per_s": round(base_rate),
                         "ratio": round(claims_rate / base_rate, 3), "peak_rss_mb": [round(p, 1) for p in peak]})
        print(f"{rows:>8} {claims_rate:>14,.0f} {base_rate:>16,.0f} {claims_rate / base_rate:>6.2f} "
              f"{peak[0]:>10.1f} / {peak[1]:.1f}")
    save(f"claims-{backend}", results)


if __name__ == "__main__":
    main()
