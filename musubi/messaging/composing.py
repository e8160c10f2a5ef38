"""From a template and a contact to the mail or LINE texts one person receives.

The legally required footer (sender, postal address, contact point, a visible way to stop the mail) and the
``List-Unsubscribe`` headers (RFC 2369 / RFC 8058 one-click) are added here for every advertising mail,
whatever the template says. Links become tracked links and an open pixel is added to HTML mail.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import override

from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging import line_images, line_messages, rendering, tracking
from musubi.messaging.models import SenderProfile, Template

REQUIRED_SENDER_FIELDS = ("from_name", "from_address", "legal_name", "postal_address", "contact_info")


def missing_sender_fields(profile: SenderProfile | None) -> list[str]:
    if profile is None:
        return list(REQUIRED_SENDER_FIELDS)
    return [name for name in REQUIRED_SENDER_FIELDS if not str(getattr(profile, name)).strip()]


def require_complete_sender(profile: SenderProfile | None) -> SenderProfile:
    """Advertising mail may not go out without the sender's name, address and contact point."""
    missing = missing_sender_fields(profile)
    if missing or profile is None:
        labels = {name: str(getattr(SenderProfile._meta.get_field(name), "verbose_name", name))
                  for name in REQUIRED_SENDER_FIELDS}
        raise InvalidInput(_("Email cannot be sent until the sender details are complete (the law requires "
                             "them on every advertising mail)."),
                           fields={name: _("Required before sending: %(field)s.") % {"field": labels[name]}
                                   for name in missing})
    return profile


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    address: str
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ComposedMail:
    delivery_id: int
    sender: str
    sender_name: str
    envelope_from: str
    recipient: str
    reply_to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def compile_template(template: Template) -> rendering.Compiled:
    return rendering.Compiled.of(subject=template.subject, html_source=template.html, text=template.text,
                                 line=line_messages.compile_messages(template.line_messages))


def compile_mail_template(template: Template) -> rendering.Compiled:
    """An email template parsed once per worker for as long as its text stays the same (a broadcast's
    batches all use it; parsing costs milliseconds)."""
    return _compiled_mail(template.subject, template.html, template.text)


@functools.lru_cache(maxsize=64)
def _compiled_mail(subject: str, html_source: str, text: str) -> rendering.Compiled:
    return rendering.Compiled.of(subject=subject, html_source=html_source, text=text)


def _context(recipient: Recipient, *, workspace_name: str, tz: str) -> dict[str, Any]:
    today = clock.now().astimezone(zoneinfo.ZoneInfo(tz)).date()
    return rendering.context(name=recipient.name, email=recipient.address, fields=recipient.fields,
                             workspace=workspace_name, today=f"{today:%Y-%m-%d}")


def compose_mail(compiled: rendering.Compiled, profile: SenderProfile, recipient: Recipient, *,
                 workspace_name: str, tz: str) -> ComposedMail:
    return MailComposer(compiled, profile, workspace_name=workspace_name, tz=tz).compose(recipient)


# Stand-ins for the per-delivery addresses in a footer rendered once; each is replaced by the real address.
# Letters and digits only, so HTML escaping leaves them as they are.
_UNSUBSCRIBE, _PREFERENCES, _PIXEL = "MUSUBIUNSUBSCRIBEURL", "MUSUBIPREFERENCESURL", "MUSUBIOPENPIXELURL"


class MailComposer:
    """Composes one template's mail for one sender, recipient after recipient: what is the same for all of
    them (the legal footer in both forms, the From header, the date in the workspace's time zone) is made
    once, so each mail costs only its own rendering and links. Made per batch (the date and the sender's
    details are read when the batch is sent)."""

    def __init__(self, compiled: rendering.Compiled, profile: SenderProfile, *, workspace_name: str, tz: str):
        self.compiled = compiled
        self.profile = profile
        self.workspace_name = workspace_name
        self.today = f"{clock.now().astimezone(zoneinfo.ZoneInfo(tz)).date():%Y-%m-%d}"
        self.sender = formataddr((profile.from_name, profile.from_address))
        self.links = tracking.MailLinks()
        footer = {"profile": profile, "unsubscribe": _UNSUBSCRIBE, "preferences": _PREFERENCES}
        with override(settings.LANGUAGE_CODE):
            self.text_footer = render_to_string("messaging/mail/footer.txt", footer)
            self.html_footer = render_to_string("messaging/mail/footer.html", {**footer, "pixel": _PIXEL})

    def compose(self, recipient: Recipient) -> ComposedMail:
        compiled, profile, delivery_id, links = self.compiled, self.profile, recipient.delivery_id, self.links
        ctx = rendering.context(name=recipient.name, email=recipient.address, fields=recipient.fields,
                                workspace=self.workspace_name, today=self.today)

        tracked: dict[str, str] = {}  # the same link in the text and the HTML part is signed once

        def track(url: str) -> str:
            found = tracked.get(url)
            if found is None:
                found = tracked[url] = links.click(delivery_id, url)
            return found

        subject = " ".join(compiled.subject.render(ctx).split())
        html_body = compiled.html.render(ctx) if compiled.html is not None else ""
        text_body = compiled.render_text(ctx, html_body)
        unsubscribe, preferences = links.unsubscribe_and_preferences(delivery_id)
        text_footer = self.text_footer.replace(_UNSUBSCRIBE, unsubscribe).replace(_PREFERENCES, preferences)
        text = rendering.rewrite_text_links(text_body, track).rstrip() + "\n\n" + text_footer
        html = ""
        if html_body:
            html_footer = (self.html_footer.replace(_UNSUBSCRIBE, escape(unsubscribe))
                           .replace(_PREFERENCES, escape(preferences))
                           .replace(_PIXEL, escape(links.open(delivery_id))))
            html = rendering.rewrite_html_links(html_body, track)
            html = html.replace("</body>", html_footer + "</body>") if "</body>" in html else html + html_footer
        return ComposedMail(
            delivery_id=delivery_id, sender=self.sender, sender_name=profile.from_name,
            envelope_from=profile.from_address, recipient=recipient.address, reply_to=profile.reply_to,
            subject=subject, text=text, html=html,
            unsubscribe_url=unsubscribe,
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def compose_line(compiled: rendering.Compiled, recipient: Recipient | None, *, delivery_id: int | None,
                 workspace_name: str, tz: str, site: str | None = None) -> list[dict[str, Any]]:
    """LINE's JSON of the messages one person gets. A multicast is rendered once for everyone (``recipient``
    None, ``delivery_id`` None): its links are not tracked per person. Pictures are addressed under
    ``MUSUBI_BASE_URL``, or under ``site`` ("" for a page of this site showing them)."""
    ctx = _context(recipient, workspace_name=workspace_name, tz=tz) if recipient else rendering.context(
        name="", email="", fields={}, workspace=workspace_name,
        today=f"{clock.now().astimezone(zoneinfo.ZoneInfo(tz)).date():%Y-%m-%d}")
    track = (lambda url: tracking.click_url(delivery_id, url)) if delivery_id is not None else None
    links = line_messages.Links(image=lambda key: line_images.image_url(key, site),
                                preview=lambda key: line_images.preview_url(key, site), track=track)
    rendered = [m.render(ctx, links) for m in compiled.line]
    return [m for m in rendered if m is not None][:line_messages.MAX_MESSAGES]


def local_time(at: dt.datetime, tz: str) -> dt.datetime:
    return at.astimezone(zoneinfo.ZoneInfo(tz))
