import json

from django.test import Client

from musubi.contacts.models import ConsentRecord, Contact
from musubi.workspaces import services as workspaces
from musubi.workspaces.choices import Role


def call(key, method, path, body=None):
    return getattr(Client(), method)(path, data=None if body is None else json.dumps(body),
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
                                     HTTP_USER_AGENT="curl/8", REMOTE_ADDR="198.51.100.7")


def test_a_contact_is_created_once_with_its_consent_evidence(owner_key, workspace):
    body = {"email": "Taro@Example.jp", "name": "山田太郎", "tags": ["メルマガ"],
            "consent": {"channel": "email", "wording": "新商品のお知らせをメールで受け取る"}}
    first = call(owner_key, "post", "/api/v1/contacts", body)
    again = call(owner_key, "post", "/api/v1/contacts", {"email": "taro@example.jp"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["identities"] == [{"kind": "email", "value": "taro@example.jp"}]
    assert first.json()["tags"] == ["メルマガ"]
    consents = call(owner_key, "get", f"/api/v1/contacts/{first.json()['id']}/consents").json()
    assert [(c["channel"], c["granted"], c["ip_address"], c["user_agent"]) for c in consents] == [
        ("email", True, "198.51.100.7", "curl/8")]
    assert len(consents[0]["wording_hash"]) == 64


def test_bad_addresses_are_a_400_naming_each_field_and_create_nothing(owner_key, workspace):
    response = call(owner_key, "post", "/api/v1/contacts", {"email": "taro@", "phone": "12"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"email", "phone"}
    assert not Contact.objects.exists()


def test_consent_on_a_channel_without_an_address_is_refused(owner_key, workspace):
    response = call(owner_key, "post", "/api/v1/contacts", {"email": "a@example.jp", "consent": {"channel": "line"}})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["consent.channel"]
    assert not ConsentRecord.objects.exists()


def test_export_and_erase_need_a_manager(workspace, owner_key):
    contact_id = call(owner_key, "post", "/api/v1/contacts", {"email": "a@example.jp"}).json()["id"]
    _key, viewer = workspaces.create_api_key(workspace=workspace, actor=workspaces.SYSTEM, name="v", role=Role.VIEWER)
    assert call(viewer, "get", f"/api/v1/contacts/{contact_id}/export").status_code == 403
    assert call(viewer, "post", f"/api/v1/contacts/{contact_id}/erase").status_code == 403
    assert call(owner_key, "post", f"/api/v1/contacts/{contact_id}/erase").status_code == 204
    assert Contact.objects.get(pk=contact_id).erased_at is not None
