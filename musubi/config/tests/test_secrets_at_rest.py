"""Secrets are encrypted in the database: the columns hold no plain text, keys rotate, a missing key is named
rather than answered with garbage, and the migration encrypts rows saved before (and its reverse decrypts)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from musubi.capture import line
from musubi.capture.models import LineChannel
from musubi.capture.tests.factories import owner_actor
from musubi.commerce import outgoing
from musubi.commerce.models import PaymentSettings, WebhookEndpoint
from musubi.kernel import secrets
from musubi.messaging import domains
from musubi.messaging.models import SenderProfile
from musubi.workspaces.services import SYSTEM

LINE_SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "line-access-token-" + "x" * 30
STRIPE_KEY = "sk_test_" + "k" * 30


def raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - names from the test
        return cursor.fetchone()[0]


@pytest.fixture
def stored(workspace):
    channel = line.connect_channel(workspace=workspace, actor=owner_actor(), name="公式", channel_id="2000123456",
                                   channel_secret=LINE_SECRET, access_token=TOKEN,
                                   login_channel_id="2000999999", login_channel_secret="f" * 32)
    payment = PaymentSettings.objects.create(workspace=workspace, stripe_secret_key=STRIPE_KEY,
                                             stripe_webhook_secret="whsec_" + "w" * 30)
    hook_secret = outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url="http://127.0.0.1:9/hook")
    SenderProfile.objects.create(workspace=workspace, from_address="info@izakaya.example.jp")
    domains.create_dkim_key(workspace=workspace, actor=SYSTEM)
    return {"channel": channel, "payment": payment, "hook_secret": hook_secret,
            "profile": SenderProfile.objects.get(workspace=workspace),
            "hook": WebhookEndpoint.objects.get(workspace=workspace)}


def plain_values(stored):
    return [
        ("capture_linechannel", "channel_secret", stored["channel"].pk, LINE_SECRET),
        ("capture_linechannel", "access_token", stored["channel"].pk, TOKEN),
        ("capture_linechannel", "login_channel_secret", stored["channel"].pk, "f" * 32),
        ("commerce_paymentsettings", "stripe_secret_key", stored["payment"].pk, STRIPE_KEY),
        ("commerce_paymentsettings", "stripe_webhook_secret", stored["payment"].pk, "whsec_" + "w" * 30),
        ("commerce_webhookendpoint", "secret", stored["hook"].pk, stored["hook_secret"]),
        ("messaging_senderprofile", "dkim_private_key", stored["profile"].pk, stored["profile"].dkim_private_key),
    ]


def test_every_secret_column_holds_ciphertext_and_the_code_reads_plain_text(stored):
    for table, column, pk, plain in plain_values(stored):
        value = raw(table, column, pk)
        assert value.startswith("fernet:"), (table, column)
        assert plain not in value and plain[8:30] not in value
    channel = LineChannel.objects.get()
    assert (channel.channel_secret, channel.access_token) == (LINE_SECRET, TOKEN)
    assert PaymentSettings.objects.get().stripe_secret_key == STRIPE_KEY
    assert SenderProfile.objects.get().dkim_private_key.startswith("-----BEGIN")


def test_the_same_secret_is_stored_differently_each_time(workspace, stored):
    LineChannel.objects.filter(pk=stored["channel"].pk).update(access_token=TOKEN)
    first = raw("capture_linechannel", "access_token", stored["channel"].pk)
    LineChannel.objects.filter(pk=stored["channel"].pk).update(access_token=TOKEN)
    assert raw("capture_linechannel", "access_token", stored["channel"].pk) != first


def test_empty_stays_empty_and_can_still_be_asked_for(workspace):
    PaymentSettings.objects.create(workspace=workspace)
    settings_row = PaymentSettings.objects.get()
    assert raw("commerce_paymentsettings", "stripe_secret_key", settings_row.pk) == ""
    assert PaymentSettings.objects.filter(stripe_secret_key="").count() == 1


def test_a_secret_cannot_be_searched_for_by_its_value(workspace, stored):
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        LineChannel.objects.filter(access_token__startswith="line").count()


def test_a_new_first_key_encrypts_the_old_ones_still_decrypt_and_reencrypting_moves_everything(settings, stored):
    old_key, new_key = secrets.new_key(), secrets.new_key()
    settings.MUSUBI_SECRET_KEYS = [old_key]
    call_command("reencrypt_secrets", stdout=io.StringIO())
    under_old = raw("capture_linechannel", "access_token", stored["channel"].pk)

    settings.MUSUBI_SECRET_KEYS = [new_key, old_key]
    assert LineChannel.objects.get().access_token == TOKEN
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "capture.LineChannel: 1 row(s)" in out.getvalue()
    assert raw("capture_linechannel", "access_token", stored["channel"].pk) != under_old

    settings.MUSUBI_SECRET_KEYS = [new_key]  # the old key dropped: everything still opens
    for table, column, pk, plain in plain_values(stored):
        assert secrets.decrypt(raw(table, column, pk)) == plain
    assert LineChannel.objects.get().access_token == TOKEN
    assert PaymentSettings.objects.get().stripe_webhook_secret == "whsec_" + "w" * 30
    assert WebhookEndpoint.objects.get().secret == stored["hook_secret"]


def test_a_missing_key_is_a_clear_error_naming_the_field_not_garbage(settings, stored):
    settings.MUSUBI_SECRET_KEYS = [secrets.new_key()]
    call_command("reencrypt_secrets", stdout=io.StringIO())
    settings.MUSUBI_SECRET_KEYS = [secrets.new_key()]  # not the key it was saved with
    with pytest.raises(secrets.SecretUnreadable, match=r"capture\.LineChannel\.channel_secret.*MUSUBI_SECRET_KEYS"):
        LineChannel.objects.get()
    with pytest.raises(secrets.SecretUnreadable):
        call_command("reencrypt_secrets", stdout=io.StringIO())


def test_the_derived_key_still_opens_rows_saved_before_keys_were_configured(settings, stored):
    settings.MUSUBI_SECRET_KEYS = [secrets.new_key()]
    assert LineChannel.objects.get().access_token == TOKEN


def test_a_malformed_key_is_named(settings, stored):
    settings.MUSUBI_SECRET_KEYS = ["not-a-key"]
    with pytest.raises(secrets.ImproperlyConfigured, match="MUSUBI_SECRET_KEYS: key 1"):
        LineChannel.objects.get()


def test_reencrypt_prints_a_new_key(capsys):
    out = io.StringIO()
    call_command("reencrypt_secrets", "--new-key", stdout=out)
    assert secrets.Fernet(out.getvalue().strip().encode())


@pytest.mark.django_db
def test_check_deploy_names_the_derived_key_and_is_satisfied_by_a_configured_one(settings, monkeypatch):
    from musubi.web.management.commands.check_deploy import musubi_problems

    assert any("MUSUBI_SECRET_KEYS is not set" in p for p in musubi_problems())
    settings.MUSUBI_SECRET_KEYS = [secrets.new_key()]
    assert not any("MUSUBI_SECRET_KEYS" in p for p in musubi_problems())
    settings.MUSUBI_SECRET_KEYS = ["short"]
    assert any("key 1 is not a Fernet key" in p for p in musubi_problems())
    with pytest.raises(CommandError):
        call_command("check_deploy", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_saved_in_plain_text_and_its_reverse_decrypts_them(workspace):
    before = [("capture", "0003_line"), ("commerce", "0005_hosted_checkout_and_konbini"),
              ("messaging", "0004_rich_menus")]
    after = [("capture", "0004_secrets_encrypted"), ("commerce", "0006_secrets_encrypted"),
             ("messaging", "0005_secrets_encrypted")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO commerce_paymentsettings (workspace_id, bank_transfer_enabled, bank_account, "
                       "bank_transfer_days, cod_enabled, cod_fee, card_enabled, shipping_fee, stripe_secret_key, "
                       "stripe_webhook_secret, konbini_enabled, konbini_days) "
                       "VALUES (%s, false, '', 7, false, 330, false, 0, %s, '', false, 3)",
                       [workspace.pk, STRIPE_KEY])
        cursor.execute("SELECT id FROM commerce_paymentsettings")
        pk = cursor.fetchone()[0]
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    stored = raw("commerce_paymentsettings", "stripe_secret_key", pk)
    assert stored.startswith("fernet:") and STRIPE_KEY not in stored
    assert raw("commerce_paymentsettings", "stripe_webhook_secret", pk) == ""
    assert PaymentSettings.objects.get().stripe_secret_key == STRIPE_KEY

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    assert raw("commerce_paymentsettings", "stripe_secret_key", pk) == STRIPE_KEY
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
