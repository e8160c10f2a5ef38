import pytest
from django.core.management import call_command
from django.test import Client

from conftest import PASSWORD
from musubi.kernel.errors import Forbidden
from musubi.workspaces import services
from musubi.workspaces.models import Membership, User, Workspace


def test_sign_in_is_paused_after_five_failures_for_that_address(owner, settings):
    client = Client()
    answers = [client.post("/login/", {"username": owner.email, "password": "wrong"}).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = client.post("/login/", {"username": owner.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "ログインをしばらく停止しています" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address from the same place is not held up by it.
    User.objects.create_user("other@example.com", PASSWORD)
    assert client.post("/login/", {"username": "other@example.com", "password": PASSWORD}).status_code == 302


def test_counter_staff_cannot_open_workspaces_but_owners_and_newcomers_can(workspace, teammate, owner):
    with pytest.raises(Forbidden):
        services.create_workspace(slug="staff-side", name="x", owner=teammate)
    services.create_workspace(slug="second-shop", name="2号店", owner=owner)
    newcomer = User.objects.create_user("new@example.com", PASSWORD)
    services.create_workspace(slug="newcomer", name="はじめての店", owner=newcomer)
    assert not Workspace.objects.filter(slug="staff-side").exists()


def test_the_new_workspace_page_refuses_counter_staff(teammate_client):
    response = teammate_client.post("/workspaces/new/", {"name": "x", "slug": "staff-side", "timezone": "Asia/Tokyo"})
    assert "オーナーだけです" in response.content.decode()
    assert not Workspace.objects.filter(slug="staff-side").exists()


def test_demo_is_made_once_and_a_second_run_leaves_changes_alone(db, capsys):
    call_command("demo")
    assert "demo@example.com / musubi-demo" in capsys.readouterr().out
    Membership.objects.filter(user__email="staff@example.com").delete()
    call_command("demo")
    assert "already set up" in capsys.readouterr().out
    assert not Membership.objects.filter(user__email="staff@example.com").exists()
    assert Workspace.objects.count() == 3


def test_password_change_needs_the_old_password(owner_client, owner):
    new = "brand-new-password-5"
    form = {"old_password": "wrong", "new_password1": new, "new_password2": new}
    refused = owner_client.post("/account/password/", form)
    assert refused.status_code == 200
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    owner_client.post("/account/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    owner.refresh_from_db()
    assert owner.check_password(new)
