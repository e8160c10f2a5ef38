from musubi.imports import rules
from musubi.imports.choices import Target


def targets(headers):
    return [(m["target"], m["key"]) for m in rules.guess_mapping(headers)]


def test_japanese_headers_are_understood():
    assert targets(["メールアドレス", "お名前", "携帯", "LINE ID", "タグ", "会員ランク"]) == [
        ("email", ""), ("name", ""), ("phone", ""), ("line_user_id", ""), ("tags", ""), ("field", "会員ランク")]


def test_english_and_full_width_headers_are_understood():
    assert targets(["E-mail", "Name", "Phone", "Tags", "ｅメール"]) == [
        ("email", ""), ("name", ""), ("phone", ""), ("tags", ""), ("field", "eメール")]


def test_a_second_email_column_becomes_a_custom_field_and_family_and_given_names_both_feed_the_name():
    assert targets(["PCメール", "携帯メール", "姓", "名", ""]) == [
        ("email", ""), ("field", "携帯メール"), ("name", ""), ("name", ""), ("ignore", "")]


def test_a_mapping_needs_an_address_and_names_each_wrong_column():
    headers = ["a", "b", "c"]
    assert rules.mapping_problems([{"target": "name", "key": ""}, {"target": "ignore", "key": ""},
                                   {"target": "tags", "key": ""}], headers) == {
        "mapping": "メールアドレス・電話番号・LINE ユーザーIDのどれか 1 列以上を割り当ててください。"
                   "連絡先には連絡手段が必要です。"}
    problems = rules.mapping_problems([{"target": "email", "key": ""}, {"target": "email", "key": ""},
                                       {"target": "field", "key": " "}], headers)
    assert set(problems) == {"mapping.1", "mapping.2"}


def test_encodings_are_told_apart():
    text = "メールアドレス,氏名\r\ntaka@example.jp,髙橋 﨑子 ①\r\n"
    utf8 = rules.detect([text.encode("utf-8")])
    assert (utf8.encoding, utf8.has_bom) == ("utf-8", False)
    bom = rules.detect([b"\xef\xbb\xbf", text.encode("utf-8")])
    assert (bom.encoding, bom.has_bom) == ("utf-8", True)
    sjis = rules.detect([text.encode("cp932")[:7], text.encode("cp932")[7:]])  # split inside a character
    assert (sjis.encoding, sjis.valid_utf8) == ("cp932", False)
    assert rules.detect(["メールアドレス,名前\r\n山田".encode("utf-16")]).encoding is None  # Excel “Unicode text”
    assert rules.python_codec("utf-8", has_bom=True) == "utf-8-sig"


def checker(headers):
    return rules.RowChecker(rules.guess_mapping(headers), headers)


def test_a_row_names_each_bad_cell_by_its_column():
    row = checker(["メール", "電話番号", "LINE ID"]).check(["taro@", "12-34", "Uxyz"])
    assert [column for column, _message in row.problems] == ["メール", "電話番号", "LINE ID"]
    assert "メール: “taro@” はメールアドレスではありません。" in rules.problem_text(row.problems)


def test_a_good_row_is_normalised_and_a_blank_one_is_skipped():
    check = checker(["Ｅメール", "姓", "名", "電話", "タグ", "メモ"])
    row = check.check(["Taro＠Example.JP", "山田", "太郎", "０９０（１２３４）５６７８", "VIP、常連, 2024", "辛口"])
    assert (row.email, row.name, row.phone, row.tags, row.fields, row.problems) == (
        "taro@example.jp", "山田 太郎", "+819012345678", ["VIP", "常連", "2024"], {"メモ": "辛口"}, [])
    assert check.check(["", " ", "", "", "", ""]) is None
    assert check.check(["", "山田", "", "", "", ""]).problems == [
        ("", "この行にはメールアドレス・電話番号・LINE ユーザーIDがありません。")]


def test_target_choices_cover_the_guesses():
    assert {m["target"] for m in rules.guess_mapping(["email", "x"])} <= set(Target.values)


def test_fields_whose_questions_share_a_text_are_told_apart_by_their_keys_and_read_back_so():
    labels = {"comment": "ご意見", "comment2": "ご意見", "mail": "メール", "visits": "ご来店の頻度"}
    keys = ["comment", "comment2", "mail", "rank", "visits"]
    headers = rules.field_headers(keys, labels)
    assert headers == ["ご意見（comment）", "ご意見（comment2）", "メール（mail）", "rank", "ご来店の頻度"]
    mapping = rules.guess_mapping(["メールアドレス", *headers], rules.question_headers(labels))
    assert mapping[0] == {"target": "email", "key": ""}
    assert [(m["target"], m["key"]) for m in mapping[1:]] == [("field", key) for key in keys]
    assert rules.guess_mapping(["ご意見"], rules.question_headers(labels)) == [{"target": "field", "key": "ご意見"}]
