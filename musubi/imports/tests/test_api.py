import json

from django.test import Client

from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Contact
from musubi.imports.models import Import, ImportBlock
from musubi.imports.tests.helpers import HEADER, csv_bytes, work
from musubi.workspaces.models import AuditEntry

ROWS = [["taro@example.jp", "山田 太郎", "090-1234-5678", "", "VIP", "ゴールド"],
        ["bad-address", "佐藤", "", "", "", ""]]


def post(key, data: bytes | None = None, **form):
    fields = {"basis": "written_notice", "note": "2024年 名刺", **form}
    if data is not None:
        fields["file"] = ("customers.csv", data)
    return Client().post("/api/v1/imports", _multipart(fields), content_type=f"multipart/form-data; boundary={B}",
                         HTTP_AUTHORIZATION=f"Bearer {key}")


B = "musubi-boundary"


def _multipart(fields) -> bytes:
    out = b""
    for name, value in fields.items():
        if isinstance(value, tuple):
            out += (f'--{B}\r\nContent-Disposition: form-data; name="{name}"; filename="{value[0]}"\r\n'
                    f"Content-Type: text/csv\r\n\r\n").encode() + value[1] + b"\r\n"
        else:
            out += f'--{B}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    return out + f"--{B}--\r\n".encode()


def get(key, path, **query):
    return Client().get(path, query, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_import_is_uploaded_checked_and_read_back_with_its_errors(owner_key, workspace):
    created = post(owner_key, csv_bytes([HEADER, *ROWS], encoding="cp932"), dry_run="true",
                   mapping=json.dumps({"会員ランク": "field:rank"}), tags="名刺, 展示会")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["phase"], body["encoding"], body["tags"]) == ("checking", "cp932", ["名刺", "展示会"])
    assert body["columns"][5] == {"header": "会員ランク", "target": "field", "key": "rank"}
    work()
    done = get(owner_key, f"/api/v1/imports/{body['id']}").json()
    assert (done["phase"], done["rows"], done["invalid"], done["errors"], done["progress"]) == ("checked", 2, 1, 1, 100)
    assert done["first_errors"] == [
        {"line": 3, "message": "メールアドレス: “bad-address” はメールアドレスではありません。"}]
    assert not Contact.objects.exists()
    errors = get(owner_key, f"/api/v1/imports/{body['id']}/errors.csv")
    assert errors["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()[1].startswith("bad-address,佐藤")
    listed = get(owner_key, "/api/v1/imports").json()
    assert [i["id"] for i in listed["results"]] == [body["id"]]


def test_a_real_import_through_the_api_skips_bad_rows_when_asked(owner_key, workspace):
    created = post(owner_key, csv_bytes([HEADER, *ROWS]), skip_invalid="true")
    work()
    done = get(owner_key, f"/api/v1/imports/{created.json()['id']}").json()
    assert (done["phase"], done["created"], done["skipped"]) == ("done", 1, 1)
    assert ConsentRecord.objects.filter(basis="written_notice").count() == 2


def nothing_written():
    return not (Import.objects.exists() or ImportBlock.objects.exists() or Contact.objects.exists())


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(owner_key, workspace):
    good = csv_bytes([HEADER, *ROWS])
    cases = {
        "file": post(owner_key, "メール,名前\r\na@example.jp,山田".encode("utf-16")),
        "encoding": post(owner_key, csv_bytes([HEADER, *ROWS], encoding="cp932"), encoding="utf-8"),
        "basis": post(owner_key, good, basis=""),
        "note": post(owner_key, good, note=" "),
        "mapping": post(owner_key, good, mapping=json.dumps({"メールアドレス": "ignore", "電話番号": "ignore",
                                                             "LINE ID": "ignore"})),
        "mapping.存在しない列": post(owner_key, good, mapping=json.dumps({"存在しない列": "email"})),
    }
    for field, response in cases.items():
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()["error"]["fields"], (field, response.json())
    missing_file = post(owner_key)
    assert missing_file.status_code == 400 and "file" in missing_file.json()["error"]["fields"]
    assert nothing_written()


def test_a_file_over_the_limit_is_a_400(owner_key, workspace, settings):
    settings.MUSUBI_IMPORT_MAX_BYTES = 50
    response = post(owner_key, csv_bytes([HEADER, *ROWS * 3]))
    assert response.status_code == 400
    assert "を超えています" in response.json()["error"]["fields"]["file"]
    assert nothing_written()


def test_staff_keys_may_not_import_or_export(workspace):
    from musubi.workspaces import services as workspaces

    _key, staff = workspaces.create_api_key(workspace=workspace, actor=workspaces.SYSTEM, name="counter", role="staff")
    assert post(staff, csv_bytes([HEADER, *ROWS])).status_code == 403
    assert get(staff, "/api/v1/contacts/export.csv").status_code == 403
    assert nothing_written()


def test_contacts_export_as_csv_in_shift_jis_with_unencodable_characters_counted(owner_key, workspace):
    contact, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
        email="taka@example.jp", phone="09012345678"), name="髙橋 🍣")
    contacts.tag(workspace=workspace, contact=contact, names=["常連"])
    response = get(owner_key, "/api/v1/contacts/export.csv", encoding="cp932", tag="常連")
    assert response["Content-Type"] == "text/csv; charset=shift_jis"
    text = b"".join(response.streaming_content).decode("cp932")
    assert text.splitlines() == ["メールアドレス,氏名,電話番号,LINE ID,タグ",
                                 "taka@example.jp,髙橋 ?,090-1234-5678,,常連"]
    audit = AuditEntry.objects.get(workspace=workspace, action="contacts.exported")
    assert audit.changes == {"rows": 1, "encoding": "cp932", "replaced": 1}
    assert get(owner_key, "/api/v1/contacts/export.csv", encoding="latin-1").status_code == 400
