"""Pictures for LINE messages: uploaded here, then named by their key in a template's or keyword rule's
``image`` and ``buttons`` messages."""

from typing import Any

from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.messaging import line_images
from musubi.workspaces.rules import Action

router = Router(tags=["messaging"])


class LineImageOut(Schema):
    key: str
    url: str
    preview_url: str
    content_type: str
    width: int
    height: int
    size: int


@router.post("/line-images", response=with_errors({201: LineImageOut}),
             summary="Upload a JPEG or PNG picture for LINE messages (up to 10 MB; a larger one than LINE takes is "
                     "scaled to 1,024 pixels wide and at most 1 MB)")
def upload_line_image(request: ApiRequest, file: File[UploadedFile]) -> Any:
    request.actor.require(Action.MANAGE)
    image = line_images.store(workspace=request.workspace, data=file.read(line_images.UPLOAD_MAX_BYTES + 1),
                              name=file.name or "", field="file")
    key = str(image.key)
    return Status(201, {"key": key, "url": line_images.image_url(key), "preview_url": line_images.preview_url(key),
                        "content_type": image.content_type, "width": image.width, "height": image.height,
                        "size": image.size})
