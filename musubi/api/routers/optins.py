"""Capture points (opt-in forms) and their submissions, coupons and their redemption."""

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, DateTimeParam, Input, ObjectId
from musubi.capture import coupons, points, queries
from musubi.capture.choices import FieldKind, Incentive, SubmissionStatus, SubmittedVia
from musubi.capture.models import Coupon
from musubi.contacts.queries import contact as find_contact
from musubi.kernel.schema_types import Amount
from musubi.workspaces.rules import Action

router = Router(tags=["capture points and coupons"])


class QuestionSchema(Schema):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str = Field(min_length=1, max_length=200)
    kind: FieldKind
    required: bool = False
    options: list[str] = Field(default_factory=list, max_length=30)


class WordingIn(Input):
    headline: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    body: str = Field(default="", max_length=10000)
    ask_email: bool = True
    ask_name: bool = True
    ask_phone: bool = False
    questions: list[QuestionSchema] = Field(default_factory=list, max_length=20)
    consent_text: str = Field(min_length=1, max_length=500, description="The sentence next to the unticked box.")
    purpose_text: str = Field(min_length=1, max_length=5000)
    sender_name: str = Field(min_length=1, max_length=200, description="The sender's legal name.")
    privacy_url: str = Field(default="", max_length=2000)
    tokushoho_url: str = Field(default="", max_length=2000)
    button_label: str = Field(default="", max_length=50)
    thanks_text: str = Field(default="", max_length=5000)


class CapturePointIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    offer_id: ObjectId | None = None
    source_id: ObjectId | None = None
    double_opt_in: bool = False
    consent_required: bool = True
    incentive: Incentive = Incentive.NONE
    coupon_id: ObjectId | None = None
    download_url: str = Field(default="", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    active: bool = True
    wording: WordingIn


class VersionOut(Schema):
    number: int
    headline: str
    body: str
    ask_email: bool
    ask_name: bool
    ask_phone: bool
    questions: list[QuestionSchema]
    consent_text: str
    purpose_text: str
    sender_name: str
    privacy_url: str
    tokushoho_url: str
    button_label: str
    thanks_text: str
    has_image: bool
    wording_hash: str = Field(description="SHA-256 of everything shown; consent records keep it.")
    created_at: dt.datetime

    @staticmethod
    def resolve_has_image(version: Any) -> bool:
        return bool(version.image)


class CapturePointOut(Schema):
    id: int
    code: str
    url: str
    name: str
    offer_id: int | None
    source_id: int | None
    double_opt_in: bool
    consent_required: bool
    incentive: Incentive
    coupon_id: int | None
    download_url: str
    tags: list[str]
    active: bool
    registrations: int
    waiting: int
    version: VersionOut
    created_at: dt.datetime

    @staticmethod
    def resolve_url(point: Any) -> str:
        return settings.MUSUBI_BASE_URL + reverse("capture_page", args=[point.code])

    @staticmethod
    def resolve_version(point: Any) -> Any:
        return points.current_version(point)


class SubmissionIn(Input):
    email: str = Field(default="", max_length=254)
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    answers: dict[str, str | list[str]] = Field(default_factory=dict, max_length=20)
    consented: bool = Field(description="Whether the person ticked the consent box you showed them.")
    version: int | None = Field(default=None, ge=1, le=1_000_000,
                                description="The version the person saw; refused with 409 if it is not current.")
    source_id: ObjectId | None = None
    ip_address: str = Field(default="", max_length=64, description="The person's IP, kept as evidence.")
    user_agent: str = Field(default="", max_length=500)
    time_zone: str = Field(default="", max_length=64, description=(
        "The person's IANA time zone if your page knows it (e.g. from the browser); kept for a contact whose "
        "zone is not known yet, so timed steps arrive at their local hour."))
    visitor_id: uuid.UUID | None = Field(default=None, description=(
        "The visitor id Musubi's tracking links gave the browser (the mvid cookie), if your page can read it: "
        "the opt-in is credited to the link last clicked, and the browser's clicks count for the person."))


class SubmissionOut(Schema):
    id: int
    contact_id: int
    status: SubmissionStatus
    via: SubmittedVia
    version: int
    source_id: int | None
    coupon_code: str | None
    at: dt.datetime

    @staticmethod
    def resolve_version(submission: Any) -> int:
        return submission.version.number

    @staticmethod
    def resolve_coupon_code(submission: Any) -> str | None:
        return submission.coupon.code if submission.coupon_id else None


def _setup(payload: CapturePointIn) -> tuple[points.Setup, points.Wording]:
    data = payload.model_dump()
    wording = data.pop("wording")
    return points.Setup(**data), points.Wording(**wording)


@router.get("/capture-points", response=with_errors({200: list[CapturePointOut]}), summary="Opt-in forms")
@paginate(Cursor, ordering=("-id",))
def list_capture_points(request: ApiRequest) -> Any:
    return queries.capture_points(request.workspace)


@router.post("/capture-points", response=with_errors({201: CapturePointOut}), summary="Create an opt-in form")
def create_capture_point(request: ApiRequest, payload: CapturePointIn) -> Any:
    setup, wording = _setup(payload)
    point = points.create_capture_point(workspace=request.workspace, actor=request.actor, setup=setup,
                                        wording=wording)
    return Status(201, queries.capture_point(request.workspace, point.pk))


@router.get("/capture-points/{capture_point_id}", response=with_errors({200: CapturePointOut}),
            summary="An opt-in form with its current version")
def get_capture_point(request: ApiRequest, capture_point_id: ObjectId) -> Any:
    return queries.capture_point(request.workspace, capture_point_id)


@router.put("/capture-points/{capture_point_id}", response=with_errors({200: CapturePointOut}),
            summary="Change an opt-in form; a change of wording makes a new version")
def update_capture_point(request: ApiRequest, capture_point_id: ObjectId, payload: CapturePointIn) -> Any:
    setup, wording = _setup(payload)
    points.update_capture_point(workspace=request.workspace, actor=request.actor, capture_point_id=capture_point_id,
                                setup=setup, wording=wording)
    return queries.capture_point(request.workspace, capture_point_id)


@router.get("/capture-points/{capture_point_id}/versions", response=with_errors({200: list[VersionOut]}),
            summary="Every version of the form's wording, newest first")
def list_versions(request: ApiRequest, capture_point_id: ObjectId) -> Any:
    return list(queries.versions(queries.capture_point(request.workspace, capture_point_id)))


@router.post("/capture-points/{capture_point_id}/submissions", response=with_errors({201: SubmissionOut}),
             summary="Send an opt-in taken on your own site or app")
def submit(request: ApiRequest, capture_point_id: ObjectId, payload: SubmissionIn) -> Any:
    request.actor.require(Action.OPERATE)
    point = points.capture_point_of(request.workspace, capture_point_id)
    entry = points.Entry(email=payload.email, name=payload.name, phone=payload.phone, answers=payload.answers,
                         consented=payload.consented, via=SubmittedVia.API, ip_address=payload.ip_address,
                         user_agent=payload.user_agent, source_id=payload.source_id, version_number=payload.version,
                         time_zone=payload.time_zone, visitor_id=str(payload.visitor_id or ""))
    submission = points.submit(point=point, entry=entry)
    return Status(201, submission)


class CouponDefinitionIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    benefit: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    offer_id: ObjectId | None = None
    cost: Amount = 0
    valid_days: int | None = Field(default=None, ge=1, le=3650)
    valid_from: DateTimeParam | None = None
    valid_until: DateTimeParam | None = None
    max_redemptions: int = Field(default=1, ge=1, le=1000)


class CouponDefinitionOut(Schema):
    id: int
    name: str
    benefit: str
    offer_id: int | None
    cost: int
    valid_days: int | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    max_redemptions: int
    active: bool
    issued: int
    redeemed: int


class CouponOut(Schema):
    code: str
    url: str
    definition_id: int
    contact_id: int
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    redemptions: int
    usable: bool
    refusal: str

    @staticmethod
    def resolve_url(coupon: Any) -> str:
        return settings.MUSUBI_BASE_URL + reverse("coupon_page", args=[coupon.code])

    @staticmethod
    def resolve_redemptions(coupon: Any) -> int:
        return coupon.redemptions_count

    @staticmethod
    def resolve_usable(coupon: Any) -> bool:
        return coupons.state(coupon).usable

    @staticmethod
    def resolve_refusal(coupon: Any) -> str:
        verdict = coupons.state(coupon)
        return "" if verdict.usable else coupons.refusal(coupon, verdict.reason)


class IssueIn(Input):
    definition_id: ObjectId
    contact_id: ObjectId


class RedeemIn(Input):
    code: str = Field(min_length=1, max_length=64, description="As typed or scanned: case and hyphens do not matter.")


class RedemptionOut(Schema):
    code: str
    number: int
    at: dt.datetime
    benefit: str
    contact_id: int

    @staticmethod
    def resolve_code(redemption: Any) -> str:
        return redemption.coupon.code

    @staticmethod
    def resolve_benefit(redemption: Any) -> str:
        return redemption.coupon.definition.benefit

    @staticmethod
    def resolve_contact_id(redemption: Any) -> int:
        return redemption.coupon.contact_id


def _terms(payload: CouponDefinitionIn) -> coupons.Terms:
    return coupons.Terms(**payload.model_dump())


@router.get("/coupon-definitions", response=with_errors({200: list[CouponDefinitionOut]}),
            summary="Kinds of coupon the workspace gives")
@paginate(Cursor, ordering=("-id",))
def list_definitions(request: ApiRequest) -> Any:
    return queries.coupon_definitions(request.workspace)


@router.post("/coupon-definitions", response=with_errors({201: CouponDefinitionOut}), summary="Define a coupon")
def create_definition(request: ApiRequest, payload: CouponDefinitionIn) -> Any:
    definition = coupons.create_definition(workspace=request.workspace, actor=request.actor, terms=_terms(payload))
    return Status(201, queries.coupon_definitions(request.workspace).get(pk=definition.pk))


@router.get("/coupons", response=with_errors({200: list[CouponOut]}), summary="Coupons given, newest first")
@paginate(Cursor, ordering=("-id",))
def list_coupons(request: ApiRequest, contact_id: int | None = None) -> Any:
    found = Coupon.objects.for_workspace(request.workspace).select_related("definition", "workspace")
    return found.filter(contact_id=contact_id) if contact_id is not None else found


@router.post("/coupons", response=with_errors({201: CouponOut}),
             summary="Give a contact a coupon (their existing one if they have it)")
def issue_coupon(request: ApiRequest, payload: IssueIn) -> Any:
    request.actor.require(Action.OPERATE)
    definition = coupons.definition_of(request.workspace, payload.definition_id)
    contact = find_contact(request.workspace, payload.contact_id)
    coupon = coupons.issue(workspace=request.workspace, definition=definition, contact=contact)
    return Status(201, coupons.find(workspace=request.workspace, code=coupon.code))


@router.post("/coupons/redeem", response=with_errors({201: RedemptionOut}),
             summary="Redeem a coupon once; 409 says why when it cannot be (used, expired, not yet valid)")
def redeem(request: ApiRequest, payload: RedeemIn) -> Any:
    return Status(201, coupons.redeem(workspace=request.workspace, actor=request.actor, code=payload.code))


# Declared after /coupons/redeem: a path parameter would otherwise swallow "redeem".
@router.get("/coupons/{code}", response=with_errors({200: CouponOut}), summary="A coupon by its code")
def get_coupon(request: ApiRequest, code: str) -> Any:
    return coupons.find(workspace=request.workspace, code=code[:64])
