"""Files delivered to the buyers of an offer: the owner uploads them, buyers fetch them through links signed for
one order and one file that work for a limited time, and every download is counted and recorded.

The files live in the ``downloads`` storage (``settings.STORAGES``), which nothing serves: the only way to a
file is ``open_download`` with a valid link. Every refusal — a forged or expired link, an order not paid or
refunded or cancelled, a file of another offer, another workspace — is the same ``NotFound``, so a link
reveals nothing about why it fails. Only a used-up download limit is said plainly, to the order's own buyer.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.catalog.models import Offer
from musubi.commerce.access import HAS_BOUGHT
from musubi.commerce.models import Download, OfferFile, Order
from musubi.commerce.order_lifecycle import add_to_timeline
from musubi.kernel import clock, tokens
from musubi.kernel.errors import Forbidden, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

DOWNLOAD = "download"
MAX_DOWNLOADS_LIMIT = 1000
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")


class DownloadsUsedUp(Forbidden):
    """The order's buyer has fetched this file as often as the owner allows."""


@dataclass(frozen=True)
class Link:
    """A file as its buyer sees it on the members' page: a fresh link, or none once the limit is used up."""

    file: OfferFile
    url: str
    remaining: int | None  # None: no limit

    @property
    def used_up(self) -> bool:
        return self.remaining == 0


def storage() -> Storage:
    return storages["downloads"]


def files_of(offer: Offer) -> list[OfferFile]:
    return list(OfferFile.objects.filter(workspace_id=offer.workspace_id, offer_id=offer.pk))


def _invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput(_("Some entries need attention."), fields=fields)


def clean_file_name(name: str) -> str:
    """The name the buyer's browser saves the file as: the uploaded name without folders or control
    characters, in NFC (macOS uploads Japanese names decomposed), at most 200 characters with its extension."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: 199 - len(extension)] + dot + extension) if dot and len(extension) <= 20 else name[:200]
    return name or "download"


def _content_type(given: str, file_name: str) -> str:
    given = (given or "").split(";", 1)[0].strip().lower()
    if _CONTENT_TYPE.match(given) and len(given) <= 100 and given != "application/octet-stream":
        return given
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def add_file(*, workspace: Workspace, actor: Actor, offer_id: int, upload: IO[bytes] | File | None, file_name: str,
             size: int, content_type: str = "", name: str = "", max_downloads: int | None = None) -> OfferFile:
    """Keep an uploaded file for the buyers of an offer. ``name`` is what the buyer reads (the file's own
    name when blank); the browser's content type is kept when it is a plain ``type/subtype``."""
    actor.require(Action.MANAGE)
    offer = Offer.objects.for_workspace(workspace).filter(pk=offer_id).first()
    if offer is None:
        raise NotFound(_("This workspace has no such offer."))
    limit = settings.MUSUBI_DOWNLOAD_MAX_BYTES
    problems: dict[str, str] = {}
    if upload is None:
        problems["file"] = _("Choose a file.")
    elif size > limit:
        problems["file"] = _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)}
    elif size <= 0:
        problems["file"] = _("The file is empty.")
    name = " ".join((name or "").split())
    if len(name) > 200:
        problems["name"] = _("Use at most 200 characters.")
    if max_downloads is not None and not 1 <= max_downloads <= MAX_DOWNLOADS_LIMIT:
        problems["max_downloads"] = _("Enter a number from 1 to %(most)s, or leave it empty for no limit.") % {
            "most": MAX_DOWNLOADS_LIMIT}
    if problems or upload is None:
        raise _invalid(problems)
    file_name = clean_file_name(file_name)
    # A random name, not the buyer-facing one: nothing about the file can be guessed from where it is kept.
    stored = storage().save(f"{workspace.pk}/{offer.pk}/{secrets.token_urlsafe(24)}",
                            upload if isinstance(upload, File) else File(upload))
    try:
        with transaction.atomic():
            offer_file = OfferFile.objects.create(
                workspace=workspace, offer=offer, name=name or file_name, file_name=file_name, stored_name=stored,
                content_type=_content_type(content_type, file_name), size=size, max_downloads=max_downloads,
                created_at=clock.now())
            record_audit(workspace=workspace, actor=actor, action="offer.file_added", obj=offer,
                         changes={"file": offer_file.name, "size": size})
    except BaseException:
        storage().delete(stored)
        raise
    return offer_file


@transaction.atomic
def remove_file(*, workspace: Workspace, actor: Actor, offer_id: int, file_id: int) -> None:
    """Stop delivering a file; links already given stop working, and the stored bytes go once this commits."""
    actor.require(Action.MANAGE)
    offer_file = OfferFile.objects.for_workspace(workspace).filter(pk=file_id, offer_id=offer_id).first()
    if offer_file is None:
        raise NotFound(_("This offer has no such file."))
    stored = offer_file.stored_name
    offer_file.delete()
    record_audit(workspace=workspace, actor=actor, action="offer.file_removed", obj=offer_file.offer,
                 changes={"file": offer_file.name})
    transaction.on_commit(lambda: storage().delete(stored))


# --- Buyers ---------------------------------------------------------------------------------------------------

def link_token(order: Order, offer_file: OfferFile) -> str:
    return tokens.sign({"o": order.pk, "f": offer_file.pk, "w": order.workspace_id}, purpose=DOWNLOAD)


def links_for(order: Order) -> list[Link]:
    """The files of the order's offer with a link for this buyer, made now; none until the order is paid."""
    if order.status not in HAS_BOUGHT:
        return []
    offer_files = OfferFile.objects.filter(workspace_id=order.workspace_id, offer_id=order.offer_id)
    used = _downloads_by_file(order)
    found = []
    for offer_file in offer_files:
        remaining = None
        if offer_file.max_downloads is not None:
            remaining = max(offer_file.max_downloads - used.get(offer_file.pk, 0), 0)
        url = reverse("member_download", args=[link_token(order, offer_file)]) if remaining != 0 else ""
        found.append(Link(file=offer_file, url=url, remaining=remaining))
    return found


def _downloads_by_file(order: Order) -> dict[int, int]:
    counts: dict[int, int] = {}
    for file_id in Download.objects.filter(order=order).values_list("offer_file_id", flat=True):
        counts[file_id] = counts.get(file_id, 0) + 1
    return counts


def _refused() -> NotFound:
    return NotFound(_("This link is not valid or has expired. Open your members' page again for a new one."))


def open_download(token: str) -> tuple[OfferFile, IO[bytes]]:
    """The file a download link names, opened for reading, with the download recorded: counted for the
    order, on the order's timeline and as a fact about the buyer. NotFound for anything wrong with the link;
    ``DownloadsUsedUp`` when the order has used every download the owner allows."""
    try:
        value = tokens.unsign(token, purpose=DOWNLOAD, max_age_seconds=settings.MUSUBI_DOWNLOAD_LINK_SECONDS)
    except signing.BadSignature as exc:
        raise _refused() from exc
    if not isinstance(value, dict) or not all(isinstance(value.get(key), int) for key in "ofw"):
        raise _refused()
    order_id, file_id, workspace_id = int(value["o"]), int(value["f"]), int(value["w"])
    with transaction.atomic():
        # The order's row is locked so two downloads at once cannot both take the last one allowed.
        order = Order.objects.select_for_update().filter(pk=order_id, workspace_id=workspace_id).first()
        if order is None or order.status not in HAS_BOUGHT:
            raise _refused()
        offer_file = OfferFile.objects.filter(pk=file_id, workspace_id=order.workspace_id,
                                              offer_id=order.offer_id).first()
        if offer_file is None:
            raise _refused()
        if offer_file.max_downloads is not None:
            used = Download.objects.filter(order=order, offer_file=offer_file).count()
            if used >= offer_file.max_downloads:
                raise DownloadsUsedUp(_(
                    "“%(name)s” has been downloaded %(limit)s times, as many as this purchase allows. Please "
                    "contact the shop if you need it again.") % {"name": offer_file.name,
                                                                 "limit": offer_file.max_downloads})
        _record(order, offer_file)
    return offer_file, storage().open(offer_file.stored_name, "rb")


def _record(order: Order, offer_file: OfferFile) -> None:
    now = clock.now()
    Download.objects.create(workspace_id=order.workspace_id, order=order, offer_file=offer_file, at=now)
    add_to_timeline(order, "downloaded", _("Downloaded “%(name)s”") % {"name": offer_file.name})
    record_fact(workspace_id=order.workspace_id, kind="file.downloaded", occurred_at=now,
                contact_id=order.contact_id, subject=("commerce.offerfile", offer_file.pk),
                data={"order": order.pk, "offer": order.offer_id, "file": offer_file.name})
