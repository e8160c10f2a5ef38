"""Templates and keyword rules saved as plain texts before LINE messages had kinds keep working: the
migration turns each text into a text message (and back, when migrating back)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("messaging", "0005_secrets_encrypted")]
AFTER = [("messaging", "0006_line_message_kinds")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_saved_texts_become_text_messages_and_back(workspace):
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    try:
        old = _migrate(BEFORE)
        old.get_model("messaging", "Template").objects.create(
            workspace_id=workspace.pk, name="雨の日", channel="line", line_texts=["☔ 雨の日", "{{ name }}さん"],
            created_at=at, updated_at=at)
        old.get_model("messaging", "AutoReply").objects.create(
            workspace_id=workspace.pk, name="予約", keywords=["予約"], texts=["ご予約はこちら"], created_at=at)
        new = _migrate(AFTER)
        assert new.get_model("messaging", "Template").objects.get().line_messages == [
            {"kind": "text", "text": "☔ 雨の日"}, {"kind": "text", "text": "{{ name }}さん"}]
        assert new.get_model("messaging", "AutoReply").objects.get().messages == [
            {"kind": "text", "text": "ご予約はこちら"}]
        back = _migrate(BEFORE)
        assert back.get_model("messaging", "Template").objects.get().line_texts == ["☔ 雨の日", "{{ name }}さん"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
