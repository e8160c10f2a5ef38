"""The sending domain: the workspace's DKIM key, and whether the domain's DNS says what mailbox providers
need (SPF naming the server that sends, the DKIM key published, a DMARC policy aligned with From).

When Musubi sends over SMTP itself it signs with the From domain's key (d= the From domain, so DMARC aligns);
through an email service, the service signs and the check says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from musubi.integrations import dkim, dns_check
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging.models import SenderProfile
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


def domain_of(profile: SenderProfile) -> str:
    return profile.from_address.rpartition("@")[2].lower()


@transaction.atomic
def create_dkim_key(*, workspace: Workspace, actor: Actor) -> SenderProfile:
    """A new key for the workspace's From domain; the old one stays valid in DNS until replaced there."""
    actor.require(Action.MANAGE)
    profile = SenderProfile.objects.select_for_update().filter(workspace=workspace).first()
    if profile is None or not profile.from_address:
        raise InvalidInput(_("Set the sender's address first: the key is for its domain."),
                           fields={"from_address": _("Required for a DKIM key.")})
    key = dkim.generate_key()
    profile.dkim_selector = f"musubi{clock.now():%Y%m}"
    profile.dkim_private_key = key.private_pem
    profile.save(update_fields=["dkim_selector", "dkim_private_key", "updated_at"])
    record_audit(workspace=workspace, actor=actor, action="messaging.dkim_key_created", obj=profile,
                 changes={"selector": profile.dkim_selector})  # never the key
    return profile


@dataclass(frozen=True)
class DnsRecord:
    name: str
    value: str


def dkim_record(profile: SenderProfile) -> DnsRecord | None:
    """The TXT record to publish for the workspace's key."""
    if not profile.dkim_private_key:
        return None
    return DnsRecord(name=f"{profile.dkim_selector}._domainkey.{domain_of(profile)}",
                     value=dkim.public_record(profile.dkim_private_key))


def signer_for(profile: SenderProfile | None) -> dkim.DkimSigner | None:
    if profile is None or not profile.dkim_private_key or not profile.from_address:
        return None
    return _signer(domain_of(profile), profile.dkim_selector, profile.dkim_private_key)


# Loading an RSA key (and checking it) costs ~100 ms, more than a batch's signatures on a busy machine; a
# worker keeps the signers of the workspaces it recently sent for. A new key or selector is a new entry.
@functools.lru_cache(maxsize=32)
def _signer(domain: str, selector: str, private_pem: str) -> dkim.DkimSigner:
    return dkim.DkimSigner(domain=domain, selector=selector, private_pem=private_pem)


def check(profile: SenderProfile) -> dns_check.DomainCheck:
    """Ask DNS about the From domain now."""
    return dns_check.check_domain(
        domain_of(profile), selector=profile.dkim_selector or "musubi",
        public_key=dkim.public_key_b64(profile.dkim_private_key) if profile.dkim_private_key else "",
        sending_ips=settings.MUSUBI_SENDING_IPS, includes=settings.MUSUBI_SPF_INCLUDES)


# --- what the sending-domain page shows ---------------------------------------------------------------------

class Signer(StrEnum):
    """Who puts a DKIM signature on the workspace's advertising mail."""

    MUSUBI = "musubi"  # Musubi sends over SMTP and signs with the workspace's key
    SERVICE = "service"  # an email service sends it and signs it with its own key
    NOBODY = "nobody"  # Musubi sends over SMTP, but the workspace has no key yet
    OUTBOX = "outbox"  # the demo: mail is kept on the outbox page, not sent


def who_signs(profile: SenderProfile) -> Signer:
    """Follows ``transports.send``: the outbox, an email service ("marketing" mailer), else SMTP from here."""
    if settings.MUSUBI_MARKETING_MAIL == "outbox":
        return Signer.OUTBOX
    if "marketing" in settings.MAILERS:
        return Signer.SERVICE
    return Signer.MUSUBI if signer_for(profile) is not None else Signer.NOBODY


def spf_record(profile: SenderProfile) -> DnsRecord | None:
    """The SPF record naming what sends for this installation, or None when the installation names nothing
    (then the email service's or server's own instructions say what to include)."""
    mechanisms = [f"ip6:{ip}" if ":" in ip else f"ip4:{ip}" for ip in settings.MUSUBI_SENDING_IPS]
    mechanisms += [f"include:{domain}" for domain in settings.MUSUBI_SPF_INCLUDES]
    if not mechanisms or not profile.from_address:
        return None
    return DnsRecord(name=domain_of(profile), value=" ".join(["v=spf1", *mechanisms, "~all"]))


def dmarc_suggestion(profile: SenderProfile) -> DnsRecord | None:
    """A first DMARC record: only monitoring (p=none), with the daily reports sent to the sender's address.
    Stricter policies (quarantine, reject) come once the reports show every real mail passing."""
    if not profile.from_address:
        return None
    return DnsRecord(name=f"_dmarc.{domain_of(profile)}",
                     value=f"v=DMARC1; p=none; rua=mailto:{profile.from_address.lower()}")
