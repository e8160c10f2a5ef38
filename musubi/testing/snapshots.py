"""What a workspace looks like, so a test can assert that an outsider's request changed nothing."""

from typing import Any

from musubi.workspaces.models import ApiKey, AuditEntry, Membership, Workspace

# Object ids and a slug that exist nowhere: an outsider must get exactly the answer these get.
MISSING = {"slug": "no-such-workspace", "membership_id": 999999, "key_id": 999999, "fact_id": 999999}


def workspace_state(workspace: Workspace) -> tuple[Any, ...]:
    return (
        sorted(Membership.objects.for_workspace(workspace).values_list("pk", "role")),
        sorted(ApiKey.objects.for_workspace(workspace).values_list("pk", "revoked_at")),
        AuditEntry.objects.for_workspace(workspace).count(),
        Workspace.objects.values_list("name", "timezone").get(pk=workspace.pk),
    )
