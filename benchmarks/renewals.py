"""B6 — one renewal run over N due subscriptions: every renewal order created (one per cycle) and its payment
queued, through the ``commerce.renewals`` queue exactly as ``musubi worker`` runs it.

The subscriptions pay by bank transfer, so "queued" means the order waits with its reminder and deadline
rows; card charges call Stripe and are measured apart from this (they are network-bound). The baseline,
measured in the same run, is the least work that writes the same orders and lines: ``bulk_create`` of
them, without claims, checks, facts or events. The ratio says what the worker's guarantees cost.

Run through ``bin/bench`` or ``python benchmarks/renewals.py --sizes 1000,4000``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from common import in_own_process, save  # benchmarks/ is the script's directory


def _shop() -> tuple[object, object]:
    from musubi.catalog import services as catalog
    from musubi.commerce import payment_setup
    from musubi.testing.legal import fill_legal_profile
    from musubi.workspaces.models import Workspace
    from musubi.workspaces.services import SYSTEM, create_workspace

    # A fresh workspace per measurement (orders protect what they sold, so an old one is not deleted).
    workspace = create_workspace(slug=f"bench-renewals-{Workspace.objects.count() + 1}", name="B6")
    fill_legal_profile(workspace)
    ws = {"workspace": workspace, "actor": SYSTEM}
    product = catalog.create_product(**ws, name="青汁 30包", tax_category="reduced")
    offer = catalog.create_offer(**ws, product_id=product.pk, name="定期便", role="back", price=4980,
                                 billing="recurring", interval="month")
    catalog.publish_offer(**ws, offer_id=offer.pk)
    payment_setup.save_payment_settings(**ws, bank_transfer_enabled=True, bank_account="銀行")
    return workspace, offer


def measure(kind: str, rows: int) -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.test_settings")
    import django

    django.setup()
    from decimal import Decimal

    from musubi.commerce.models import Order, OrderLine, Renewal, Subscription
    from musubi.contacts.models import Contact
    from musubi.kernel import clock
    from musubi.kernel.worker import drain_queues

    workspace, offer = _shop()
    now = clock.now()
    contacts = Contact.objects.bulk_create(
        (Contact(workspace=workspace, name=f"c{i}", created_at=now) for i in range(rows)), batch_size=5000)
    subscriptions = Subscription.objects.bulk_create(
        (Subscription(workspace=workspace, offer=offer, contact=c, payment_method="bank_transfer", started_at=now)
         for c in contacts), batch_size=5000)
    # Each subscription began with its first order, which a renewal copies the buyer's name and address from.
    Order.objects.bulk_create((Order(
        workspace=workspace, number=f"F{s.pk}", offer=offer, contact_id=s.contact_id, subscription=s, cycle=1,
        payment_method="bank_transfer", subtotal=4980, total=4980, email=f"buyer{s.pk}@example.jp",
        name=f"c{s.pk}", created_at=now) for s in subscriptions), batch_size=5000)
    started = time.perf_counter()
    if kind == "renewals":
        Renewal.objects.bulk_create((Renewal(workspace=workspace, subscription=s, cycle=2, due_at=now,
                                             next_attempt_at=now) for s in subscriptions), batch_size=5000)
        started = time.perf_counter()
        while drain_queues(worker="bench", only={"commerce.renewals"}, max_batches=1000):
            pass
    else:
        orders = Order.objects.bulk_create((Order(
            workspace=workspace, number=f"B{s.pk}", offer=offer, contact_id=s.contact_id, subscription=s, cycle=2,
            payment_method="bank_transfer", subtotal=4980, total=4980, email="", name="", created_at=now)
            for s in subscriptions), batch_size=5000)
        OrderLine.objects.bulk_create((OrderLine(workspace=workspace, order=o, description="定期便", unit_price=4980,
                                                 amount=4980, tax_rate=Decimal("0.08")) for o in orders),
                                      batch_size=5000)
    seconds = time.perf_counter() - started
    made = Order.objects.filter(workspace=workspace, cycle=2).count()
    if made != rows:
        raise SystemExit(f"{kind}: {made} renewal orders for {rows} subscriptions")
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="subscriptions, comma-separated")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    backend = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    print(f"B6 renewal run vs bulk_create of the same orders — {backend}")
    print(f"{'subs':>8} {'renewal s':>10} {'orders/s':>9} {'baseline s':>11} {'ratio':>6} {'peak MB (run/base)':>20}")
    results = []
    for rows in (int(size) for size in args.sizes.split(",")):
        run = in_own_process(__file__, "renewals", str(rows))
        base = in_own_process(__file__, "baseline", str(rows))
        results.append({"subscriptions": rows, "seconds": round(run["seconds"], 2),
                        "baseline_seconds": round(base["seconds"], 2),
                        "ratio": round(run["seconds"] / base["seconds"], 1),
                        "peak_rss_mb": [round(run["peak_rss_mb"], 1), round(base["peak_rss_mb"], 1)]})
        print(f"{rows:>8} {run['seconds']:>10.1f} {rows / run['seconds']:>9,.0f} {base['seconds']:>11.2f} "
              f"{run['seconds'] / base['seconds']:>6.1f} {run['peak_rss_mb']:>10.1f} / {base['peak_rss_mb']:.1f}")
    save(f"renewals-{backend}", results)


if __name__ == "__main__":
    main()
