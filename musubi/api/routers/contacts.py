"""Contacts of the key's workspace: their identities, tags and consent evidence; export and erasure."""

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import Input, ObjectId
from musubi.contacts import queries, services
from musubi.contacts.choices import Channel, LegalBasis, Stage
from musubi.kernel.errors import InvalidInput
from musubi.workspaces.rules import Action

router = Router(tags=["contacts"])


class IdentityOut(Schema):
    kind: str
    value: str


class ContactOut(Schema):
    id: int
    name: str
    stage: Stage
    time_zone: str = Field(description="The person's IANA time zone; empty means the workspace's.")
    identities: list[IdentityOut]
    tags: list[str]
    created_at: dt.datetime

    @staticmethod
    def resolve_identities(contact: Any) -> list[Any]:
        return list(contact.identities.all())

    @staticmethod
    def resolve_tags(contact: Any) -> list[str]:
        return sorted(tag.name for tag in contact.tags.all())


class ConsentIn(Schema):
    channel: Channel
    basis: LegalBasis = LegalBasis.CONSENT
    wording: str = Field(default="", max_length=5000, description="The consent text the person saw.")


class ContactIn(Input):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    line_user_id: str | None = Field(default=None, max_length=33)
    name: str = Field(default="", max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    time_zone: str | None = Field(default=None, max_length=64, description=(
        "The person's IANA time zone (e.g. America/Los_Angeles): timed sequence steps arrive at that local "
        "time. An empty string goes back to the workspace's."))
    consent: ConsentIn | None = Field(default=None, description="Record consent for this channel now.")


class ConsentOut(Schema):
    id: int
    channel: Channel
    address: str
    basis: LegalBasis
    granted: bool
    at: dt.datetime
    ip_address: str
    user_agent: str
    capture_point_id: int | None
    capture_point_version: int | None
    wording_hash: str


class TagsIn(Input):
    tags: list[str] = Field(min_length=1, max_length=50)


@router.get("/contacts", response=with_errors({200: list[ContactOut]}), summary="Contacts, newest first")
@paginate(Cursor, ordering=("-id",))
def list_contacts(request: ApiRequest, search: str = "", tag: str = "") -> Any:
    return queries.contacts(request.workspace, search=search[:200], tag=tag[:100])


@router.post("/contacts", response=with_errors({200: ContactOut, 201: ContactOut}),
             summary="Find or create a contact by its addresses (merging duplicates), with tags and consent")
def upsert_contact(request: ApiRequest, payload: ContactIn) -> Any:
    request.actor.require(Action.OPERATE)
    addresses = services.normalise(email=payload.email, phone=payload.phone, line_user_id=payload.line_user_id)
    if payload.time_zone:
        services.check_time_zone(payload.time_zone)  # before anything is written
    contact, created = services.find_or_create_contact(workspace=request.workspace, addresses=addresses,
                                                       name=payload.name)
    if payload.tags:
        services.tag(workspace=request.workspace, contact=contact, names=payload.tags)
    if payload.time_zone is not None:
        services.set_time_zone(workspace=request.workspace, contact=contact, zone=payload.time_zone)
    if payload.consent is not None:
        address = {"email": addresses.email, "line": addresses.line_user_id, "sms": addresses.phone}[
            payload.consent.channel]
        if address is None:
            raise InvalidInput("The contact has no address on that channel.",
                               fields={"consent.channel": "no address for this channel was given"})
        services.record_consent(workspace=request.workspace, contact=contact, channel=payload.consent.channel,
                                address=address, basis=payload.consent.basis, wording=payload.consent.wording,
                                ip_address=request.META.get("REMOTE_ADDR", ""),
                                user_agent=request.META.get("HTTP_USER_AGENT", ""))
    return Status(201 if created else 200, queries.contact(request.workspace, contact.pk))


@router.get("/contacts/{contact_id}", response=with_errors({200: ContactOut}), summary="A contact")
def get_contact(request: ApiRequest, contact_id: ObjectId) -> Any:
    return queries.contact(request.workspace, contact_id)


@router.get("/contacts/{contact_id}/consents", response=with_errors({200: list[ConsentOut]}),
            summary="The contact's consent evidence, newest first")
def list_consents(request: ApiRequest, contact_id: ObjectId) -> Any:
    return list(queries.consents(request.workspace, queries.contact(request.workspace, contact_id)))


@router.post("/contacts/{contact_id}/tags", response=with_errors({200: ContactOut}), summary="Add tags")
def add_tags(request: ApiRequest, contact_id: ObjectId, payload: TagsIn) -> Any:
    request.actor.require(Action.OPERATE)
    contact = queries.contact(request.workspace, contact_id)
    services.tag(workspace=request.workspace, contact=contact, names=payload.tags)
    return queries.contact(request.workspace, contact_id)


@router.get("/contacts/{contact_id}/export", response=with_errors({200: dict[str, Any]}),
            summary="Everything held about the person, machine-readable")
def export_contact(request: ApiRequest, contact_id: ObjectId) -> Any:
    request.actor.require(Action.MANAGE)
    return services.export(workspace=request.workspace, contact_id=contact_id)


@router.post("/contacts/{contact_id}/erase", response=with_errors({204: None}),
             summary="Erase the person; consent evidence stays, pseudonymised, until its retention ends")
def erase_contact(request: ApiRequest, contact_id: ObjectId) -> Any:
    services.erase(workspace=request.workspace, actor=request.actor, contact_id=contact_id)
    return Status(204, None)
