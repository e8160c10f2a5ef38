from musubi.capture.models import Source, TrackingLink


def test_an_owner_adds_a_table_spot_and_downloads_its_qr_code(owner_client, workspace):
    owner_client.post("/w/kenko/sources/",
                      {"form": "source", "source-kind": "store_spot", "source-name": "テーブル12番"})
    source = Source.objects.get(name="テーブル12番")
    owner_client.post("/w/kenko/sources/", {"form": "link", "link-source_id": source.pk,
                                            "link-target_url": "https://kenko.example.jp/line"})
    link = TrackingLink.objects.get()
    page = owner_client.get("/w/kenko/sources/").content.decode()
    assert f"/r/{link.code}" in page
    svg = owner_client.get(f"/w/kenko/links/{link.pk}/qr.svg")
    png = owner_client.get(f"/w/kenko/links/{link.pk}/qr.png")
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<?xml")
    assert png.content.startswith(b"\x89PNG")
    assert owner_client.get(f"/w/kenko/links/{link.pk}/qr.gif").status_code == 404


def test_a_bad_target_is_shown_on_its_field_and_nothing_is_made(owner_client, workspace):
    owner_client.post("/w/kenko/sources/", {"form": "source", "source-kind": "ad", "source-name": "広告"})
    source = Source.objects.get()
    response = owner_client.post("/w/kenko/sources/", {"form": "link", "link-source_id": source.pk,
                                                       "link-target_url": "javascript:alert(1)"})
    assert "https:// または http://" in response.content.decode()
    assert not TrackingLink.objects.exists()


def test_staff_see_links_but_cannot_add_sources(teammate_client, workspace):
    assert teammate_client.get("/w/kenko/sources/").status_code == 200
    response = teammate_client.post("/w/kenko/sources/", {"form": "source", "source-kind": "ad", "source-name": "x"})
    assert response.status_code == 403
    assert not Source.objects.exists()
