import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Contact
from musubi.imports.models import Import
from musubi.imports.tests.helpers import HEADER, csv_bytes, work

pytestmark = pytest.mark.django_db
ROWS = [["taro@example.jp", "山田 太郎", "090-1234-5678", "", "VIP", "ゴールド"],
        ["hanako@example", "佐藤 花子", "", "", "", ""]]


def upload(client, data, **extra):
    return client.post("/w/kenko/imports/", {"file": SimpleUploadedFile("名簿.csv", data, "text/csv"), **extra})


def settings_form(job, **changes):
    form = {"encoding": job.encoding, "basis": "written_notice", "note": "2024年 店頭アンケート用紙",
            "tags": "店頭, 2024",
            **{f"target_{i}": m["target"] for i, m in enumerate(job.mapping)},
            **{f"key_{i}": m["key"] for i, m in enumerate(job.mapping)}}
    form.update(changes)
    return form


def test_an_owner_uploads_maps_dry_runs_and_imports_a_shift_jis_file(owner_client, workspace):
    response = upload(owner_client, csv_bytes([HEADER, *ROWS], encoding="cp932"))
    job = Import.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/w/kenko/imports/{job.pk}/"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Shift_JIS（Excel の日本語版）" in page and "山田 太郎" in page and "ドライラン" in page

    owner_client.post(f"/w/kenko/imports/{job.pk}/", settings_form(job, dry_run="1"))
    running = owner_client.get(f"/w/kenko/imports/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in running and "<progress" in running
    work()
    progress = owner_client.get(f"/w/kenko/imports/{job.pk}/progress/")
    assert progress["HX-Refresh"] == "true"
    checked = owner_client.get(f"/w/kenko/imports/{job.pk}/").content.decode()
    assert "何も書き込んでいません" in checked and "“hanako@example” はメールアドレスではありません。" in checked
    assert not Contact.objects.exists()

    owner_client.post(f"/w/kenko/imports/{job.pk}/", settings_form(job, skip_invalid="on", run="1"))
    work()
    done = owner_client.get(f"/w/kenko/imports/{job.pk}/").content.decode()
    assert "インポートしました" in done
    assert Contact.objects.get().name == "山田 太郎"
    assert set(ConsentRecord.objects.values_list("basis", flat=True)) == {"written_notice"}
    rejected = owner_client.get(f"/w/kenko/imports/{job.pk}/rejected.csv")
    assert b"".join(rejected.streaming_content).decode("utf-8-sig").splitlines()[1].startswith("hanako@example")


def test_a_file_in_neither_encoding_is_refused_on_the_page(owner_client, workspace):
    page = upload(owner_client, "メール,名前\r\na@example.jp,山田".encode("utf-16")).content.decode()
    assert "UTF-8 でも Shift_JIS でもない" in page
    assert not Import.objects.exists()


def test_missing_basis_and_note_are_named_and_nothing_starts(owner_client, workspace):
    upload(owner_client, csv_bytes([HEADER, *ROWS]))
    job = Import.objects.get()
    page = owner_client.post(f"/w/kenko/imports/{job.pk}/", settings_form(job, basis="", note="", run="1"))
    assert page.status_code == 200
    assert Import.objects.get().phase == "uploaded"


def test_staff_may_not_import_or_export(teammate_client, workspace):
    assert teammate_client.get("/w/kenko/imports/").status_code == 403
    assert upload(teammate_client, csv_bytes([HEADER, *ROWS])).status_code == 403
    assert teammate_client.get("/w/kenko/contacts/export.csv").status_code == 403
    assert not Import.objects.exists()
    assert "/w/kenko/imports/" not in teammate_client.get("/w/kenko/contacts/").content.decode()


def test_the_contact_list_exports_what_it_shows_and_the_export_imports_back_the_same(owner_client, workspace):
    for email, name, tag in (("a@example.jp", "髙橋", "VIP"), ("b@example.jp", "鈴木", "")):
        contact, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
            email=email, phone="03-1234-5678" if tag else None), name=name)
        contact.fields = {"rank": "gold"} if tag else {}
        contact.save()
        if tag:
            contacts.tag(workspace=workspace, contact=contact, names=[tag, "常連"])
    listing = owner_client.get("/w/kenko/contacts/", {"tag": "VIP"}).content.decode()
    assert "髙橋" in listing and "鈴木" not in listing and "tag=VIP" in listing
    filtered = owner_client.get("/w/kenko/contacts/export.csv", {"encoding": "utf-8", "tag": "VIP"})
    assert b"".join(filtered.streaming_content).decode("utf-8-sig").splitlines() == [
        "メールアドレス,氏名,電話番号,LINE ID,タグ,rank", "a@example.jp,髙橋,03-1234-5678,,\"VIP, 常連\",gold"]

    everything = b"".join(owner_client.get("/w/kenko/contacts/export.csv", {"encoding": "cp932"}).streaming_content)
    before = snapshot(workspace)
    upload(owner_client, everything)
    job = Import.objects.get()
    assert job.encoding == "cp932"
    assert [m["target"] for m in job.mapping] == ["email", "name", "phone", "line_user_id", "tags", "field"]
    owner_client.post(f"/w/kenko/imports/{job.pk}/", settings_form(job, tags="", run="1"))
    work()
    assert Import.objects.get().merged_contacts == 2
    assert snapshot(workspace) == before


def snapshot(workspace):
    return sorted((c.name, c.fields, sorted(c.identities.values_list("value", flat=True)),
                   sorted(c.tags.values_list("name", flat=True)))
                  for c in Contact.objects.filter(workspace=workspace))
