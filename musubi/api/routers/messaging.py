"""Education's ground: the sender and its sending domain (DKIM key, DNS checks) and the message templates that
sequences and broadcasts send."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.line_message_schemas import LineMessageIO
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.kernel.errors import NotFound
from musubi.messaging import authoring, domains, line_messages
from musubi.messaging.choices import MessageChannel
from musubi.messaging.models import Template

router = Router(tags=["messaging"])


class SenderIO(Schema):
    from_name: str = Field("", max_length=100)
    from_address: str = Field("", max_length=254)
    reply_to: str = Field("", max_length=254)
    legal_name: str = Field("", max_length=200)
    postal_address: str = Field("", max_length=300)
    contact_info: str = Field("", max_length=300)


class SenderIn(SenderIO, Input):
    pass


@router.get("/sender", response=with_errors({200: SenderIO}), summary="Who mail comes from, and the legal footer")
def get_sender(request: ApiRequest) -> Any:
    return authoring.sender_profile(request.workspace)


@router.put("/sender", response=with_errors({200: SenderIO}), summary="Set the sender and the legal footer")
def put_sender(request: ApiRequest, payload: SenderIn) -> Any:
    return authoring.save_sender_profile(workspace=request.workspace, actor=request.actor,
                                         values=payload.model_dump())


class TemplateOut(Schema):
    id: int
    name: str
    channel: MessageChannel
    subject: str
    html: str
    text: str
    line_messages: list[LineMessageIO]
    line_texts: list[str] = Field(description="The texts of the text messages (the older, text-only form).")
    updated_at: dt.datetime

    @staticmethod
    def resolve_line_texts(obj: Template) -> list[str]:
        return line_messages.texts_of(obj.line_messages)


class TemplateIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    channel: MessageChannel
    subject: str = Field("", max_length=300)
    html: str = Field("", max_length=500_000)
    text: str = Field("", max_length=200_000)
    line_messages: list[LineMessageIO] | None = Field(
        None, max_length=10, description="A LINE template's messages: up to five texts, images or buttons cards.")
    line_texts: list[str] = Field(default_factory=list, max_length=5,
                                  description="A text-only LINE template's texts, when `line_messages` is not given.")


def _template_input(payload: TemplateIn) -> authoring.TemplateInput:
    return authoring.TemplateInput(**payload.model_dump(exclude_none=True))


def _templates(request: ApiRequest) -> QuerySet[Template]:
    return Template.objects.for_workspace(request.workspace)


@router.get("/templates", response=with_errors({200: list[TemplateOut]}), summary="Message templates")
@paginate(Cursor, ordering=("id",))
def list_templates(request: ApiRequest) -> Any:
    return _templates(request)


@router.post("/templates", response=with_errors({201: TemplateOut}), summary="Write a template")
def create_template(request: ApiRequest, payload: TemplateIn) -> Any:
    return Status(201, authoring.create_template(workspace=request.workspace, actor=request.actor,
                                                 data=_template_input(payload)))


@router.get("/templates/{template_id}", response=with_errors({200: TemplateOut}), summary="A template")
def get_template(request: ApiRequest, template_id: ObjectId) -> Any:
    return authoring.get_template(request.workspace, template_id)


@router.put("/templates/{template_id}", response=with_errors({200: TemplateOut}), summary="Rewrite a template")
def update_template(request: ApiRequest, template_id: ObjectId, payload: TemplateIn) -> Any:
    return authoring.update_template(workspace=request.workspace, actor=request.actor, template_id=template_id,
                                     data=_template_input(payload))


class DnsRecordOut(Schema):
    name: str = Field(description="Where to publish the TXT record.")
    value: str


class CheckOut(Schema):
    kind: str
    status: str = Field(description="ok, missing, wrong or unknown.")
    code: str = Field(description="Why, as a short code (e.g. `spf_missing_sender`).")
    record: str
    policy: str


class DomainCheckOut(Schema):
    domain: str
    spf: CheckOut
    dkim: CheckOut
    dmarc: CheckOut


@router.post("/sender/dkim", response=with_errors({201: DnsRecordOut}),
             summary="Make a new DKIM key for the sender's domain; returns the TXT record to publish")
def create_dkim_key(request: ApiRequest) -> Any:
    profile = domains.create_dkim_key(workspace=request.workspace, actor=request.actor)
    return Status(201, domains.dkim_record(profile))


@router.get("/sender/dkim", response=with_errors({200: DnsRecordOut}), summary="The DKIM record to publish")
def get_dkim_record(request: ApiRequest) -> Any:
    record = domains.dkim_record(authoring.sender_profile(request.workspace))
    if record is None:
        raise NotFound(_("No DKIM key yet: make one first."))
    return record


@router.get("/sender/domain-check", response=with_errors({200: DomainCheckOut}),
            summary="Ask DNS now whether the sender's domain has SPF, DKIM and DMARC in order")
def check_domain(request: ApiRequest) -> Any:
    profile = authoring.sender_profile(request.workspace)
    if not profile.from_address:
        raise NotFound(_("Set the sender's address first."))
    result = domains.check(profile)
    return {"domain": domains.domain_of(profile), "spf": result.spf, "dkim": result.dkim, "dmarc": result.dmarc}
