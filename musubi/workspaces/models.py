"""Workspaces, users, memberships, API keys and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils.functional import cached_property

from musubi.kernel.models import WorkspaceOwned
from musubi.workspaces.choices import Language, Role

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("a user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in: an owner, a marketer, a member of the counter staff.

    People sign in with their email address. What they may see and do depends on their memberships,
    never on the user row alone. ``language`` is their own choice of UI language.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.JAPANESE)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[misc,assignment]

    def __str__(self) -> str:
        return self.email


class Workspace(models.Model):
    """A workspace: one business or brand (a shop, a course seller), with its own everything.

    Contacts, offers, messages and numbers of one workspace are invisible to every other. The slug appears
    in every URL of the workspace (``/w/<slug>/``) so the workspace a page acts on is never guessed.
    """

    slug = models.CharField(max_length=50, unique=True, validators=[RegexValidator(SLUG_PATTERN)])
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="Asia/Tokyo")
    currency = models.CharField(max_length=3, default="JPY")
    country = models.CharField(max_length=2, default="JP")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def seller(self) -> str:
        """Who sells, as the 特商法 page names them (the legal name, not the shop's display name); the
        workspace's name until that is filled in."""
        return LegalProfile.objects.filter(workspace=self).values_list("seller_name", flat=True).first() or self.name


class Membership(WorkspaceOwned):
    """A person's role in a workspace. A user may belong to several workspaces with different roles."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]
        indexes = [models.Index(fields=["workspace", "role"], name="membership_ws_role")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.workspace_id} ({self.role})"


class ApiKey(WorkspaceOwned):
    """A bearer key that lets a program act on one workspace through the API.

    Only the SHA-256 hash of the key is stored; the key itself is shown once, when it is made. ``prefix``
    (the first characters after the kind marker) is not secret: it finds the row and names the key in lists.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="apikey_ws_created")]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEntry(WorkspaceOwned):
    """Who changed what in a workspace, and when: a person in the UI, or a program through an API key."""

    at = models.DateTimeField()
    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "at"], name="audit_ws_at")]
        ordering = ["-at", "-id"]

    @property
    def actor_label(self) -> str:
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_api_key_id:
            return f"API: {self.actor_api_key}"
        return "system"


class LegalProfile(WorkspaceOwned):
    """The seller's particulars that Japanese mail-order law (特定商取引法, Art. 11) requires in every
    advertisement: who sells, where and how to reach them, what things cost beyond the price, when and how
    payment and delivery happen, returns, and how a subscription is cancelled.

    The 特商法 page and every checkout's confirmation screen are generated from these fields, and an offer
    cannot be published while a required one is empty (``rules.missing_legal_fields``). It lives in the
    workspaces layer so the catalog below the sales app can refuse publishing.
    """

    seller_name = models.CharField(max_length=200, blank=True, default="")
    responsible_person = models.CharField(max_length=200, blank=True, default="")
    address = models.CharField(max_length=500, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    price_note = models.TextField(blank=True, default="")
    payment_methods = models.TextField(blank=True, default="")
    payment_timing = models.TextField(blank=True, default="")
    delivery_timing = models.TextField(blank=True, default="")
    returns_policy = models.TextField(blank=True, default="")
    subscription_cancellation = models.TextField(blank=True, default="")
    application_period = models.TextField(blank=True, default="")
    invoice_registration_number = models.CharField(max_length=14, blank=True, default="")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="legalprofile_one_per_workspace")]

    def values(self) -> dict[str, str]:
        from musubi.workspaces.rules import LEGAL_FIELDS

        return {name: getattr(self, name) for name in LEGAL_FIELDS}

    def __str__(self) -> str:
        return self.seller_name or f"legal profile of workspace {self.workspace_id}"
