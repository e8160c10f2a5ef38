import pytest
from django.test import override_settings

from musubi.capture.models import Source
from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Contact, Identity, Tag
from musubi.imports import queries, services
from musubi.imports.models import Import, ImportBlock, ImportRow
from musubi.imports.tests.helpers import HEADER, configure, csv_bytes, imported, run, upload
from musubi.kernel.errors import Forbidden, InvalidInput
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

pytestmark = pytest.mark.django_db

GOOD = ["taro@example.jp", "山田 太郎", "090-1234-5678", "", "VIP", "ゴールド"]


def test_a_shift_jis_file_from_excel_keeps_its_rare_characters(workspace):
    data = csv_bytes([HEADER, ["taka@example.jp", "髙橋 﨑子", "", "", "①番テーブル", ""]], encoding="cp932")
    job = upload(workspace, data)
    assert (job.encoding, job.headers[0]) == ("cp932", "メールアドレス")
    configure(workspace, job)
    assert run(workspace, job).phase == "done"
    contact = Contact.objects.get(workspace=workspace)
    assert contact.name == "髙橋 﨑子"
    assert set(contact.tags.values_list("name", flat=True)) == {"①番テーブル", "店頭"}


def test_a_utf8_file_with_a_bom_reads_its_first_header_cleanly(workspace):
    job = upload(workspace, csv_bytes([HEADER, GOOD], bom=True))
    assert (job.encoding, job.has_bom, job.headers[0], job.mapping[0]["target"]) == ("utf-8", True, "メールアドレス",
                                                                                     "email")
    assert job.preview == [GOOD]


def test_a_file_in_neither_encoding_is_refused_and_nothing_is_kept(workspace):
    with pytest.raises(InvalidInput) as refused:
        upload(workspace, "メールアドレス,氏名\r\ntaro@example.jp,山田".encode("utf-16"))
    assert "UTF-8 でも Shift_JIS でもない" in refused.value.fields["file"]
    assert not Import.objects.exists() and not ImportBlock.objects.exists()


def test_the_owner_may_override_the_encoding_but_not_with_one_the_bytes_are_not_in(workspace):
    data = csv_bytes([HEADER, GOOD])
    with pytest.raises(InvalidInput) as refused:
        upload(workspace, data, encoding="cp932")
    assert set(refused.value.fields) == {"encoding"}
    ascii_only = csv_bytes([["email"], ["a@example.jp"]])
    assert upload(workspace, ascii_only, encoding="cp932").encoding == "cp932"


@override_settings(MUSUBI_IMPORT_MAX_BYTES=100)
def test_a_file_over_the_size_limit_is_refused(workspace):
    with pytest.raises(InvalidInput) as refused:
        upload(workspace, csv_bytes([HEADER, *[GOOD] * 5]))
    assert "を超えています" in refused.value.fields["file"]
    assert not Import.objects.exists()


def test_staff_may_not_import(workspace):
    data = csv_bytes([HEADER, GOOD])
    with pytest.raises(Forbidden):
        services.upload(workspace=workspace, actor=Actor(role=Role.STAFF), file_name="x.csv", size=len(data),
                        chunks=[data])


def test_a_basis_and_an_evidence_note_are_required(workspace):
    job = upload(workspace, csv_bytes([HEADER, GOOD]))
    with pytest.raises(InvalidInput) as refused:
        configure(workspace, job, basis="", note=" ")
    assert set(refused.value.fields) == {"basis", "note"}
    with pytest.raises(InvalidInput) as refused:
        services.start(workspace=workspace, actor=Actor(role=Role.OWNER), import_id=job.pk, dry_run=True)
    assert set(refused.value.fields) == {"basis", "note"}


def test_a_mapping_without_an_address_is_refused(workspace):
    job = upload(workspace, csv_bytes([HEADER, GOOD]))
    mapping = [{"target": "ignore", "key": ""}] + job.mapping[1:3] + [{"target": "ignore", "key": ""}] * 3
    mapping[2] = {"target": "ignore", "key": ""}
    with pytest.raises(InvalidInput) as refused:
        configure(workspace, job, mapping=mapping)
    assert set(refused.value.fields) == {"mapping"}


ROWS = [
    GOOD,
    ["hanako@example", "佐藤 花子", "03-1234-5678", "", "", ""],  # row 3: bad email
    ["jiro@example.jp", "鈴木 次郎", "12345", "", "", ""],  # row 4: bad phone
    ["", "名無し", "", "", "", ""],  # row 5: no address
    ["", "", "", "", "", ""],  # row 6: blank, skipped silently
    ["TARO@example.jp", "山田（重複）", "", "", "", ""],  # row 7: same email as row 2
    ["saburo@example.jp", "高橋 三郎", "080-1111-2222", "", "常連", ""],
]


def test_a_dry_run_counts_and_names_every_bad_row_and_writes_nothing(workspace):
    job = imported(workspace, ROWS, dry_run=True)
    assert job.phase == "checked"
    assert (job.rows_total, job.blank_rows, job.invalid_rows, job.duplicate_rows, job.good_rows) == (6, 1, 3, 1, 2)
    errors = [(e.line, e.message) for e in queries.first_errors(job)]
    assert [line for line, _m in errors] == [3, 4, 5, 7]
    assert errors[0][1] == "メールアドレス: “hanako@example” はメールアドレスではありません。"
    assert errors[1][1].startswith("電話番号: “12345” は電話番号ではありません")
    assert "2 行目と同じ" in errors[3][1]
    assert not Contact.objects.exists() and not ConsentRecord.objects.exists() and not Source.objects.exists()
    assert not Fact.objects.filter(kind__startswith="contact").exists()


def test_an_import_with_errors_writes_nothing_unless_the_owner_chose_to_skip_bad_rows(workspace):
    job = imported(workspace, ROWS)
    assert job.phase == "refused"
    assert not Contact.objects.exists() and not ConsentRecord.objects.exists()
    configure(workspace, job, skip_invalid=True)
    job = run(workspace, job)
    assert (job.phase, job.created_contacts, job.merged_contacts, job.skipped_rows) == ("done", 2, 0, 4)
    assert sorted(Identity.objects.values_list("value", flat=True)) == [
        "+818011112222", "+819012345678", "saburo@example.jp", "taro@example.jp"]


def test_the_rejected_rows_come_back_as_they_were_with_the_reason(workspace):
    job = imported(workspace, ROWS, skip_invalid=True)
    text = b"".join(queries.rejected_rows_csv(job)).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == ",".join([*HEADER, "エラー理由"])
    assert lines[1].startswith("hanako@example,佐藤 花子,03-1234-5678,,,,メールアドレス: “hanako@example” は")
    assert lines[4].startswith("TARO@example.jp,山田（重複）,,,,,2 行目と同じ")
    assert len(lines) == 5
    # Only the rejected rows are kept once the import is done.
    assert ImportRow.objects.filter(job=job).count() == 4


def test_each_imported_address_gets_a_consent_record_on_the_basis_credited_to_the_imports_source(workspace):
    job = imported(workspace, [GOOD], basis="transaction", note="2023年 ご購入者名簿")
    source = Source.objects.get(pk=job.source_id)
    assert (source.kind, source.name) == ("import", f"CSVインポート：customers.csv（#{job.pk}）")
    assert sorted(ConsentRecord.objects.values_list("channel", "address", "basis", "granted", "source_id")) == [
        ("email", "taro@example.jp", "transaction", True, source.pk),
        ("sms", "+819012345678", "transaction", True, source.pk)]
    assert Import.objects.get(source_id=source.pk).note == "2023年 ご購入者名簿"
    contact = Contact.objects.get()
    assert (contact.first_source_id, contact.last_source_id, contact.fields) == (source.pk, source.pk,
                                                                               {"会員ランク": "ゴールド"})
    assert set(contact.tags.values_list("name", flat=True)) == {"VIP", "店頭"}


def test_rows_merge_with_existing_contacts_as_find_or_create_does(workspace):
    known, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
        email="taro@example.jp"))
    by_phone, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
        phone="080-1111-2222"), name="三郎")
    job = imported(workspace, [GOOD, ["saburo@example.jp", "高橋 三郎", "080-1111-2222", "", "", ""],
                               ["new@example.jp", "新規", "", "", "", ""]])
    assert (job.created_contacts, job.merged_contacts) == (1, 2)
    known.refresh_from_db()
    by_phone.refresh_from_db()
    assert known.name == "山田 太郎"  # an empty name is filled
    assert by_phone.name == "三郎"  # a known name is kept
    assert set(known.identities.values_list("value", flat=True)) == {"taro@example.jp", "+819012345678"}
    assert set(by_phone.identities.values_list("value", flat=True)) == {"saburo@example.jp", "+818011112222"}
    assert Contact.objects.filter(workspace=workspace).count() == 3


def test_a_row_joining_two_known_contacts_merges_them(workspace):
    first, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
        email="taro@example.jp"))
    second, _ = contacts.find_or_create_contact(workspace=workspace, addresses=contacts.normalise(
        phone="090-1234-5678"))
    job = imported(workspace, [GOOD])
    assert (job.created_contacts, job.merged_contacts) == (0, 1)
    second.refresh_from_db()
    assert second.merged_into_id == first.pk
    assert Identity.objects.filter(contact=first).count() == 2


def test_suppressed_addresses_are_imported_but_stay_suppressed(workspace):
    contacts.suppress(workspace=workspace, channel="email", value="taro@example.jp", reason="unsubscribed")
    imported(workspace, [GOOD])
    contact = Contact.objects.get()
    assert ConsentRecord.objects.filter(contact=contact, channel="email").count() == 1
    assert not contacts.marketing_allowed(workspace=workspace, contact=contact, channel="email",
                                          address="taro@example.jp")
    assert contacts.marketing_allowed(workspace=workspace, contact=contact, channel="sms", address="+819012345678")


def test_a_dry_run_then_the_real_run_reuses_the_checks(workspace):
    job = imported(workspace, [GOOD, ROWS[-1]], dry_run=True)
    assert (job.phase, ImportRow.objects.filter(job=job).count()) == ("checked", 2)
    job = run(workspace, job)
    assert (job.phase, job.created_contacts) == ("done", 2)
    assert Tag.objects.filter(workspace=workspace, name="店頭").exists()


def test_changing_the_mapping_after_a_dry_run_checks_again(workspace):
    job = imported(workspace, [GOOD], dry_run=True)
    mapping = [dict(m) for m in job.mapping]
    mapping[5] = {"target": "field", "key": "rank"}
    configure(workspace, job, mapping=mapping)
    assert not ImportRow.objects.filter(job=job).exists()
    run(workspace, job)
    assert Contact.objects.get().fields == {"rank": "ゴールド"}


def test_an_exported_several_choice_answer_imports_again_as_the_list_it_was(workspace):
    from musubi.capture import points
    from musubi.capture.tests import factories as capture
    from musubi.imports.exports import export_csv

    point = capture.capture_point(workspace)  # asks "likes", a several-choice question
    points.submit(point=point, entry=capture.entry(email="list@example.jp", answers={"visits": "月1回",
                                                                                    "likes": ["刺身", "唐揚げ"]}))
    kept = Contact.objects.get(workspace=workspace).fields["likes"]
    assert sorted(kept) == ["刺身", "唐揚げ"]
    exported = b"".join(export_csv(workspace, Contact.objects.all(), encoding="utf-8"))
    Contact.objects.filter(workspace=workspace).update(fields={})
    job = upload(workspace, exported)
    configure(workspace, job)
    assert run(workspace, job).phase == "done"
    fields = Contact.objects.get(workspace=workspace).fields
    assert fields["likes"] == kept  # a list again, as the form keeps it
    assert fields["visits"] == "月1回"  # a single choice stays text


def test_an_export_heads_answers_with_their_questions_and_joins_several_choices(workspace):
    import csv
    import io

    from musubi.capture import points
    from musubi.capture.tests import factories as capture
    from musubi.imports.exports import export_csv

    point = capture.capture_point(workspace)  # asks "visits", "likes" (several choices) and "comment"
    # A newer form asks "comment" in other words, and asks for a phone number under a key of its own.
    changed = [*capture.SURVEY[:2], {**capture.SURVEY[2], "label": "ご感想"},
               {"key": "tel", "label": "電話番号", "kind": "text", "required": False, "options": []}]
    points.update_capture_point(workspace=workspace, actor=capture.owner_actor(), capture_point_id=point.pk,
                                setup=points.Setup(name=point.name), wording=capture.wording(questions=changed))
    submitted = points.submit(point=point, entry=capture.entry(answers={
        "visits": "月1回", "likes": ["刺身", "唐揚げ"], "comment": "美味しい", "tel": "夜のみ"}))
    contacts.update_fields(workspace=workspace, contact=submitted.contact, values={"rank": "ゴールド"})
    exported = b"".join(export_csv(workspace, Contact.objects.all(), encoding="utf-8")).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(exported)))
    assert header[5:] == ["ご感想", "お好きなメニュー", "rank", "電話番号（tel）", "ご来店の頻度"]  # keys' order
    assert row[5:] == ["美味しい", "唐揚げ, 刺身", "ゴールド", "夜のみ", "月1回"]

    Contact.objects.filter(workspace=workspace).update(fields={})  # read back, each column is its field again
    job = upload(workspace, exported.encode("utf-8"))
    assert [m["key"] for m in job.mapping[5:]] == ["comment", "likes", "rank", "tel", "visits"]
    configure(workspace, job)
    assert run(workspace, job).phase == "done"
    assert Contact.objects.get(workspace=workspace).fields == {
        "comment": "美味しい", "likes": ["唐揚げ", "刺身"], "rank": "ゴールド", "tel": "夜のみ", "visits": "月1回"}

