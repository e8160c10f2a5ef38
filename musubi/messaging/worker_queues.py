"""The worker's share of messaging: two send queues, run planning, and the passes that turn time into work."""

from __future__ import annotations

from django.conf import settings

from musubi.kernel.worker import WorkQueue, register_pass, register_queue
from musubi.messaging import broadcasts, conversations, enrollments, richmenu_sync, sending
from musubi.messaging.choices import MessageChannel, RunState
from musubi.messaging.models import Answer, BroadcastRun, Delivery, LineRequest, RichMenuJob, RichMenuSwitch

HELD = [RunState.PAUSED, RunState.CANCELLED]


def register() -> None:
    lease = settings.MUSUBI_SEND_LEASE_SECONDS
    register_pass("messaging.scheduler", enrollments.run_scheduler)
    register_pass("messaging.schedule", broadcasts.start_scheduled)
    register_pass("messaging.finish", broadcasts.finish_runs)
    register_queue(WorkQueue(name="messaging.runs", rows=lambda: BroadcastRun.objects.exclude(
        state=RunState.CANCELLED), handle=broadcasts.plan, batch_size=1, lease_seconds=lease))
    # A paused run's rows stay pending and are simply not taken until it resumes.
    register_queue(WorkQueue(name="messaging.email", rows=lambda: Delivery.objects.filter(
        channel=MessageChannel.EMAIL).exclude(run__state__in=HELD), handle=sending.handle_email,
        batch_size=settings.MUSUBI_SEND_BATCH, lease_seconds=lease))
    register_queue(WorkQueue(name="messaging.line", rows=lambda: LineRequest.objects.exclude(
        run__state__in=HELD), handle=sending.handle_line, batch_size=20, lease_seconds=lease))
    register_queue(WorkQueue(name="messaging.answers", rows=lambda: Answer.objects.all(),
                             handle=conversations.send_answers, batch_size=20, lease_seconds=lease))
    # Rich menus: publishing at LINE, and the bulk link/unlink requests the switching pass writes.
    register_pass("messaging.richmenus", richmenu_sync.run_switching)
    register_queue(WorkQueue(name="messaging.richmenu_jobs", rows=RichMenuJob.objects.all,
                             handle=richmenu_sync.handle_jobs, batch_size=5, lease_seconds=lease))
    register_queue(WorkQueue(name="messaging.richmenu_switches", rows=RichMenuSwitch.objects.all,
                             handle=richmenu_sync.handle_switches, batch_size=10, lease_seconds=lease))
