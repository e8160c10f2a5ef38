"""Contacts, their identities and tags, the consent ledger, the suppression list and saved segments."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from musubi.contacts.choices import Channel, IdentityKind, LegalBasis, Stage, SuppressionReason
from musubi.kernel.models import AppendOnlyError, WorkspaceOwned


class Contact(WorkspaceOwned):
    """A person on a business's list: someone who gave their contact details for a front-end offer.

    Identities (email, LINE user, phone) live in ``Identity`` so one person may have several and two records
    of one person can be merged: the merged record points at the one it went into (``merged_into``) and keeps
    its id, because facts and consent records that name it are never rewritten. ``first_source_id`` and
    ``last_source_id`` are ids of capture sources, a higher layer, hence plain integers.
    """

    name = models.CharField(max_length=200, blank=True, default="")
    stage = models.CharField(max_length=24, choices=Stage.choices, default=Stage.LEAD)
    fields = models.JSONField(default=dict, blank=True)
    first_source_id = models.BigIntegerField(null=True, blank=True)
    last_source_id = models.BigIntegerField(null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    erased_at = models.DateTimeField(null=True, blank=True)
    # db_default too: the bulk writers (imports) insert contacts without naming every column.
    time_zone = models.CharField(max_length=64, blank=True, default="", db_default="",
                                 help_text="The person's IANA time zone; empty means the workspace's.")
    tags: models.ManyToManyField[Tag, ContactTag] = models.ManyToManyField(
        "Tag", through="ContactTag", related_name="contacts")

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="contact_ws_created"),
                   models.Index(fields=["workspace", "stage"], name="contact_ws_stage"),
                   # Few records are merged; segments look up those merged into a contact to count their history.
                   models.Index(fields=["workspace", "merged_into"], condition=models.Q(merged_into__isnull=False),
                                name="contact_ws_merged"),
                   # The few records that are never members (merged or erased): a segment count takes them away
                   # from its sets of ids without reading the whole table.
                   models.Index(fields=["workspace", "id"], condition=models.Q(merged_into__isnull=False)
                                | models.Q(erased_at__isnull=False), name="contact_ws_gone")]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"


class Identity(WorkspaceOwned):
    """An address that reaches a contact, written one way only (``rules.normalise_*``); unique per workspace."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=8, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "kind", "value"], name="identity_unique_value")]
        indexes = [models.Index(fields=["workspace", "contact"], name="identity_ws_contact")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Tag(WorkspaceOwned):
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class ContactTag(WorkspaceOwned):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contacttag_unique")]
        # With the contact in the index, a segment's "has the tag" reads the tag's people from the index alone.
        indexes = [models.Index(fields=["workspace", "tag", "contact"], name="contacttag_ws_tag_contact")]


class ConsentRecord(WorkspaceOwned):
    """Evidence that a person agreed to advertising on a channel — or withdrew — as the law wants it kept
    (特定電子メール法 Art. 3-2): when, how (capture point and the version of its wording, with the wording's
    hash), from where (IP, user agent) and on which legal basis. Rows are never changed, except that erasing
    the person pseudonymises the address, IP and user agent; they are kept until their retention ends.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consents")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="The identity the consent was for, as written then.")
    basis = models.CharField(max_length=16, choices=LegalBasis.choices)
    granted = models.BooleanField(help_text="False records a withdrawal.")
    at = models.DateTimeField()
    ip_address = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=500, blank=True, default="")
    capture_point_id = models.BigIntegerField(null=True, blank=True)
    capture_point_version = models.PositiveIntegerField(null=True, blank=True)
    wording_hash = models.CharField(max_length=64, blank=True, default="")
    source_id = models.BigIntegerField(null=True, blank=True)
    pseudonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "contact", "channel", "at"], name="consent_ws_contact_ch")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and kwargs.get("update_fields") != ["address", "ip_address", "user_agent",
                                                                      "pseudonymised_at"]:
            raise AppendOnlyError("consent records are evidence: record a new one instead of changing one")
        super().save(*args, **kwargs)


class Suppression(WorkspaceOwned):
    """An address that must receive no more marketing on a channel, whatever its consent says (an unsubscribe,
    a hard bounce, a spam complaint, a LINE block). Kept by address, not by contact, so it outlives merges and
    erasure and is checked at the moment of sending."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    value = models.CharField(max_length=254)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "channel", "value"], name="suppression_unique")]


class Activity(WorkspaceOwned):
    """What a person has done, one row per kind: the first and the last time a fact of a kind a segment may
    ask about (``choices.EventKind``) was recorded about them or about a record merged into them.

    A summary of the fact table kept by the database itself, so a segment reads one row per person and kind
    instead of every fact, and never has to look for merged records: triggers (``migrations/0004_activity``)
    fold each new fact into its person's row — the survivor's, when the fact names a merged record — and
    fold a record's rows into the survivor's when it is merged. Facts without a contact (clicks of people
    not yet known) pass by it. ``musubi rebuild_activity`` recomputes it from the facts.
    ``contact_id`` is a plain integer like ``Fact.contact_id``.
    """

    # No foreign-key constraint in the database: this is a summary the database keeps from the facts (which
    # have none either) and ``rebuild_activity`` can recompute; an import writes a row or two per person, each
    # of which PostgreSQL would check on its own. Deleting a workspace through the ORM still cascades here. No
    # index of its own: the primary key leads with it.
    workspace = models.ForeignKey(settings.MUSUBI_WORKSPACE_MODEL, on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False, db_index=False)
    pk = models.CompositePrimaryKey("workspace", "contact_id", "kind")
    contact_id = models.BigIntegerField()
    kind = models.CharField(max_length=64)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        # "Who did this since then" from the index alone; "has this person done it" by the primary key.
        indexes = [models.Index(fields=["workspace", "kind", "last_at", "contact_id"], name="activity_ws_kind_last")]

    def __str__(self) -> str:
        return f"#{self.contact_id} {self.kind} {self.first_at:%Y-%m-%d}–{self.last_at:%Y-%m-%d}"


class Segment(WorkspaceOwned):
    """A saved segment: the people who meet a set of conditions (tags, answers, stage, source, consent, what
    they did and when), found again each time it is asked, so its members and count are always current.
    Broadcasts target segments. ``definition`` holds exactly what the API takes (see ``schemas.Definition``)."""

    name = models.CharField(max_length=200)
    definition = models.JSONField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name
