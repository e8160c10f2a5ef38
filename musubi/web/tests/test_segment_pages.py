import re

from musubi.contacts import services
from musubi.contacts.models import Segment
from musubi.kernel.models import Fact
from musubi.workspaces.services import SYSTEM

VIP_ROW = {"rows": "1", "c0-was": "tag", "c0-type": "tag", "c0-tag": "VIP", "c0-op": "has", "match": "all"}


def person(workspace, email, name, tags=()):
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email=email),
                                                 name=name)
    services.tag(workspace=workspace, contact=contact, names=list(tags))
    return contact


def test_an_owner_builds_a_segment_sees_its_count_and_reaches_its_people(owner_client, workspace):
    regular = person(workspace, "a@example.jp", "山田太郎", ["VIP"])
    person(workspace, "b@example.jp", "佐藤花子")
    Fact.objects.create(workspace_id=workspace.pk, kind="link.clicked", occurred_at=regular.created_at,
                        contact_id=regular.pk)
    page = owner_client.get("/w/kenko/segments/new/").content.decode()
    assert "何で絞り込むか" in page and "条件を入れ終えると" in page  # one tag row, no tag chosen yet

    added = owner_client.post("/w/kenko/segments/new/", {**VIP_ROW, "action": "add"}).content.decode()
    assert "条件 2" in added and "条件を入れ終えると" in added  # the new row has no tag yet
    switched = owner_client.post("/w/kenko/segments/new/", {**VIP_ROW, "rows": "2", "c1-was": "tag",
                                                            "c1-type": "event"}).content.decode()
    assert "計測リンクをクリックした" in switched and 'name="c1-days"' in switched

    saved = owner_client.post("/w/kenko/segments/new/", {
        **VIP_ROW, "rows": "2", "c1-was": "event", "c1-type": "event", "c1-kind": "link.clicked",
        "c1-op": "within", "c1-days": "30", "name": "クリックした常連さん", "action": "save"})
    segment = Segment.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/w/kenko/segments/{segment.pk}/"
    assert segment.definition["conditions"][1] == {"type": "event", "kind": "link.clicked", "op": "within",
                                                   "days": 30}
    detail = owner_client.get(saved["Location"]).content.decode()
    assert f'href="/w/kenko/contacts/{regular.pk}/"' in detail and "佐藤花子" not in detail
    assert "直近30日以内に「計測リンクをクリックした」" in detail
    listing = owner_client.get("/w/kenko/segments/").content.decode()
    assert "クリックした常連さん" in listing and "タグ「VIP」が付いている かつ" in listing


def test_the_live_count_answers_while_the_owner_edits(owner_client, workspace):
    person(workspace, "a@example.jp", "山田太郎", ["VIP"])
    counted = owner_client.post("/w/kenko/segments/count/", VIP_ROW, HTTP_HX_REQUEST="true").content.decode()
    assert "当てはまる人: <strong>1</strong>人" in counted
    unfinished = owner_client.post("/w/kenko/segments/count/", {**VIP_ROW, "c0-tag": ""}).content.decode()
    assert "条件を入れ終えると" in unfinished
    assert owner_client.get("/w/kenko/segments/count/").status_code == 405


def test_a_segment_saved_through_htmx_sends_the_browser_to_its_page(owner_client, workspace):
    response = owner_client.post("/w/kenko/segments/new/", {**VIP_ROW, "name": "常連", "action": "save"},
                                 HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == f"/w/kenko/segments/{Segment.objects.get().pk}/"


def test_a_bad_condition_is_shown_on_its_row_and_nothing_is_saved(owner_client, workspace):
    response = owner_client.post("/w/kenko/segments/new/", {
        **VIP_ROW, "rows": "2", "c1-was": "event", "c1-type": "event", "c1-kind": "order.paid", "c1-op": "within",
        "c1-days": "0", "name": "", "action": "save"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "日数を1〜3650で入力してください" in page or "1以上にしてください" in page
    assert not Segment.objects.exists()


def test_an_owner_changes_and_deletes_a_segment(owner_client, workspace):
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="常連", definition={
        "conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]})
    form = owner_client.get(f"/w/kenko/segments/{segment.pk}/edit/").content.decode()
    assert 'value="常連"' in form and "<option selected>VIP</option>" not in form  # no tag exists yet: a text box
    owner_client.post(f"/w/kenko/segments/{segment.pk}/edit/", {**VIP_ROW, "c0-op": "has_not", "name": "常連以外",
                                                                "action": "save"})
    segment.refresh_from_db()
    assert (segment.name, segment.definition["conditions"][0]["op"]) == ("常連以外", "has_not")
    owner_client.post(f"/w/kenko/segments/{segment.pk}/delete/")
    assert not Segment.objects.exists()


def test_staff_look_at_segments_but_do_not_change_them(teammate_client, workspace):
    person(workspace, "a@example.jp", "山田太郎", ["VIP"])
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="常連", definition={
        "conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]})
    assert "山田太郎" in teammate_client.get(f"/w/kenko/segments/{segment.pk}/").content.decode()
    listing = teammate_client.get("/w/kenko/segments/").content.decode()
    assert "常連" in listing and "新しいセグメント" not in listing
    assert teammate_client.get("/w/kenko/segments/new/").status_code == 403
    assert teammate_client.post(f"/w/kenko/segments/{segment.pk}/edit/", {**VIP_ROW, "name": "x",
                                                                          "action": "save"}).status_code == 403
    assert teammate_client.post(f"/w/kenko/segments/{segment.pk}/delete/").status_code == 403
    assert Segment.objects.get().name == "常連"


def test_a_segment_with_groups_is_shown_in_words_and_changed_through_the_api(owner_client, workspace):
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="常連", definition={"conditions": [
        {"type": "group", "match": "any", "conditions": [{"type": "tag", "op": "has", "tag": "VIP"},
                                                         {"type": "event", "kind": "order.paid", "op": "ever"}]}]})
    detail = owner_client.get(f"/w/kenko/segments/{segment.pk}/").content.decode()
    assert "（タグ「VIP」が付いている または 「注文の代金を支払った」が一度でもある）" in detail
    response = owner_client.get(f"/w/kenko/segments/{segment.pk}/edit/", follow=True)
    assert "APIでのみ変更できます" in response.content.decode()


def test_members_are_paged(owner_client, workspace):
    for n in range(55):
        person(workspace, f"p{n}@example.jp", f"客{n}", ["VIP"])
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="常連", definition={
        "conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]})
    first = owner_client.get(f"/w/kenko/segments/{segment.pk}/").content.decode()
    second = owner_client.get(f"/w/kenko/segments/{segment.pk}/?page=2").content.decode()
    assert len(re.findall(r"/w/kenko/contacts/\d+/", first)) == 50
    assert len(re.findall(r"/w/kenko/contacts/\d+/", second)) == 5
    assert "客54" in first and "客0<" in second
