"""Removing a LINE connection, seen from what is sent through it.

What the owner is told before, and what happens (``removal_impact`` gives the numbers for the page):
- contacts, their LINE consent with its evidence, conversations and everything sent stay as they are;
- the webhook stops: LINE's requests to its URL are answered "not found", so follows, blocks and messages
  are no longer recorded and keyword replies stop;
- a broadcast on the account that is sending or paused is cancelled (what was sent stays sent), and one
  scheduled for later will be refused when its time comes, as for any account no longer connected;
- LINE steps of sequences that name the account are not sent: each one due is recorded as failed ("the
  LINE connection was removed") until the step is given another account — the sequence itself goes on;
- messages already queued through it (steps, answers) are recorded as failed now rather than sent later;
- rich menus stay at LINE, shown to friends, until deleted in LINE Official Account Manager: with the
  token erased Musubi can no longer change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from musubi.capture import line_checks
from musubi.capture.models import LineChannel, LineEvent
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.messaging import broadcasts
from musubi.messaging.choices import Outcome, RunState
from musubi.messaging.models import Answer, Broadcast, BroadcastRun, Delivery, LineRequest, RichMenu, Step
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor

REMOVED = "the LINE connection was removed"
_RUNNING = [RunState.PLANNING, RunState.SENDING, RunState.PAUSED]


@dataclass(frozen=True)
class RemovalImpact:
    friends: int  # LINE users seen through the account (their contacts stay)
    sequences: list[str]  # sequences with a live LINE step naming the account
    broadcasts: list[str]  # broadcasts on the account sending, paused or scheduled
    rich_menus: int


def removal_impact(channel: LineChannel) -> RemovalImpact:
    sequences = sorted(set(Step.objects.filter(line_channel=channel, archived_at=None)
                           .values_list("sequence__name", flat=True)))
    running = set(BroadcastRun.objects.filter(broadcast__line_channel=channel, state__in=_RUNNING)
                  .values_list("broadcast_id", flat=True))
    scheduled = set(Broadcast.objects.filter(line_channel=channel, schedule_started=False)
                    .exclude(scheduled_at=None).values_list("pk", flat=True))
    names = sorted(Broadcast.objects.filter(pk__in=running | scheduled).values_list("name", flat=True))
    friends = (LineEvent.objects.filter(channel=channel, error="").exclude(user_id="")  # refused events: nobody
               .values("user_id").distinct().count())
    return RemovalImpact(friends=friends, sequences=sequences, broadcasts=names,
                         rich_menus=RichMenu.objects.filter(line_channel=channel).count())


@transaction.atomic
def remove_line_account(*, workspace: Workspace, actor: Actor, line_channel_id: int) -> LineChannel:
    """Remove the connection (owners only) and stop everything waiting to go through it."""
    channel = line_checks.retire_channel(workspace=workspace, actor=actor, line_channel_id=line_channel_id)
    for run in BroadcastRun.objects.filter(broadcast__line_channel=channel, state__in=_RUNNING):
        broadcasts.set_state(run=run, action="cancel", actor=actor)
    now = clock.now()
    waiting = LineRequest.objects.filter(line_channel=channel, status=WorkStatus.PENDING)
    Delivery.objects.filter(line_request__in=waiting, status=WorkStatus.PENDING).update(
        status=WorkStatus.FAILED, outcome=Outcome.FAILED, finished_at=now, last_error=REMOVED)
    waiting.update(status=WorkStatus.FAILED, finished_at=now, last_error=REMOVED)
    Answer.objects.filter(message__line_channel=channel, status=WorkStatus.PENDING).update(
        status=WorkStatus.FAILED, finished_at=now, last_error=REMOVED)
    return channel
