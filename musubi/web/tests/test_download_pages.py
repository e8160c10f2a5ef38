"""The owner adds the files an offer delivers on the offer's page, and removes them; counter staff cannot."""

import io

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from pypdf import PdfReader

from musubi.catalog import services as catalog
from musubi.commerce import downloads
from musubi.commerce.models import OfferFile
from musubi.workspaces.models import AuditEntry
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def guide(workspace):
    product = catalog.create_product(workspace=workspace, actor=SYSTEM, name="ガイド（PDF）", kind="digital")
    return catalog.create_offer(workspace=workspace, actor=SYSTEM, product_id=product.pk, name="副業スタートガイド",
                                role="front", price=2980)


def upload(client, workspace, offer, **fields):
    return client.post(f"/w/{workspace.slug}/offers/{offer.pk}/files/", fields)


def test_the_owner_adds_a_file_on_the_offers_page_and_sees_it_listed(owner_client, workspace, guide):
    page = owner_client.get(f"/w/{workspace.slug}/offers/{guide.pk}/").content.decode()
    assert "購入者向けダウンロードファイル" in page and "ファイルはまだありません" in page
    assert 'enctype="multipart/form-data"' in page
    pdf = SimpleUploadedFile("ガイド.pdf", b"%PDF-1.7 guide", content_type="application/pdf")
    response = upload(owner_client, workspace, guide, file=pdf, name="副業スタートガイド 本編", max_downloads="5")
    assert response.status_code == 302
    offer_file = OfferFile.objects.get()
    assert (offer_file.name, offer_file.file_name, offer_file.size, offer_file.content_type,
            offer_file.max_downloads) == ("副業スタートガイド 本編", "ガイド.pdf", 14, "application/pdf", 5)
    assert storages["downloads"].open(offer_file.stored_name).read() == b"%PDF-1.7 guide"
    page = owner_client.get(f"/w/{workspace.slug}/offers/{guide.pk}/").content.decode()
    assert "副業スタートガイド 本編" in page and "ガイド.pdf" in page
    assert AuditEntry.objects.filter(action="offer.file_added").exists()


def test_an_upload_without_a_file_names_the_field_and_keeps_nothing(owner_client, workspace, guide):
    response = upload(owner_client, workspace, guide, name="x")
    assert response.status_code == 400
    assert "このフィールドは必須です" in response.content.decode()
    response = upload(owner_client, workspace, guide, file=SimpleUploadedFile("a.pdf", b"x"), max_downloads="0")
    assert response.status_code == 400
    assert not OfferFile.objects.exists()


def test_a_file_over_the_limit_is_refused_before_its_body_is_read(owner_client, workspace, guide, settings):
    settings.MUSUBI_DOWNLOAD_MAX_BYTES = 10
    big = SimpleUploadedFile("big.zip", b"z" * (70 * 1024), content_type="application/zip")
    response = upload(owner_client, workspace, guide, file=big)
    assert response.status_code == 413
    assert "を超えています" in response.content.decode()
    slightly = SimpleUploadedFile("big.zip", b"z" * 11, content_type="application/zip")
    response = upload(owner_client, workspace, guide, file=slightly)
    assert response.status_code == 400 and "ファイルが 10\xa0バイト を超えています" in response.content.decode()
    assert not OfferFile.objects.exists()


def test_the_owner_removes_a_file(owner_client, workspace, guide, django_capture_on_commit_callbacks):
    upload(owner_client, workspace, guide, file=SimpleUploadedFile("a.pdf", b"pdf"))
    offer_file = OfferFile.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/w/{workspace.slug}/offers/{guide.pk}/files/{offer_file.pk}/delete/",
                                     follow=True)
    assert "ファイルを削除しました" in response.content.decode()
    assert not OfferFile.objects.exists() and not storages["downloads"].exists(offer_file.stored_name)


def test_counter_staff_see_the_files_but_cannot_add_or_remove_them(teammate_client, workspace, guide):
    offer_file = downloads.add_file(workspace=workspace, actor=SYSTEM, offer_id=guide.pk, upload=io.BytesIO(b"x"),
                                    file_name="a.pdf", size=1)
    page = teammate_client.get(f"/w/{workspace.slug}/offers/{guide.pk}/").content.decode()
    assert "a.pdf" in page and "ファイルを追加" not in page
    assert upload(teammate_client, workspace, guide, file=SimpleUploadedFile("b.pdf", b"y")).status_code == 403
    assert teammate_client.post(
        f"/w/{workspace.slug}/offers/{guide.pk}/files/{offer_file.pk}/delete/").status_code == 403
    assert list(OfferFile.objects.values_list("file_name", flat=True)) == ["a.pdf"]


def test_the_demo_guide_delivers_a_real_pdf(db):
    call_command("demo")
    offer_file = OfferFile.objects.get(offer__name="副業スタートガイド", file_name="副業スタートガイド.pdf")
    data = storages["downloads"].open(offer_file.stored_name).read()
    assert data.startswith(b"%PDF-") and len(data) == offer_file.size
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "副業スタートガイド" in text and "第3章 続けるための時間の作り方" in text  # readable Japanese, not boxes
