"""Release as a batch job: pending points become available exactly at ``available_at``, once."""

from datetime import timedelta

from django.core.management import call_command

from ledger.models import Kind, LedgerEntry, PointsLot
from ledger.selectors import ledger_verify_report
from ledger.services import lots_release_due
from ledger.tasks import release_points
from tests.ledger.support import balances, earn

from .support import T0, days, ledger_state, mixed_ledger


def test_release_makes_pending_points_available_exactly_at_available_at(clock, member):
    earn(member, 100, pending_days=14)
    lot = PointsLot.objects.get(account__member=member)
    assert lot.available_at == T0 + timedelta(days=14)

    clock.move_to(lot.available_at - timedelta(microseconds=1))
    assert lots_release_due().lots == 0
    assert balances(member) == (0, 100, 0)

    clock.move_to(lot.available_at)
    assert lots_release_due().lots == 1
    assert balances(member) == (100, 0, 0)
    release = LedgerEntry.objects.get(kind=Kind.RELEASE)
    assert (release.points, release.available_delta, release.pending_delta) == (0, 100, -100)
    assert release.transaction.idempotency_key == f"release:lot:{lot.pk}"
    assert release.created_at == lot.available_at

    assert lots_release_due().lots == 0
    assert balances(member) == (100, 0, 0)
    assert ledger_verify_report().ok


def test_release_repays_debt_first(clock, program):
    members = mixed_ledger(program)
    clock.move_to(days(4))

    run = lots_release_due(batch_size=2)

    assert run.lots == 1 + 6  # the debtor's 50 and each simple member's 35
    assert balances(members["debtor"]) == (0, 0, 30)
    assert balances(members["simple-3"]) == (60, 0, 0)
    assert balances(members["pending"]) == (0, 120, 0)  # not before day 5
    assert ledger_verify_report().ok


def test_a_lot_that_expired_while_pending_is_marked_released_without_points(clock, program):
    members = mixed_ledger(program)
    clock.move_to(days(16))  # pending's 40 expired on day 10 and would have been released on day 15

    lots_release_due()

    lot = PointsLot.objects.get(account__member=members["pending"], amount=40)
    assert (lot.remaining, lot.released, lot.expired) == (0, True, True)
    assert balances(members["pending"]) == (80, 0, 0)
    assert not LedgerEntry.objects.filter(kind=Kind.RELEASE, transaction__source_id=str(lot.pk)).exists()
    assert ledger_verify_report().ok


def test_running_release_twice_changes_nothing_more(clock, program):
    mixed_ledger(program)
    clock.move_to(days(16))
    lots_release_due(batch_size=3)
    once = ledger_state()

    assert lots_release_due(batch_size=3).lots == 0
    assert ledger_state() == once


def test_the_command_and_the_task_run_the_same_job(clock, program, capsys):
    mixed_ledger(program)

    call_command("release_points", "--now", days(4).isoformat())
    assert "7 lots released" in capsys.readouterr().out
    assert release_points.delay(now=days(4).isoformat()).get()["lots"] == 0
    assert release_points.delay(now=days(8).isoformat()).get()["lots"] == 1  # pending's 80 (tie's is empty)
    assert ledger_verify_report().ok
