"""Opt-in submissions: people registering through a capture point, one transaction each as a web request would.

Each submission goes through ``capture.points.submit`` — addresses normalised, the person found or created,
answers kept, tags, the source credited from the visitor's clicks, the consent record with the version's
wording hash, the coupon issued, four facts. The baseline, measured in the same run on the same database, is
the least a registration can be: one INSERT of the email into a table, committed per person. The ratio says
what the evidence and the bookkeeping cost per opt-in.

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


def measure(kind: str, people: int) -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from musubi.capture import coupons, points
    from musubi.workspaces import services as workspaces

    stamp = time.time_ns()
    if kind == "optin":
        workspace = workspaces.create_workspace(slug=f"bench-optin-{stamp}", name="bench")
        actor = workspaces.SYSTEM
        definition = coupons.create_definition(workspace=workspace, actor=actor, terms=coupons.Terms(
            name="dish", benefit="一品無料", cost=60, valid_days=30))
        point = points.create_capture_point(
            workspace=workspace, actor=actor,
            setup=points.Setup(name="table", incentive="coupon", coupon_id=definition.pk, tags=["卓上QR"]),
            wording=points.Wording(
                headline="登録で一品無料", consent_text="お知らせを受け取ります", purpose_text="クーポンとお知らせ",
                sender_name="株式会社むすび",
                questions=[{"key": "visits", "label": "来店回数", "kind": "single", "required": True,
                            "options": ["初めて", "2回目以上"]}]))
        started = time.perf_counter()
        for n in range(people):
            points.submit(point=point, entry=points.Entry(
                email=f"guest{n}.{stamp}@example.jp", name=f"ゲスト{n}", consented=True,
                answers={"visits": "初めて"}, ip_address="192.0.2.1", user_agent="Mozilla/5.0 (iPhone)"))
    else:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_optin_baseline (id integer PRIMARY KEY, email text)"
                           if connection.vendor == "sqlite" else
                           "CREATE TABLE IF NOT EXISTS bench_optin_baseline (id bigserial PRIMARY KEY, email text)")
        started = time.perf_counter()
        for n in range(people):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO bench_optin_baseline (email) VALUES (%s)", [f"guest{n}.{stamp}@example.jp"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(kind: str, people: int) -> dict[str, float]:
    return in_own_process(__file__, kind, str(people))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1500", help="opt-ins per run, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "PEOPLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    backend = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    print(f"opt-in submissions vs one INSERT per person — {backend}, a transaction each, median of {args.repeat}")
    print(f"{'people':>8} {'opt-ins/s':>10} {'baseline/s':>11} {'ratio':>6} {'ms per opt-in':>14} "
          f"{'peak MB (optin/base)':>21}")
    results = []
    for people in (int(size) for size in args.sizes.split(",")):
        ours, base = [], []
        for _ in range(args.repeat):
            ours.append(run("optin", people))
            base.append(run("baseline", people))
        rate = people / statistics.median(r["seconds"] for r in ours)
        base_rate = people / statistics.median(r["seconds"] for r in base)
        peak = (max(r["peak_rss_mb"] for r in ours), max(r["peak_rss_mb"] for r in base))
        results.append({"people": people, "optins_per_s": round(rate), "baseline_per_s": round(base_rate),
                        "ratio": round(rate / base_rate, 3), "peak_rss_mb": [round(p, 1) for p in peak]})
        print(f"{people:>8} {rate:>10,.0f} {base_rate:>11,.0f} {rate / base_rate:>6.2f} {1000 / rate:>14.2f} "
              f"{peak[0]:>10.1f} / {peak[1]:.1f}")
    save(f"optins-{backend}", results)


if __name__ == "__main__":
    main()
