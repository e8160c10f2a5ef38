import pytest

from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import ApiKey, AuditEntry, Membership, User, Workspace
from musubi.workspaces.rules import Action, role_allows


def owner_actor(user):
    return services.Actor(role=Role.OWNER, user=user)


def test_creating_a_workspace_makes_the_creator_its_owner_and_audits_it(owner):
    workspace = services.create_workspace(slug="green-kitchen", name=" グリーンキッチン ", owner=owner)
    assert workspace.name == "グリーンキッチン"
    assert Membership.objects.get(workspace=workspace).role == Role.OWNER
    entry = AuditEntry.objects.get(workspace=workspace)
    assert (entry.action, entry.actor_user) == ("workspace.created", owner)


@pytest.mark.parametrize(("slug", "name", "timezone", "field"), [
    ("Green Kitchen", "ok", "Asia/Tokyo", "slug"),
    ("api", "ok", "Asia/Tokyo", "slug"),
    ("-x", "ok", "Asia/Tokyo", "slug"),
    ("ok", "   ", "Asia/Tokyo", "name"),
    ("ok", "ok", "Mars/Olympus", "timezone"),
])
def test_invalid_workspace_settings_name_the_field_and_change_nothing(owner, slug, name, timezone, field):
    with pytest.raises(InvalidInput) as caught:
        services.create_workspace(slug=slug, name=name, timezone=timezone, owner=owner)
    assert list(caught.value.fields) == [field]
    assert Workspace.objects.count() == 0


def test_a_taken_slug_is_a_conflict(workspace, outsider):
    with pytest.raises(Conflict):
        services.create_workspace(slug=workspace.slug, name="another", owner=outsider)
    assert Workspace.objects.count() == 1


def test_staff_may_operate_but_not_administer():
    assert role_allows(Role.STAFF, Action.OPERATE)
    assert not role_allows(Role.STAFF, Action.MANAGE)
    assert not role_allows(Role.VIEWER, Action.OPERATE)
    assert all(role_allows(Role.OWNER, action) for action in Action)


def test_staff_cannot_rename_the_workspace(workspace, teammate):
    with pytest.raises(Forbidden):
        services.update_workspace(workspace=workspace, actor=services.Actor(role=Role.STAFF, user=teammate), name="x")
    workspace.refresh_from_db()
    assert workspace.name == "すこやか健康食品店"


def test_updating_the_workspace_audits_old_and_new_values(workspace, owner):
    services.update_workspace(workspace=workspace, actor=owner_actor(owner), name="すこやか本舗")
    entry = AuditEntry.objects.filter(action="workspace.updated").get()
    assert entry.changes == {"name": ["すこやか健康食品店", "すこやか本舗"]}


def test_adding_a_member_creates_a_passwordless_user(workspace, owner):
    membership = services.add_member(workspace=workspace, actor=owner_actor(owner), email="New@Example.com",
                                     role=Role.STAFF)
    assert membership.user.email == "new@example.com"
    assert not membership.user.has_usable_password()


def test_adding_the_same_member_twice_is_a_conflict(workspace, owner, teammate):
    with pytest.raises(Conflict):
        services.add_member(workspace=workspace, actor=owner_actor(owner), email=teammate.email, role=Role.VIEWER)


def test_the_last_owner_can_be_neither_demoted_nor_removed(workspace, owner):
    membership = Membership.objects.get(workspace=workspace, user=owner)
    with pytest.raises(Conflict):
        services.change_role(workspace=workspace, actor=owner_actor(owner), membership_id=membership.pk,
                             role=Role.STAFF)
    with pytest.raises(Conflict):
        services.remove_member(workspace=workspace, actor=owner_actor(owner), membership_id=membership.pk)
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_a_member_of_another_workspace_cannot_be_changed_from_this_one(workspace, owner, other_workspace, outsider):
    theirs = Membership.objects.get(workspace=other_workspace, user=outsider)
    with pytest.raises(NotFound):
        services.remove_member(workspace=workspace, actor=owner_actor(owner), membership_id=theirs.pk)
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_api_keys_are_stored_hashed_and_work_until_revoked(workspace, owner):
    key, secret = services.create_api_key(workspace=workspace, actor=owner_actor(owner), name="weather")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.key_hash, stored.prefix) and secret.startswith("msk_")
    assert services.authenticate_api_key(secret) == key
    assert services.authenticate_api_key(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    services.revoke_api_key(workspace=workspace, actor=owner_actor(owner), key_id=key.pk)
    assert services.authenticate_api_key(secret) is None
    audited = AuditEntry.objects.filter(object_type="workspaces.apikey", object_id=str(key.pk)).order_by("id")
    assert list(audited.values_list("action", flat=True)) == ["api_key.created", "api_key.revoked"]


def test_weak_passwords_are_refused_with_the_reason(db):
    with pytest.raises(InvalidInput) as caught:
        services.create_user(email="a@example.com", password="123")
    assert "password" in caught.value.fields
    assert not User.objects.exists()


# --- The seller's legal profile (特商法) -----------------------------------------------------------------------

def test_the_legal_profile_keeps_the_particulars_and_audits_the_change(workspace):
    from musubi.testing.legal import COMPLETE_LEGAL_PROFILE
    from musubi.workspaces.models import AuditEntry, LegalProfile

    services.save_legal_profile(workspace=workspace, actor=services.SYSTEM, **COMPLETE_LEGAL_PROFILE,
                                invoice_registration_number="T1234567890123")
    profile = LegalProfile.objects.get(workspace=workspace)
    assert profile.seller_name == "株式会社すこやか"
    assert profile.invoice_registration_number == "T1234567890123"
    assert AuditEntry.objects.filter(workspace=workspace, action="legal_profile.saved").count() == 1


@pytest.mark.parametrize("number", ["1234567890123", "T123456789012", "T12345678901234", "t1234567890123",
                                    "T12345678901a3", "T１２３４５６７８９０１２３", "T 1234567890123"])
def test_a_malformed_invoice_registration_number_is_refused(workspace, number):
    from musubi.workspaces.models import LegalProfile

    with pytest.raises(InvalidInput) as caught:
        services.save_legal_profile(workspace=workspace, actor=services.SYSTEM, seller_name="株式会社すこやか",
                                    invoice_registration_number=number)
    assert set(caught.value.fields) == {"invoice_registration_number"}
    assert not LegalProfile.objects.exists()


def test_staff_cannot_change_the_legal_profile(workspace, teammate):
    from musubi.workspaces.models import LegalProfile

    with pytest.raises(Forbidden):
        services.save_legal_profile(workspace=workspace, actor=services.Actor(role=Role.STAFF, user=teammate),
                                    seller_name="x")
    assert not LegalProfile.objects.exists()
