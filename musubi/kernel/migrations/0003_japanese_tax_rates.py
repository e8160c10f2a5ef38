"""Japan's consumption tax rates since 2014, as data (the reduced rate covers food, drink and newspapers)."""

import datetime as dt
from decimal import Decimal

from django.db import migrations

RATES = [
    ("standard", Decimal("0.08"), dt.date(2014, 4, 1), dt.date(2019, 10, 1)),
    ("standard", Decimal("0.10"), dt.date(2019, 10, 1), None),
    ("reduced", Decimal("0.08"), dt.date(2019, 10, 1), None),
]


def add_rates(apps, schema_editor):
    TaxRate = apps.get_model("kernel", "TaxRate")
    for category, rate, valid_from, valid_until in RATES:
        TaxRate.objects.update_or_create(
            country="JP", category=category, valid_from=valid_from,
            defaults={"rate": rate, "valid_until": valid_until},
        )


def remove_rates(apps, schema_editor):
    apps.get_model("kernel", "TaxRate").objects.filter(country="JP").delete()


class Migration(migrations.Migration):
    dependencies = [("kernel", "0002_initial")]
    operations = [migrations.RunPython(add_rates, remove_rates)]
