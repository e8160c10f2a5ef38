import re

import pytest
from django.core import mail
from django.test import Client
from django_tasks_db.models import DBTaskResult

from conftest import PASSWORD
from musubi.workspaces.models import ApiKey, Membership, User


def test_signing_in_with_email_and_password_lands_in_the_only_workspace(owner, workspace):
    client = Client()
    response = client.post("/login/", {"username": " Owner@Example.COM", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/w/kenko/"
    assert "すこやか健康食品店" in response.content.decode()


def test_a_wrong_password_is_refused_in_japanese(owner):
    response = Client().post("/login/", {"username": "owner@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが違います" in response.content.decode()


def test_pages_need_a_sign_in(workspace):
    response = Client().get("/w/kenko/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/w/kenko/")


def test_the_ui_is_japanese_by_default_and_english_by_choice(owner_client, owner):
    assert "メンバー" in owner_client.get("/w/kenko/").content.decode()
    owner_client.post("/account/", {"language": "en"})
    owner.refresh_from_db()
    assert owner.language == "en"
    page = owner_client.get("/w/kenko/").content.decode()
    assert "Members" in page and "メンバー" not in page


@pytest.mark.django_db(transaction=True)
def test_password_reset_mails_a_link_that_sets_a_new_password(owner, run_worker):
    client = Client()
    client.post("/password-reset/", {"email": "Owner@Example.com"})
    assert mail.outbox == []  # the worker sends it, not the request
    run_worker()
    assert len(mail.outbox) == 1
    assert "http://127.0.0.1:8000/password-reset/" in mail.outbox[0].body  # MUSUBI_BASE_URL, not the Host
    link = re.search(r"https?://[^/]+(/password-reset/[^\s]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(form_page.redirect_chain[-1][0],
                           {"new_password1": "another-long-pass-9", "new_password2": "another-long-pass-9"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("another-long-pass-9")


@pytest.mark.django_db(transaction=True)
def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(run_worker):
    response = Client().post("/password-reset/", {"email": "nobody@example.com"}, follow=True)
    assert response.status_code == 200
    run_worker()
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_new_member_is_invited_by_mail_and_sets_a_password_from_it(owner_client, workspace, run_worker):
    owner_client.post("/w/kenko/members/", {"email": "new@example.com", "role": "staff"})
    assert Membership.objects.get(workspace=workspace, user__email="new@example.com").role == "staff"
    run_worker()
    (invitation,) = mail.outbox
    assert invitation.to == ["new@example.com"] and "すこやか健康食品店" in invitation.subject
    link = re.search(r"https?://[^/]+(/password-reset/[^\s]+/)", invitation.body).group(1)
    client = Client()
    form_page = client.get(link, follow=True)
    new_password = "first-pass-for-me-7"
    client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert User.objects.get(email="new@example.com").check_password(new_password)


@pytest.mark.django_db(transaction=True)
def test_a_member_who_already_has_a_password_is_told_where_to_find_the_workspace(owner_client, workspace, outsider,
                                                                                  run_worker):
    owner_client.post("/w/kenko/members/", {"email": outsider.email, "role": "viewer"})
    run_worker()
    (notice,) = mail.outbox
    assert "/w/kenko/" in notice.body and "/password-reset/" not in notice.body


def test_the_api_key_secret_is_shown_once(owner_client, workspace):
    response = owner_client.post("/w/kenko/api-keys/", {"name": "weather", "role": "owner"}, follow=True)
    secret = re.search(r"msk_[A-Za-z0-9_-]{20,}", response.content.decode()).group(0)
    assert response["Cache-Control"] == "no-store"
    assert ApiKey.objects.get(workspace=workspace).prefix == secret[4:16]
    assert secret not in owner_client.get("/w/kenko/api-keys/").content.decode()


def test_staff_see_members_but_cannot_manage_them_or_keys(teammate_client, workspace, owner):
    assert teammate_client.get("/w/kenko/members/").status_code == 200
    assert teammate_client.post("/w/kenko/members/", {"email": "x@example.com", "role": "owner"}).status_code == 403
    assert teammate_client.get("/w/kenko/api-keys/").status_code == 403
    assert teammate_client.get("/w/kenko/settings/").status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


def test_removing_the_last_owner_is_refused_with_a_message(owner_client, workspace, owner):
    membership = Membership.objects.get(workspace=workspace, user=owner)
    response = owner_client.post(f"/w/kenko/members/{membership.pk}/remove/", follow=True)
    assert "オーナーが少なくとも1人必要です" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_user_with_several_workspaces_chooses_one(owner_client, owner):
    owner_client.post("/workspaces/new/", {"name": "居酒屋むすび 2号店", "slug": "izakaya-2", "timezone": "Asia/Tokyo"})
    page = owner_client.get("/").content.decode()
    assert "/w/kenko/" in page and "/w/izakaya-2/" in page


def test_creating_a_workspace_with_a_taken_slug_shows_the_error_on_the_field(owner_client, workspace):
    response = owner_client.post("/workspaces/new/", {"name": "x", "slug": "kenko", "timezone": "Asia/Tokyo"})
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_is_down_does_not_undo_or_break_adding_a_member(owner_client, workspace, run_worker,
                                                                          settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}}
    response = owner_client.post("/w/kenko/members/", {"email": "new@example.com", "role": "staff"})
    assert response.status_code == 302
    run_worker()  # the send fails inside the worker, which records the task as failed and carries on
    assert Membership.objects.filter(workspace=workspace, user__email="new@example.com").exists()
    assert DBTaskResult.objects.get().status == "FAILED"
