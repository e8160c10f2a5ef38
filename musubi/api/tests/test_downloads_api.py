"""Offer files through the API: a multipart upload, the list, the removal, and refusals naming the field."""

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from musubi.api.site import api
from musubi.catalog import services as catalog
from musubi.commerce.models import OfferFile
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def guide(workspace):
    product = catalog.create_product(workspace=workspace, actor=SYSTEM, name="ガイド（PDF）", kind="digital")
    return catalog.create_offer(workspace=workspace, actor=SYSTEM, product_id=product.pk, name="副業スタートガイド",
                                role="front", price=2980)


def post_file(key, offer_id, data):
    return Client().post(f"/api/v1/offers/{offer_id}/files", data, HTTP_AUTHORIZATION=f"Bearer {key}")


def upload(name, content, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_a_file_is_uploaded_listed_and_removed(owner_key, guide, django_capture_on_commit_callbacks):
    response = post_file(owner_key, guide.pk, {"file": upload("特典動画.mp4", b"\x00\x01video", "video/mp4"),
                                               "name": "特典動画", "max_downloads": "3"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("offer_id", "name", "file_name", "content_type", "size", "max_downloads")} == {
        "offer_id": guide.pk, "name": "特典動画", "file_name": "特典動画.mp4", "content_type": "video/mp4",
        "size": 7, "max_downloads": 3}
    assert "stored_name" not in body
    listed = Client().get(f"/api/v1/offers/{guide.pk}/files", HTTP_AUTHORIZATION=f"Bearer {owner_key}").json()
    assert [f["id"] for f in listed] == [body["id"]]
    stored = OfferFile.objects.get().stored_name
    with django_capture_on_commit_callbacks(execute=True):
        removed = Client().delete(f"/api/v1/offers/{guide.pk}/files/{body['id']}",
                                  HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    assert removed.status_code == 204
    assert not OfferFile.objects.exists() and not storages["downloads"].exists(stored)


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "x"}, "file"),
    ({"file": "not a file"}, "file"),
    ({"file": "a file", "max_downloads": "0"}, "max_downloads"),
    ({"file": "a file", "max_downloads": "many"}, "max_downloads"),
    ({"file": "a file", "name": "x" * 201}, "name"),
])
def test_bad_input_is_a_400_naming_the_field(owner_key, guide, data, field):
    if data.get("file") == "a file":
        data = {**data, "file": upload("a.pdf", b"pdf")}
    response = post_file(owner_key, guide.pk, data)
    assert response.status_code == 400, response.content
    assert field in str(response.json()["error"]["fields"])
    assert not OfferFile.objects.exists()


def test_a_file_over_the_limit_is_refused(owner_key, guide, settings):
    settings.MUSUBI_DOWNLOAD_MAX_BYTES = 2
    response = post_file(owner_key, guide.pk, {"file": upload("a.pdf", b"pdf")})
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert not OfferFile.objects.exists()


def test_the_upload_is_documented_as_multipart():
    operation = api.get_openapi_schema()["paths"]["/api/v1/offers/{offer_id}/files"]["post"]
    content = operation["requestBody"]["content"]
    assert list(content) == ["multipart/form-data"]
    properties = content["multipart/form-data"]["schema"]["properties"]
    assert {"file", "name", "max_downloads"} <= set(properties)
    assert properties["file"].get("format") == "binary" or "binary" in str(properties["file"])
