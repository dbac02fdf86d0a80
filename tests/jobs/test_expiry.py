"""Expiry as a batch job: exactly each lot's remainder, once, however often or however it is run."""

import pytest
from django.core.management import call_command
from django.db import transaction

from ledger import services
from ledger.models import Kind, LedgerTransaction, PointsLot
from ledger.selectors import ledger_verify_report
from ledger.services import lots_expire_due, lots_release_due
from ledger.tasks import expire_points
from tests.ledger.support import balances

from .support import days, ledger_state, mixed_ledger


def remaining_by_lot() -> dict[int, int]:
    return dict(PointsLot.objects.values_list("pk", "remaining"))


def test_expiry_takes_exactly_each_lots_remainder_once(clock, program):
    members = mixed_ledger(program)
    clock.move_to(days(12))
    due = set(PointsLot.objects.filter(expires_at__lte=days(12), remaining__gt=0).values_list("pk", flat=True))
    before = remaining_by_lot()

    run = lots_expire_due(batch_size=2)

    assert run.lots == len(due) == 3 + 6  # spent's first, pending's second, tie's, one per simple member
    expiries = LedgerTransaction.objects.filter(kind=Kind.EXPIRE)
    assert sorted(expiries.values_list("idempotency_key", flat=True)) == sorted(f"expire:lot:{pk}" for pk in due)
    for txn in expiries:
        (entry,) = txn.entries.all()
        lot_id = int(txn.source_id)
        assert entry.points == -before[lot_id]
        assert list(entry.movements.values_list("lot_id", "points")) == [(lot_id, -before[lot_id])]
    after = PointsLot.objects.in_bulk()
    assert all(after[pk].remaining == 0 and after[pk].expired for pk in due)
    assert all(after[pk].remaining == before[pk] and not after[pk].expired for pk in set(after) - due)
    assert balances(members["spent"]) == (120, 0, 0)  # 70 of the first lot expired; 50 + 70 left
    # 40 expired while pending; 80 left (released or not: the set-based path leaves releases to their job)
    assert sum(balances(members["pending"])[:2]) == 80
    assert balances(members["tie"]) == (0, 0, 0)
    assert after[PointsLot.objects.get(account__member=members["tie"]).pk].released  # marked, empty
    assert sum(balances(members["simple-0"])[:2]) == 35
    assert ledger_verify_report().ok


def test_lots_not_yet_past_their_date_are_left_alone(clock, program):
    mixed_ledger(program)
    clock.move_to(days(9.999))

    assert lots_expire_due().lots == 1  # only the tie lot (day 7) is past its date
    assert PointsLot.objects.filter(expired=True).count() == 1


def test_running_expiry_twice_changes_nothing_more(clock, program):
    mixed_ledger(program)
    clock.move_to(days(45))
    lots_expire_due(batch_size=3)
    once = ledger_state()

    clock.move_to(days(46))  # later, but nothing new fell due
    again = lots_expire_due(batch_size=3)

    assert (again.lots, again.points) == (0, 0)
    assert ledger_state() == once
    assert ledger_verify_report().ok


class Crash(Exception):
    pass


@pytest.mark.parametrize(("job", "day"), [(lots_expire_due, 12), (lots_expire_due, 60), (lots_release_due, 4),
                                          (lots_release_due, 16), (lots_release_due, 60)],
                         ids=["expire-12", "expire-60", "release-4", "release-16", "release-60"])
def test_a_crash_between_batches_then_a_rerun_leaves_the_ledger_of_one_clean_run(clock, program, monkeypatch,
                                                                                    job, day):
    mixed_ledger(program)
    clock.move_to(days(day))

    def crash(name, run):
        raise Crash(f"{name}: stopped after batch {run.batches}")

    with transaction.atomic():  # the crashed run and its rerun, rolled back after the snapshot
        with monkeypatch.context() as patch:
            patch.setattr(services, "_batch_committed", crash)
            with pytest.raises(Crash):
                job(batch_size=2)
        job(batch_size=2)
        crashed_then_rerun = ledger_state()
        transaction.set_rollback(True)
    clean = job(batch_size=2)

    assert ledger_state() == crashed_then_rerun
    assert clean.batches > 1
    assert ledger_verify_report().ok


@pytest.mark.parametrize("day", [2, 4, 6, 8, 12, 16, 25, 35, 45, 60])
def test_the_batch_jobs_write_what_catching_each_account_up_writes(clock, program, day):
    """Set-based on PostgreSQL or not, the two jobs leave the ledger the per-account services leave."""
    members = mixed_ledger(program)
    clock.move_to(days(day))

    with transaction.atomic():
        for member in members.values():
            services.account_expire(member=member)
        one_by_one = ledger_state()
        transaction.set_rollback(True)
    runs = [lots_release_due(batch_size=3), lots_expire_due(batch_size=3)]

    assert ledger_state() == one_by_one
    if any(run.accounts for run in runs):
        assert any(run.one_by_one < run.accounts for run in runs)  # the set-based statements took part
    assert ledger_verify_report().ok


def test_the_command_and_the_task_run_the_same_job(clock, program, capsys):
    mixed_ledger(program)

    call_command("expire_points", "--now", days(12).isoformat(), "--batch-size", "4")
    assert "9 lots expired" in capsys.readouterr().out
    assert expire_points.delay(now=days(12).isoformat()).get()["lots"] == 0
    assert expire_points.delay(now=days(25).isoformat()).get()["lots"] == 1  # spent's second lot, day 20
    assert ledger_verify_report().ok
