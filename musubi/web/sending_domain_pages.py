"""The sending domain, under the sender details: the DNS records to add (SPF, the DKIM key, a first DMARC
policy) with copy buttons, a check of what DNS says now, in words, and who signs the mail."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from musubi.integrations.dns_check import Check
from musubi.kernel.errors import MusubiError
from musubi.messaging import authoring, domains
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.workspaces.rules import Action, role_allows

# What each result code of ``integrations.dns_check`` means to the owner.
CODES = {
    "spf_ok": gettext_lazy("SPF allows the servers that send your mail."),
    "spf_missing": gettext_lazy("There is no SPF record: receivers cannot tell who may send as your domain."),
    "spf_multiple": gettext_lazy("There is more than one SPF record: receivers ignore them all. Merge them into one."),
    "spf_sender_not_listed": gettext_lazy("SPF does not name everything that sends your mail. Missing:"),
    "spf_allows_anyone": gettext_lazy("SPF ends in +all, which lets anyone send as your domain. Use ~all or -all."),
    "spf_too_many_lookups": gettext_lazy("SPF needs more than 10 DNS lookups: receivers treat it as an error."),
    "spf_lookup_failed": gettext_lazy("DNS did not answer about SPF. Try again in a moment."),
    "dkim_ok": gettext_lazy("The DKIM key is published: signatures can be verified."),
    "dkim_missing": gettext_lazy("The DKIM key is not published yet (changes to DNS can take an hour or more)."),
    "dkim_key_mismatch": gettext_lazy("A different key is published under this name: publish the record above."),
    "dkim_revoked": gettext_lazy("The published key is empty (revoked)."),
    "dkim_lookup_failed": gettext_lazy("DNS did not answer about DKIM. Try again in a moment."),
    "dmarc_ok": gettext_lazy("DMARC is set, with a policy that protects your domain."),
    "dmarc_policy_none": gettext_lazy("DMARC is set to monitoring only (p=none): a good start; tighten it once "
                                      "the reports look right."),
    "dmarc_missing": gettext_lazy("There is no DMARC record. Gmail and Yahoo ask bulk senders for one."),
    "dmarc_multiple": gettext_lazy("There is more than one DMARC record: receivers ignore them."),
    "dmarc_invalid": gettext_lazy("The DMARC record cannot be read."),
    "dmarc_not_aligned": gettext_lazy("DMARC will fail: the signing domain does not match the From domain."),
    "dmarc_lookup_failed": gettext_lazy("DNS did not answer about DMARC. Try again in a moment."),
}
STATUS_WORDS = {"ok": gettext_lazy("OK"), "missing": gettext_lazy("Missing"), "wrong": gettext_lazy("Needs fixing"),
                "unknown": gettext_lazy("Unknown")}
SIGNER_WORDS = {
    domains.Signer.MUSUBI: gettext_lazy("Musubi signs each mail with your domain's DKIM key (selector %(selector)s)."),
    domains.Signer.SERVICE: gettext_lazy("Your email service sends the mail and signs it with its own key: publish "
                                         "the records it gives you, and the SPF include above."),
    domains.Signer.NOBODY: gettext_lazy("Nobody signs your mail yet: make a DKIM key below and publish it."),
    domains.Signer.OUTBOX: gettext_lazy("Nothing is sent: this installation keeps mail on the outbox page (the "
                                        "demo), so nobody signs it."),
}


def _in_words(check: Check) -> dict[str, Any]:
    words = str(CODES.get(check.code, check.code))
    if check.missing:
        words += " " + ", ".join(check.missing)
    return {"kind": check.kind.upper(), "status": check.status, "status_words": STATUS_WORDS.get(check.status, ""),
            "words": words, "record": check.record}


@workspace_page()
def sender_domain(request: WorkspaceRequest, slug: str) -> HttpResponse:
    profile = authoring.sender_profile(request.workspace)
    can_manage = role_allows(request.membership.role, Action.MANAGE)
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        try:
            domains.create_dkim_key(workspace=request.workspace, actor=request.actor)
        except MusubiError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Made a new DKIM key. Publish its record in DNS, then check."))
        return redirect("web:sender_domain", slug=slug)
    results = None
    if request.GET.get("check") and profile.from_address:
        checked = domains.check(profile)
        results = [_in_words(c) for c in (checked.spf, checked.dkim, checked.dmarc)]
    signer = domains.who_signs(profile)
    return render(request, "web/messaging/sender_domain.html", {
        "profile": profile, "domain": domains.domain_of(profile) if profile.from_address else "",
        "spf": domains.spf_record(profile), "dkim": domains.dkim_record(profile),
        "dmarc": domains.dmarc_suggestion(profile), "results": results, "signer": signer.value,
        "signer_words": str(SIGNER_WORDS[signer]) % {"selector": profile.dkim_selector},
        "can_manage": can_manage})
