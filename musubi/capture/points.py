"""Use cases of capture points: making and changing an opt-in form, and taking a person's opt-in.

The wording a person reads is versioned: a change of any of it makes a new ``CapturePointVersion``, and
the consent record of each opt-in names the version and keeps the hash of its wording — the evidence the
特定電子メール法 asks a sender to keep. With double opt-in nothing is consented and nothing is given until
the person follows the link mailed to them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.signing import BadSignature
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.capture import coupons, rules, visitors
from musubi.capture.choices import Incentive, SubmissionStatus, SubmittedVia
from musubi.capture.events import OptInCompleted
from musubi.capture.models import (
    CapturePoint,
    CapturePointVersion,
    ConfirmationMail,
    Coupon,
    CouponDefinition,
    Source,
    Submission,
)
from musubi.capture.services import attributed_source, first_touch_source
from musubi.catalog.models import Offer
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, LegalBasis
from musubi.contacts.models import Contact
from musubi.kernel import clock, events, tokens
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

CONFIRM_PURPOSE = "optin.confirm"
THANKS_PURPOSE = "optin.thanks"
CONFIRM_MAX_AGE = dt.timedelta(days=7)
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp", b"GIF8": "gif"}


@dataclass(frozen=True)
class Wording:
    """Everything a person reads on a capture point. Any change to it makes a new version."""

    headline: str
    consent_text: str
    purpose_text: str
    sender_name: str
    body: str = ""
    ask_email: bool = True
    ask_name: bool = True
    ask_phone: bool = False
    questions: list[dict[str, Any]] = field(default_factory=list)
    privacy_url: str = ""
    tokushoho_url: str = ""
    button_label: str = ""
    thanks_text: str = ""


@dataclass(frozen=True)
class Setup:
    """How a capture point behaves; changing it does not change what people read."""

    name: str
    offer_id: int | None = None
    source_id: int | None = None
    double_opt_in: bool = False
    consent_required: bool = True
    incentive: str = Incentive.NONE
    coupon_id: int | None = None
    download_url: str = ""
    tags: list[str] = field(default_factory=list)
    active: bool = True


_LIMITS = {"headline": 200, "consent_text": 500, "purpose_text": 5000, "sender_name": 200, "body": 10000,
           "button_label": 50, "thanks_text": 5000}


def _check_wording(wording: Wording) -> Wording:
    fields: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        value = getattr(wording, name)
        if len(value) > limit:
            fields[name] = _("Write at most %(n)d characters.") % {"n": limit}
    for name in ("headline", "consent_text", "purpose_text", "sender_name"):
        if not getattr(wording, name).strip():
            fields[name] = {
                "headline": _("Enter a headline."),
                "consent_text": _("Enter the sentence the person ticks to agree to receive your messages."),
                "purpose_text": _("Say what the details are used for (the law asks for the purpose of use)."),
                "sender_name": _("Enter the sender's legal name (the law asks for it)."),
            }[name]
    for name in ("privacy_url", "tokushoho_url"):
        url = getattr(wording, name)
        if url and (not rules.is_web_url(url) or len(url) > 2000):
            fields[name] = _("Enter a web address starting with https:// or http://.")
    if not (wording.ask_email or wording.ask_phone):
        fields["ask_email"] = _("Ask for an email address or a phone number: without one you cannot reach the person.")
    questions = wording.questions
    try:
        questions = rules.clean_questions(wording.questions)
    except rules.QuestionsInvalid as exc:
        fields.update(exc.fields)
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    text_fields = {name: getattr(wording, name).strip() for name in _LIMITS}
    return dataclasses.replace(wording, questions=questions, **text_fields)


def _check_setup(workspace: Workspace, setup: Setup, wording: Wording) -> dict[str, Any]:
    fields: dict[str, str] = {}
    resolved: dict[str, Any] = {"offer": None, "source": None, "coupon": None}
    if not setup.name.strip() or len(setup.name) > 200:
        fields["name"] = _("Enter a name of 1–200 characters.")
    for key, model, message in (("offer", Offer, _("This workspace has no such offer.")),
                                ("source", Source, _("This workspace has no such source.")),
                                ("coupon", CouponDefinition, _("This workspace has no such coupon."))):
        wanted = getattr(setup, f"{key}_id")
        if wanted is not None:
            resolved[key] = model.objects.for_workspace(workspace).filter(pk=wanted).first()  # type: ignore[attr-defined]
            if resolved[key] is None:
                fields[f"{key}_id"] = message
    if setup.incentive not in Incentive.values:
        fields["incentive"] = _("Choose what the person gets.")
    elif setup.incentive == Incentive.COUPON and setup.coupon_id is None:
        fields["coupon_id"] = _("Choose the coupon to give.")
    elif setup.incentive == Incentive.DOWNLOAD and not rules.is_web_url(setup.download_url):
        fields["download_url"] = _("Enter a web address starting with https:// or http://.")
    if setup.double_opt_in and not wording.ask_email:
        fields["double_opt_in"] = _("Double opt-in confirms by email, so the form must ask for an email address.")
    if len(setup.tags) > 20 or any(not t.strip() or len(t) > 100 for t in setup.tags):
        fields["tags"] = _("Give at most 20 tags of 1–100 characters.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    return resolved


def _image_kind(image: UploadedFile | None) -> str | None:
    """The image's file type by its first bytes (never by the name or the browser's word), or InvalidInput."""
    if image is None:
        return None
    head = image.read(12)
    image.seek(0)
    kind = next((k for magic, k in IMAGE_TYPES.items() if head.startswith(magic)), None)
    if kind is None or (kind == "webp" and head[8:12] != b"WEBP"):
        raise InvalidInput(_("Some fields need attention."),
                           fields={"image": _("Upload a PNG, JPEG, WebP or GIF image.")})
    if (image.size or 0) > IMAGE_MAX_BYTES:
        raise InvalidInput(_("Some fields need attention."),
                           fields={"image": _("The image may be at most 2 MB.")})
    return kind


def _new_version(point: CapturePoint, wording: Wording, *, number: int, image: Any) -> CapturePointVersion:
    version = CapturePointVersion(workspace_id=point.workspace_id, capture_point=point, number=number,
                                  created_at=clock.now(), **dataclasses.asdict(wording))
    if isinstance(image, UploadedFile):
        kind = _image_kind(image)
        version.image.save(f"{point.code}-v{number}.{kind}", image, save=False)
    elif image:
        version.image = image  # the previous version's file, unchanged
    version.wording_hash = rules.wording_hash(rules.version_wording(_shown(version)))
    version.save()
    return version


def _shown(version: CapturePointVersion) -> dict[str, Any]:
    shown = {f.name: getattr(version, f.name) for f in dataclasses.fields(Wording)}
    shown["image"] = version.image.name if version.image else ""
    return shown


@transaction.atomic
def create_capture_point(*, workspace: Workspace, actor: Actor, setup: Setup, wording: Wording,
                         image: UploadedFile | None = None) -> CapturePoint:
    actor.require(Action.MANAGE)
    wording = _check_wording(wording)
    resolved = _check_setup(workspace, setup, wording)
    _image_kind(image)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                point = CapturePoint.objects.create(
                    workspace=workspace, code=tokens.readable_code(8), created_at=clock.now(),
                    **_setup_values(setup, resolved))
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover
        raise Conflict(_("Could not find a free code; try again."))
    _new_version(point, wording, number=1, image=image)
    record_audit(workspace=workspace, actor=actor, action="capture_point.created", obj=point,
                 changes={"name": point.name})
    return point


def _setup_values(setup: Setup, resolved: dict[str, Any]) -> dict[str, Any]:
    return {"name": setup.name.strip(), "offer": resolved["offer"], "source": resolved["source"],
            "double_opt_in": setup.double_opt_in, "consent_required": setup.consent_required,
            "incentive": setup.incentive,
            "coupon": resolved["coupon"] if setup.incentive == Incentive.COUPON else None,
            "download_url": setup.download_url if setup.incentive == Incentive.DOWNLOAD else "",
            "tags": sorted({t.strip() for t in setup.tags}), "active": setup.active}


@transaction.atomic
def update_capture_point(*, workspace: Workspace, actor: Actor, capture_point_id: int, setup: Setup,
                         wording: Wording, image: UploadedFile | None = None,
                         remove_image: bool = False) -> tuple[CapturePoint, bool]:
    """Change a capture point; returns it and whether the change made a new version of its wording."""
    actor.require(Action.MANAGE)
    point = capture_point_of(workspace, capture_point_id, lock=True)
    wording = _check_wording(wording)
    resolved = _check_setup(workspace, setup, wording)
    _image_kind(image)
    for name, value in _setup_values(setup, resolved).items():
        setattr(point, name, value)
    point.save()
    current = current_version(point)
    kept_image = None if remove_image else current.image
    changed = (image is not None or (remove_image and bool(current.image))
               or _shown(current) != {**dataclasses.asdict(wording), "image": current.image.name or ""})
    if changed:
        _new_version(point, wording, number=current.number + 1, image=image or kept_image)
    record_audit(workspace=workspace, actor=actor, action="capture_point.changed", obj=point,
                 changes={"name": point.name, "new_version": changed})
    return point, changed


def capture_point_of(workspace: Workspace, capture_point_id: int, *, lock: bool = False) -> CapturePoint:
    found = CapturePoint.objects.for_workspace(workspace)
    if lock:
        found = found.select_for_update()
    point = found.filter(pk=capture_point_id).first()
    if point is None:
        raise NotFound(_("This workspace has no such capture point."))
    return point


def current_version(point: CapturePoint) -> CapturePointVersion:
    return point.versions.order_by("-number").first()  # type: ignore[return-value]  # every point has a version


def public_capture_point(code: str) -> CapturePoint:
    """The open capture point behind a public URL; a closed or unknown one is the same 404."""
    point = (CapturePoint.objects.select_related("workspace", "coupon").filter(code=code.upper(), active=True).first()
             if 4 <= len(code) <= 16 else None)
    if point is None:
        raise NotFound(_("This form does not exist or is closed."))
    return point


# --- Taking an opt-in -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """What a person sent through a form, and where it came from."""

    email: str = ""
    name: str = ""
    phone: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    consented: bool = False
    via: str = SubmittedVia.PAGE
    ip_address: str = ""
    user_agent: str = ""
    visitor_id: str = ""
    source_id: int | None = None
    version_number: int | None = None
    time_zone: str = ""  # the browser's, when the page could tell


def _check_entry(point: CapturePoint, version: CapturePointVersion, entry: Entry,
                 ) -> tuple[contacts.Addresses, dict[str, Any]]:
    fields: dict[str, str] = {}
    if version.ask_email and not entry.email.strip():
        fields["email"] = _("Enter your email address.")
    if version.ask_name and not entry.name.strip():
        fields["name"] = _("Enter your name.")
    if len(entry.name) > 200:
        fields["name"] = _("Write at most %(n)d characters.") % {"n": 200}
    if version.ask_phone and not entry.phone.strip():
        fields["phone"] = _("Enter your phone number.")
    addresses = contacts.Addresses()
    email = entry.email if version.ask_email else ""
    phone = entry.phone if version.ask_phone else ""
    if (email.strip() or phone.strip()) and not fields.keys() & {"email", "phone"}:
        try:
            addresses = contacts.normalise(email=email.strip() or None, phone=phone.strip() or None,
                                           country=point.workspace.country)
        except InvalidInput as exc:
            fields.update(exc.fields)
    answers, answer_errors = rules.clean_answers(version.questions, entry.answers)
    fields.update(answer_errors)
    if point.consent_required and not entry.consented:
        fields["consent"] = _("Tick the box to agree, or we cannot register you.")
    if fields:
        raise InvalidInput(_("Please check the fields marked below."), fields=fields)
    return addresses, answers


@transaction.atomic
def submit(*, point: CapturePoint, entry: Entry) -> Submission:
    """Take one opt-in. The person is found or created (merged with who they already are), their answers
    kept, the source credited; then, unless the point asks for double opt-in, their consent is recorded and
    the incentive issued at once. Bad input changes nothing."""
    workspace = point.workspace
    version = current_version(point)
    if entry.version_number is not None and entry.version_number != version.number:
        # The page changed while the person was reading it: they must agree to what is shown now.
        raise Conflict(_("This form was changed while you were filling it in. Please check it and send it again."),
                       code="version_changed")
    addresses, answers = _check_entry(point, version, entry)
    now = clock.now()
    source_id = entry.source_id
    if source_id is not None and not Source.objects.for_workspace(workspace).filter(pk=source_id).exists():
        raise InvalidInput(_("Some fields need attention."),
                           fields={"source_id": _("This workspace has no such source.")})
    source_id = source_id or attributed_source(workspace=workspace, visitor_id=entry.visitor_id, at=now) \
        or point.source_id
    first = first_touch_source(workspace=workspace, visitor_id=entry.visitor_id) or source_id
    contact, _created = contacts.find_or_create_contact(workspace=workspace, addresses=addresses,
                                                        name=entry.name, source_id=source_id, first_source_id=first)
    contacts.update_fields(workspace=workspace, contact=contact, values=answers)
    _adopt_time_zone(workspace, contact, entry.time_zone)
    if point.tags:
        contacts.tag(workspace=workspace, contact=contact, names=point.tags)
    submission = Submission.objects.create(
        workspace=workspace, capture_point=point, version=version, contact=contact,
        status=SubmissionStatus.PENDING, via=entry.via, at=now, email=addresses.email or "",
        consented=entry.consented, answers=answers, source_id=source_id, visitor_id=entry.visitor_id[:36],
        ip_address=entry.ip_address[:64], user_agent=entry.user_agent[:500])
    record_fact(workspace_id=workspace.pk, kind="optin.submitted", contact_id=contact.pk, source_id=source_id,
                subject=("capture.submission", submission.pk),
                data={"capture_point": point.pk, "version": version.number, "via": entry.via})
    if point.double_opt_in:
        ConfirmationMail.objects.create(workspace=workspace, submission=submission, due_at=now, next_attempt_at=now)
    else:
        _confirm(submission, ip_address=entry.ip_address, user_agent=entry.user_agent)
    return submission


def _adopt_time_zone(workspace: Workspace, contact: Contact, zone: str) -> None:
    """Keep the browser's time zone for a person whose zone is not known yet. A value that is not a time zone
    (a form posted by hand) is ignored rather than refused: the person cannot see or fix this field."""
    if not zone or zone == workspace.timezone:
        return
    try:
        contacts.set_time_zone(workspace=workspace, contact=contact, zone=zone, only_if_unknown=True)
    except InvalidInput:
        return


def _confirm(submission: Submission, *, ip_address: str, user_agent: str) -> None:
    point, version, workspace = submission.capture_point, submission.version, submission.workspace
    submission.status = SubmissionStatus.CONFIRMED
    submission.confirmed_at = clock.now()
    if submission.consented and submission.email:
        contacts.record_consent(
            workspace=workspace, contact=submission.contact, channel=Channel.EMAIL, address=submission.email,
            basis=LegalBasis.CONSENT, ip_address=ip_address, user_agent=user_agent, capture_point_id=point.pk,
            capture_point_version=version.number, wording_hash=version.wording_hash,
            source_id=submission.source_id)
    if point.incentive == Incentive.COUPON and point.coupon is not None:
        # One coupon per person. Someone who has one already is not shown it again here: whoever typed the
        # address would otherwise see another person's code.
        had_one = Coupon.objects.for_workspace(workspace).filter(
            definition=point.coupon, contact=submission.contact.merged_into or submission.contact).exists()
        coupon = coupons.issue(workspace=workspace, definition=point.coupon, contact=submission.contact,
                               source_id=submission.source_id)
        submission.coupon = None if had_one else coupon
    submission.save(update_fields=["status", "confirmed_at", "coupon"])
    # Only a confirmed opt-in ties the browser to the person: with double opt-in, whoever typed an address
    # is not yet known to be its owner.
    visitors.identify(workspace_id=workspace.pk, visitor_id=submission.visitor_id, contact_id=submission.contact_id)
    record_fact(workspace_id=workspace.pk, kind="optin.confirmed", contact_id=submission.contact_id,
                source_id=submission.source_id, subject=("capture.submission", submission.pk),
                data={"capture_point": point.pk, "version": version.number})
    events.publish(OptInCompleted(workspace_id=workspace.pk, contact_id=submission.contact_id,
                                  capture_point_id=point.pk))


def confirm_token(submission: Submission) -> str:
    return tokens.sign(submission.pk, purpose=CONFIRM_PURPOSE)


def thanks_token(submission: Submission) -> str:
    return tokens.sign(submission.pk, purpose=THANKS_PURPOSE)


def submission_for(token: str, *, purpose: str, point: CapturePoint) -> Submission:
    """The submission a link was made for; a forged, stale or foreign token is the same 404."""
    max_age = int(CONFIRM_MAX_AGE.total_seconds()) if purpose == CONFIRM_PURPOSE else None
    try:
        submission_id = tokens.unsign(token, purpose=purpose, max_age_seconds=max_age)
    except BadSignature:
        submission_id = None
    found = (Submission.objects.select_related("capture_point", "version", "workspace", "contact", "coupon")
             .filter(pk=submission_id, capture_point=point).first() if isinstance(submission_id, int) else None)
    if found is None:
        raise NotFound(_("This link is not valid any more. Please fill in the form again."))
    return found


@transaction.atomic
def confirm(*, point: CapturePoint, token: str, ip_address: str, user_agent: str) -> Submission:
    """Confirm a double opt-in from the mailed link; confirming again changes nothing."""
    submission = submission_for(token, purpose=CONFIRM_PURPOSE, point=point)
    submission = Submission.objects.select_for_update(of=("self",)).select_related(
        "capture_point", "version", "workspace", "contact", "coupon").get(pk=submission.pk)
    if submission.status != SubmissionStatus.CONFIRMED:
        _confirm(submission, ip_address=ip_address, user_agent=user_agent)
    return submission


def confirmation_link(submission: Submission) -> str:
    return settings.MUSUBI_BASE_URL + reverse(
        "capture_confirm", args=[submission.capture_point.code, confirm_token(submission)])
