"""Checked rows, facts and the summary keep no foreign-key constraint in the database (they are a staging area,
a log and a summary written in bulk); deleting an import or a workspace must still leave none of them behind."""

import pytest
from django.db.models import ProtectedError

from musubi.contacts import services as contacts
from musubi.contacts.models import Activity
from musubi.imports.models import Import, ImportRow
from musubi.imports.tests.helpers import imported
from musubi.kernel.facts import record_fact
from musubi.kernel.models import Fact
from musubi.workspaces.models import Workspace

pytestmark = pytest.mark.django_db

ROWS = [["taro@example.jp", "山田 太郎", "090-1234-5678", "", "VIP", "ゴールド"],
        ["hanako@example", "佐藤 花子", "", "", "", ""],  # a bad address: its checked row is kept
        ["TARO@example.jp", "山田（重複）", "", "", "", ""]]  # a duplicate: kept too


def left_in(workspace_id):
    return (ImportRow.objects.filter(workspace_id=workspace_id).count(),
            Fact.objects.filter(workspace_id=workspace_id).count(),
            Activity.objects.filter(workspace_id=workspace_id).count())


def test_deleting_an_import_deletes_its_checked_rows_and_no_other_imports(workspace):
    done = imported(workspace, ROWS, skip_invalid=True)
    checked = imported(workspace, ROWS, dry_run=True)
    assert ImportRow.objects.filter(job=done).count() == 2
    assert ImportRow.objects.filter(job=checked).count() == 3

    Import.objects.get(pk=checked.pk).delete()
    assert not ImportRow.objects.filter(job_id=checked.pk).exists()
    assert ImportRow.objects.filter(job=done).count() == 2


def test_deleting_a_workspace_leaves_none_of_its_rows_and_touches_no_other(workspace, other_workspace):
    # A workspace holding consent records cannot be deleted (they are evidence, protected), so this one has
    # checked an import without writing it, and has a tagged contact and a fact about no one.
    imported(workspace, ROWS, dry_run=True)
    contact, _created = contacts.find_or_create_contact(workspace=workspace,
                                                        addresses=contacts.normalise(email="a@example.jp"))
    contacts.tag(workspace=workspace, contact=contact, names=["VIP"])
    record_fact(workspace_id=workspace.pk, kind="link.clicked", contact_id=None)
    imported(other_workspace, ROWS, skip_invalid=True)
    gone, theirs = workspace.pk, left_in(other_workspace.pk)
    assert all(left_in(gone)) and all(theirs)

    Workspace.objects.get(pk=gone).delete()
    assert left_in(gone) == (0, 0, 0)
    assert not Import.objects.filter(workspace_id=gone).exists()
    assert left_in(other_workspace.pk) == theirs
    with pytest.raises(ProtectedError):
        Workspace.objects.get(pk=other_workspace.pk).delete()
    assert left_in(other_workspace.pk) == theirs
