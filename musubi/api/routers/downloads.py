"""Files an offer delivers to its buyers: list them, upload one (multipart/form-data), remove one. Buyers
fetch them from their members' page through links signed for their order; the API never hands out a file."""

import datetime as dt
from typing import Any

from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.types import Input, ObjectId
from musubi.catalog import queries as catalog_queries
from musubi.commerce import downloads

router = Router(tags=["offer files"])


class OfferFileOut(Schema):
    id: int
    offer_id: int
    name: str = Field(description="What the buyer reads on their members' page.")
    file_name: str = Field(description="The name the buyer's browser saves it as.")
    content_type: str
    size: int = Field(description="In bytes.")
    max_downloads: int | None = Field(description="Downloads allowed per order; null for no limit.")
    created_at: dt.datetime


class OfferFileForm(Input):
    name: str = Field(default="", max_length=200, description="Shown to the buyer; empty for the file's own name.")
    max_downloads: int | None = Field(default=None, ge=1, le=downloads.MAX_DOWNLOADS_LIMIT,
                                      description="Downloads allowed per order; empty for no limit.")


@router.get("/offers/{offer_id}/files", response=with_errors({200: list[OfferFileOut]}),
            summary="The files the offer's buyers download")
def list_offer_files(request: ApiRequest, offer_id: ObjectId) -> Any:
    return downloads.files_of(catalog_queries.offer(request.workspace, offer_id))


@router.post("/offers/{offer_id}/files", response=with_errors({201: OfferFileOut}),
             summary="Upload a file for the offer's buyers (multipart/form-data: file, name, max_downloads)",
             description="The part named `file` holds the file; its file name and content type are kept. Refused "
                         "(400, field `file`) above the installation's size limit (500 MB unless "
                         "MUSUBI_DOWNLOAD_MAX_MB says otherwise).")
def upload_offer_file(request: ApiRequest, offer_id: ObjectId, payload: Form[OfferFileForm],
                      file: UploadedFile | None = File(None)) -> Any:  # noqa: B008 — ninja's way to declare a part
    offer = catalog_queries.offer(request.workspace, offer_id)  # 404 before the body is judged
    offer_file = downloads.add_file(workspace=request.workspace, actor=request.actor, offer_id=offer.pk,
                                    upload=file, file_name=(file and file.name) or "", size=(file and file.size) or 0,
                                    content_type=(file and file.content_type) or "", name=payload.name,
                                    max_downloads=payload.max_downloads)
    return Status(201, offer_file)


@router.delete("/offers/{offer_id}/files/{file_id}", response=with_errors({204: None}),
               summary="Remove a file; links already given for it stop working")
def delete_offer_file(request: ApiRequest, offer_id: ObjectId, file_id: ObjectId) -> Any:
    downloads.remove_file(workspace=request.workspace, actor=request.actor, offer_id=offer_id, file_id=file_id)
    return Status(204, None)
