"""``musubi reencrypt_secrets``: encrypt every stored secret again with the first key of MUSUBI_SECRET_KEYS.

Rotation: generate a key (``--new-key`` prints one), put it first in MUSUBI_SECRET_KEYS keeping the old ones
after it, restart, run this command, then drop the old keys. Each table is rewritten in short transactions;
a row no key opens stops the command with its name, and nothing after it is changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from musubi.kernel import secrets

CHUNK = 500


class Command(BaseCommand):
    help = "Encrypt every stored secret again with the first key of MUSUBI_SECRET_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-key", action="store_true", help="Only print a new random key and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(secrets.new_key())
            return
        if secrets.uses_derived_key():
            self.stdout.write("MUSUBI_SECRET_KEYS is not set: encrypting with the key derived from the secret key.")
        total = 0
        for model, fields in secrets.encrypted_fields():
            ids = list(model._base_manager.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(ids), CHUNK):
                with transaction.atomic():
                    rows = list(model._base_manager.select_for_update().filter(pk__in=ids[start:start + CHUNK])
                                .only("pk", *fields))
                    # Loading decrypted the values with whichever key opens them; saving encrypts with the first.
                    model._base_manager.bulk_update(rows, fields)
                total += len(ids[start:start + CHUNK])
            self.stdout.write(f"{model._meta.label}: {len(ids)} row(s) ({', '.join(fields)})")
        self.stdout.write(f"Done: {total} row(s) encrypted with the first key.")
