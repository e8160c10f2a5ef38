"""B5: CSV import of contacts through the real import path, against COPY of the same rows into a plain table.

A generated file of Japanese contacts (name, email, mobile number, tags, a membership rank; 0.5% of rows repeat
an earlier row's address, 0.5% have a bad email) is imported exactly as an owner's file is: uploaded into the
database, every row checked and staged, duplicates set aside, then the good rows written as contacts with their
identities, tags, a consent record per address and the facts — by the worker's handler, in its chunks, with
"skip bad rows" on. Timed from the upload to the import's end.

The baseline, measured in the same run on the same database: PostgreSQL's COPY of the same file (CSV, with
its encoding) into a plain table of text columns, no checks, no indexes. On SQLite, which has no COPY, the
baseline is the csv module feeding executemany into such a table.

Run through ``bin/bench``; each measurement in its own process, so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import time
from pathlib import Path

from common import in_own_process, save  # benchmarks/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MUSUBI_DATA_DIR", ROOT / "var" / "bench"))
HEADER = ["メールアドレス", "氏名", "電話番号", "タグ", "会員ランク"]
FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
          "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "髙橋", "山﨑", "石川", "前田", "藤田"]
GIVEN = ["太郎", "花子", "翔", "陽菜", "蓮", "結衣", "大翔", "葵", "悠真", "さくら", "健太", "美咲", "直樹", "由美",
         "浩二", "恵子", "拓海", "愛", "誠", "千尋"]
TAGS = ["", "", "VIP", "店頭", "メルマガ", "常連, 店頭", "2024夏", "①号店"]
RANKS = ["", "ゴールド", "シルバー", "ブロンズ"]


def generate(rows: int, encoding: str) -> Path:
    """The benchmark file, made once per size and encoding (seeded, so every run reads the same rows)."""
    path = DATA / f"contacts-{rows}-{encoding}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(rows)  # noqa: S311 — test data, not secrets
    with path.open("w", encoding="utf-8-sig" if encoding == "utf-8" else "cp932", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for i in range(rows):
            n = rng.randrange(i) if i > 100 and rng.random() < 0.005 else i  # a duplicate of an earlier row
            email = f"customer{n}@example.jp" if rng.random() > 0.005 else f"customer{n}@example"  # a bad address
            phone = f"090-{n // 10000 % 10000:04d}-{n % 10000:04d}" if n % 3 else ""
            writer.writerow([email, f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}", phone, rng.choice(TAGS),
                             rng.choice(RANKS)])
    return path


def _reset_tables(connection) -> None:  # type: ignore[no-untyped-def]
    # Children before parents (SQLite checks each DELETE); the other benchmarks of a bin/bench run leave rows here.
    tables = ["imports_importrow", "imports_importblock", "imports_import", "capture_redemption",
              "capture_confirmationmail", "capture_submission", "capture_coupon", "capture_capturepointversion",
              "capture_capturepoint", "capture_linemessage", "capture_lineevent", "capture_linevisit",
              "capture_linechannel", "capture_coupondefinition", "capture_click", "capture_trackinglink",
              "capture_sourcecost", "contacts_segment", "contacts_consentrecord",
              "contacts_contacttag", "contacts_tag", "contacts_identity", "contacts_suppression", "contacts_activity",
              "contacts_contact",
              "kernel_fact", "capture_source", "workspaces_auditentry"]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_contacts")
        cursor.execute("CREATE TABLE bench_plain_contacts (email text, name text, phone text, tags text, rank text)")
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 — our tables


def measure(kind: str, rows: int, encoding: str) -> dict[str, float]:
    """In a child process: one import (``kind=import``) or one baseline load (``kind=copy``) of the file."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from django.db import connection

    from musubi.imports import services
    from musubi.imports.models import Import
    from musubi.kernel.worker import drain_queues
    from musubi.workspaces import services as workspaces
    from musubi.workspaces.models import Workspace

    path = generate(rows, encoding)
    _reset_tables(connection)
    workspace = Workspace.objects.filter(slug="bench").first() or workspaces.create_workspace(slug="bench",
                                                                                              name="Bench")
    connection.close()
    started = time.perf_counter()
    if kind == "import":
        with path.open("rb") as data:
            job = services.upload(workspace=workspace, actor=workspaces.SYSTEM, file_name=path.name,
                                  size=path.stat().st_size, chunks=iter(lambda: data.read(1 << 20), b""))
        services.configure(workspace=workspace, actor=workspaces.SYSTEM, import_id=job.pk, mapping=job.mapping,
                           basis="transaction", note="ベンチマーク用の名簿", tags=["B5"], skip_invalid=True)
        services.start(workspace=workspace, actor=workspaces.SYSTEM, import_id=job.pk, dry_run=False)
        drain_queues(worker="bench", only={"imports"})
        job = Import.objects.get(pk=job.pk)
        if job.phase != "done":
            raise SystemExit(f"import ended {job.phase}: {job.message or job.last_error}")
        detail = {"created": job.created_contacts, "merged": job.merged_contacts, "skipped": job.skipped_rows}
    else:
        detail = {"loaded": _baseline(connection, path, encoding)}
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **detail}


def _baseline(connection, path: Path, encoding: str) -> int:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pg_encoding = "UTF8" if encoding == "utf-8" else "SJIS"
            with path.open("rb") as data, cursor.cursor.copy(
                    f"COPY bench_plain_contacts FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING '{pg_encoding}')"
            ) as copy:
                while block := data.read(1 << 20):
                    copy.write(block)
        else:
            with path.open(encoding="utf-8-sig" if encoding == "utf-8" else "cp932", newline="") as data:
                reader = csv.reader(data)
                next(reader)
                while batch := [row for _, row in zip(range(5000), reader, strict=False)]:
                    cursor.executemany("INSERT INTO bench_plain_contacts VALUES (%s, %s, %s, %s, %s)", batch)
        cursor.execute("SELECT count(*) FROM bench_plain_contacts")
        return int(cursor.fetchone()[0])


def run(kind: str, rows: int, encoding: str) -> dict[str, float]:
    return in_own_process(__file__, kind, str(rows), encoding)


def main() -> None:
    backend = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000" if backend.startswith("postgres") else "20000,60000",
                        help="row counts, comma-separated")
    parser.add_argument("--encodings", default="utf-8,cp932")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("KIND", "ROWS", "ENCODING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.one[2])))
        return

    baseline = "COPY" if backend.startswith("postgres") else "executemany"
    print(f"B5 CSV import vs {baseline} into a plain table — {backend}, median of {args.repeat}")
    print(f"{'rows':>8} {'encoding':>8} {'import rows/s':>14} {'baseline rows/s':>16} {'ratio':>6} "
          f"{'peak MB (import/base)':>22}  result")
    results = []
    for rows in (int(size) for size in args.sizes.split(",")):
        for encoding in args.encodings.split(","):
            imported, base = [], []
            for _ in range(args.repeat):  # interleaved, so a noisy moment hits both
                imported.append(run("import", rows, encoding))
                base.append(run("copy", rows, encoding))
            rate = rows / statistics.median(r["seconds"] for r in imported)
            base_rate = rows / statistics.median(r["seconds"] for r in base)
            peak = (max(r["peak_rss_mb"] for r in imported), max(r["peak_rss_mb"] for r in base))
            last = imported[-1]
            results.append({"rows": rows, "encoding": encoding, "import_rows_per_s": round(rate),
                            "baseline_rows_per_s": round(base_rate), "ratio": round(rate / base_rate, 3),
                            "peak_rss_mb": [round(p, 1) for p in peak],
                            "seconds": [round(r["seconds"], 2) for r in imported],
                            "created": last["created"], "merged": last["merged"], "skipped": last["skipped"]})
            print(f"{rows:>8} {encoding:>8} {rate:>14,.0f} {base_rate:>16,.0f} {rate / base_rate:>6.3f} "
                  f"{peak[0]:>10.1f} / {peak[1]:.1f}  created {last['created']:,}, skipped {last['skipped']:,}")
    save(f"imports-{backend}-{args.sizes.replace(',', '-')}", results)


if __name__ == "__main__":
    main()
