"""A sequence step's timing and conditions in words, e.g. “3日目 09:00” or “前のステップの2日後”."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from musubi.messaging.choices import Timing

register = template.Library()


def _duration(minutes: int) -> str:
    if minutes == 0:
        return _("at once")
    if minutes % (60 * 24) == 0:
        return _("%(n)s days later") % {"n": minutes // (60 * 24)}
    if minutes % 60 == 0:
        return _("%(n)s hours later") % {"n": minutes // 60}
    return _("%(n)s minutes later") % {"n": minutes}


@register.filter
def step_when(step: Any) -> str:
    if step.timing == Timing.DAY_AT:
        at = step.at_time.strftime("%H:%M") if step.at_time else ""
        return _("Day %(day)s at %(at)s") % {"day": step.day, "at": at}
    if getattr(step, "first", step.position == 1):
        return _("After entering: %(when)s") % {"when": _duration(step.delay_minutes)}
    return _("After the previous step: %(when)s") % {"when": _duration(step.delay_minutes)}


@register.filter
def step_conditions(step: Any) -> list[str]:
    words = []
    if step.only_if_tag:
        words.append(_("only with the tag “%(tag)s”") % {"tag": step.only_if_tag})
    if step.skip_if_tag:
        words.append(_("skipped with the tag “%(tag)s”") % {"tag": step.skip_if_tag})
    if step.only_if_segment_id:
        words.append(_("only in the segment “%(name)s”") % {"name": step.only_if_segment.name})
    if step.only_if_clicked_id:
        words.append(_("only if they clicked in “%(name)s”") % {"name": step.only_if_clicked.template.name})
    return words
