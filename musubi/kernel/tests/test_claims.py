"""The claim facility on real rows: who gets a row, when it comes back, and what happens to outcomes."""

import datetime as dt

import pytest

from musubi.kernel import claims, clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.tests.chores.models import Chore, ChoreEffect
from musubi.kernel.worker import WorkQueue, process_batch, registered_queues

T0 = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def make_chores(n, *, due=T0, **fields):
    chores = [Chore(label=f"c{i}", due_at=due, next_attempt_at=due, **fields) for i in range(n)]
    return Chore.objects.bulk_create(chores)


@pytest.fixture
def frozen():
    with clock.frozen(T0):
        yield


def test_claim_takes_due_rows_oldest_first_and_counts_the_attempt(db, frozen):
    make_chores(3)
    Chore.objects.create(label="later", due_at=T0 + dt.timedelta(hours=1), next_attempt_at=T0 + dt.timedelta(hours=1))
    got = claims.claim(Chore.objects.all(), worker="w1", limit=10, lease=LEASE)
    assert [c.label for c in got] == ["c0", "c1", "c2"]
    assert {(c.status, c.claimed_by, c.attempts, c.lease_until) for c in got} == {("claimed", "w1", 1, T0 + LEASE)}
    assert Chore.objects.get(label="later").status == WorkStatus.PENDING


def test_a_claimed_row_is_not_claimed_again_while_its_lease_runs(db, frozen):
    make_chores(2)
    first = claims.claim(Chore.objects.all(), worker="w1", limit=1, lease=LEASE)
    second = claims.claim(Chore.objects.all(), worker="w2", limit=10, lease=LEASE)
    assert [c.pk for c in first] != [c.pk for c in second]
    assert len(second) == 1
    assert claims.claim(Chore.objects.all(), worker="w3", limit=10, lease=LEASE) == []


def test_an_expired_lease_makes_the_row_claimable_and_fences_the_old_worker(db):
    make_chores(1)
    with clock.frozen(T0):
        (row,) = claims.claim(Chore.objects.all(), worker="dead", limit=1, lease=LEASE)
    with clock.frozen(T0 + LEASE + dt.timedelta(seconds=1)):
        (again,) = claims.claim(Chore.objects.all(), worker="alive", limit=1, lease=LEASE)
        assert (again.pk, again.attempts, again.claimed_by) == (row.pk, 2, "alive")
        # The worker whose lease ran out may not record an outcome over the new claim.
        assert claims.complete(Chore, [row.pk], worker="dead") == 0
        assert claims.complete(Chore, [row.pk], worker="alive") == 1
    assert Chore.objects.get().status == WorkStatus.DONE


def test_done_rows_are_never_claimed_again(db, frozen):
    make_chores(1)
    (row,) = claims.claim(Chore.objects.all(), worker="w1", limit=1, lease=LEASE)
    claims.complete(Chore, [row.pk], worker="w1")
    with clock.frozen(T0 + dt.timedelta(days=30)):
        assert claims.claim(Chore.objects.all(), worker="w2", limit=10, lease=LEASE) == []


def test_retry_backs_off_and_then_gives_up(db):
    (chore,) = make_chores(1)
    now = T0
    waits = []
    for attempt in range(1, Chore.max_attempts + 1):
        with clock.frozen(now):
            (row,) = claims.claim(Chore.objects.all(), worker="w", limit=1, lease=LEASE)
            assert row.attempts == attempt
            claims.retry(Chore, {row.pk: "smtp 451"}, worker="w")
        chore.refresh_from_db()
        if chore.status == WorkStatus.PENDING:
            waits.append((chore.next_attempt_at - now).total_seconds())
            now = chore.next_attempt_at
    assert waits == [30, 60, 120, 240, 480, 960, 1920]
    assert chore.status == WorkStatus.FAILED
    assert chore.last_error == "gave up after 8 attempts: smtp 451"


def test_a_row_whose_worker_keeps_dying_fails_after_its_last_attempt(db):
    make_chores(1)
    moment = T0
    for _ in range(Chore.max_attempts):
        with clock.frozen(moment):
            assert len(claims.claim(Chore.objects.all(), worker="dies", limit=1, lease=LEASE)) == 1
        moment += LEASE + dt.timedelta(seconds=1)
    with clock.frozen(moment):
        assert claims.claim(Chore.objects.all(), worker="next", limit=1, lease=LEASE) == []
    chore = Chore.objects.get()
    assert (chore.status, chore.attempts) == (WorkStatus.FAILED, Chore.max_attempts)
    assert "lease expired" in chore.last_error


def test_process_batch_records_each_outcome(db, frozen):
    make_chores(2)
    make_chores(1, fail_times=1)
    make_chores(1, permanent=True)
    report = process_batch(registered_queues()["chores"], worker="w")
    assert (report.claimed, report.done, report.retried, report.failed, report.lost) == (4, 2, 1, 1, 0)
    assert sorted(Chore.objects.values_list("status", flat=True)) == ["done", "done", "failed", "pending"]
    assert ChoreEffect.objects.count() == 2


def test_a_handler_that_raises_gives_the_whole_batch_back(db, frozen):
    make_chores(3)

    def explode(rows, outcome):
        raise ConnectionError("provider down")

    queue = WorkQueue(name="exploding", rows=Chore.objects.all, handle=explode)
    report = process_batch(queue, worker="w")
    assert (report.claimed, report.retried, report.done) == (3, 3, 0)
    assert set(Chore.objects.values_list("status", "last_error")) == {("pending", "ConnectionError: provider down")}


def test_rows_a_handler_forgets_are_retried_not_lost(db, frozen):
    make_chores(2)
    queue = WorkQueue(name="forgetful", rows=Chore.objects.all,
                      handle=lambda rows, outcome: outcome.done.append(rows[0].pk))
    report = process_batch(queue, worker="w")
    assert (report.done, report.retried) == (1, 1)
    assert sorted(Chore.objects.values_list("status", flat=True)) == ["done", "pending"]


def test_rows_done_before_a_handler_raises_stay_done(db, frozen):
    make_chores(3)

    def two_then_crash(rows, outcome):
        for row in rows[:2]:
            ChoreEffect.objects.create(chore=row, worker="w")
            outcome.done.append(row.pk)
        raise TimeoutError("the provider stopped answering")

    report = process_batch(WorkQueue(name="crashy", rows=Chore.objects.all, handle=two_then_crash), worker="w")
    assert (report.done, report.retried) == (2, 1)
    assert sorted(Chore.objects.values_list("status", flat=True)) == ["done", "done", "pending"]
    assert Chore.objects.get(status="pending").last_error == "TimeoutError: the provider stopped answering"


@pytest.mark.parametrize("record", [
    lambda pk: claims.retry(Chore, {pk: "late"}, worker="dead"),
    lambda pk: claims.fail(Chore, {pk: "late"}, worker="dead"),
    lambda pk: claims.extend_lease(Chore, [pk], worker="dead", lease=LEASE),
])
def test_a_worker_whose_lease_ran_out_cannot_touch_the_new_claim(db, record):
    make_chores(1)
    with clock.frozen(T0):
        (row,) = claims.claim(Chore.objects.all(), worker="dead", limit=1, lease=LEASE)
    with clock.frozen(T0 + LEASE + dt.timedelta(seconds=1)):
        claims.claim(Chore.objects.all(), worker="alive", limit=1, lease=LEASE)
        assert record(row.pk) == 0
    chore = Chore.objects.get()
    assert (chore.status, chore.claimed_by, chore.last_error) == ("claimed", "alive", "")


def test_settle_writes_each_rows_values_and_releases_only_the_rows_still_held(db, frozen):
    make_chores(3)
    mine = claims.claim(Chore.objects.all(), worker="w1", limit=10, lease=LEASE)
    lost = mine[2]
    Chore.objects.filter(pk=lost.pk).update(claimed_by="w2")  # taken over after w1's lease ran out

    held = claims.settle(Chore, [(c.pk, f"done by {c.label}") for c in mine], columns=["label"], worker="w1",
                         fixed={"status": WorkStatus.DONE, "finished_at": T0})

    assert held == {mine[0].pk, mine[1].pk}
    rows = {c.pk: (c.label, c.status, c.claimed_by, c.lease_until, c.finished_at) for c in Chore.objects.all()}
    assert rows[mine[0].pk] == ("done by c0", WorkStatus.DONE, "", None, T0)
    assert rows[mine[1].pk] == ("done by c1", WorkStatus.DONE, "", None, T0)
    assert rows[lost.pk] == ("c2", WorkStatus.CLAIMED, "w2", T0 + LEASE, None)


def test_refresh_statistics_lets_postgresql_count_the_rows_just_written(db):
    from django.db import connection

    from musubi.kernel import bulk

    if connection.vendor != "postgresql":
        pytest.skip("SQLite plans without statistics")
    make_chores(25)
    bulk.refresh_statistics(Chore)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Chore._meta.db_table])
        assert cursor.fetchone()[0] == 25
