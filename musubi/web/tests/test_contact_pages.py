import json

from musubi.contacts import services
from musubi.contacts.models import Contact


def make_contact(workspace):
    contact, _ = services.find_or_create_contact(
        workspace=workspace, addresses=services.normalise(email="taro@example.jp"), name="山田太郎")
    services.record_consent(workspace=workspace, contact=contact, channel="email", address="taro@example.jp",
                            ip_address="203.0.113.9", capture_point_id=3, capture_point_version=2, wording="受け取る")
    return contact


def test_an_owner_finds_a_contact_and_reads_its_consent_evidence(owner_client, workspace):
    contact = make_contact(workspace)
    listing = owner_client.get("/w/kenko/contacts/", {"q": "taro@"}).content.decode()
    assert "山田太郎" in listing
    page = owner_client.get(f"/w/kenko/contacts/{contact.pk}/").content.decode()
    assert "203.0.113.9" in page and "同意（オプトイン）" in page


def test_export_is_json_and_erase_keeps_pseudonymous_evidence(owner_client, workspace):
    contact = make_contact(workspace)
    exported = json.loads(owner_client.get(f"/w/kenko/contacts/{contact.pk}/export/").content)
    assert exported["identities"] == [{"kind": "email", "value": "taro@example.jp"}]
    owner_client.post(f"/w/kenko/contacts/{contact.pk}/erase/")
    assert Contact.objects.get(pk=contact.pk).erased_at is not None
    page = owner_client.get(f"/w/kenko/contacts/{contact.pk}/").content.decode()
    assert "taro@example.jp" not in page and "erased:" in page


def test_staff_see_contacts_but_cannot_export_or_erase(teammate_client, workspace):
    contact = make_contact(workspace)
    assert teammate_client.get(f"/w/kenko/contacts/{contact.pk}/").status_code == 200
    assert teammate_client.get(f"/w/kenko/contacts/{contact.pk}/export/").status_code == 403
    assert teammate_client.post(f"/w/kenko/contacts/{contact.pk}/erase/").status_code == 403
    assert Contact.objects.get(pk=contact.pk).erased_at is None
