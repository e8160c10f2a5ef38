"""``{% offer_files_panel offer %}``: on the offer's page, the files its buyers download and the form to add one.
A tag so the offer's page needs one line for it."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from musubi.catalog.models import Offer
from musubi.commerce import downloads

register = template.Library()


@register.inclusion_tag("web/ladder/_offer_files.html", takes_context=True)
def offer_files_panel(context: template.Context, offer: Offer) -> dict[str, Any]:
    from musubi.web.download_pages import OfferFileForm

    return {"offer": offer, "files": downloads.files_of(offer), "workspace": context["workspace"],
            "can_manage": context.get("can_manage", False), "form": OfferFileForm(),
            "limit": settings.MUSUBI_DOWNLOAD_MAX_BYTES}
