"""Each whole-ledger verification, by the command or by the nightly task, is recorded: what it checked, and the
drift per program with the first drifted accounts and lots by name, for the staff home to show."""

import pytest
from django.core.management import CommandError, call_command

from ledger import services, tasks
from ledger.models import PointsAccount, PointsLot, VerificationRun
from ledger.selectors import verification_latest
from tests.factories import MemberFactory

from .support import account, earn, spend


def test_a_clean_run_by_the_command_is_recorded_as_consistent(member):
    earn(member, 100)
    spend(member, 30)

    call_command("ledger_verify")

    run = VerificationRun.objects.get()
    assert run.trigger == VerificationRun.Trigger.COMMAND
    assert (run.accounts_checked, run.lots_checked, run.accounts_drifted, run.lots_drifted) == (1, 1, 0, 0)
    assert run.ok and run.programs == {} and run.drift == []
    assert run.started_at <= run.finished_at
    assert verification_latest() == run


def test_drift_is_recorded_per_program_with_the_member_and_the_command_still_fails(member, other_program):
    other = MemberFactory(program=other_program)
    earn(member, 100)
    earn(other, 50)
    spend(other, 10)
    PointsAccount.objects.filter(member=member).update(available=150)  # bypasses the services on purpose
    lot = PointsLot.objects.get(account__member=other)
    PointsLot.objects.filter(pk=lot.pk).update(remaining=45)  # its movements say 40

    with pytest.raises(CommandError):
        call_command("ledger_verify")

    run = VerificationRun.objects.get()
    assert not run.ok
    assert (run.accounts_drifted, run.lots_drifted) == (2, 1)  # the lot's account disagrees with it too
    assert run.programs == {str(member.program_id): {"accounts": 1, "lots": 0},
                            str(other_program.pk): {"accounts": 1, "lots": 1}}
    ours = [item for item in run.drift if item["program"] == str(member.program_id)]
    assert ours == [{"program": str(member.program_id), "account": account(member).pk, "member": str(member.pk),
                     "lot": None, "problems": ours[0]["problems"]}]
    assert "available_entries" in ours[0]["problems"]
    assert {item["lot"] for item in run.drift if item["lot"]} == {lot.pk}


def test_the_nightly_task_records_its_runs_and_the_latest_is_the_one_shown(member):
    earn(member, 100)
    tasks.ledger_verify.delay()
    PointsAccount.objects.filter(member=member).update(pending=7)
    summary = tasks.ledger_verify.delay().get()

    first, latest = VerificationRun.objects.order_by("finished_at", "id")
    assert first.ok and first.trigger == latest.trigger == VerificationRun.Trigger.TASK
    assert summary["accounts_drifted"] == latest.accounts_drifted == 1
    assert verification_latest() == latest


def test_a_run_keeps_the_first_drifted_accounts_by_name_and_counts_them_all(program, store, monkeypatch):
    monkeypatch.setattr(services, "DRIFT_KEPT", 2)
    members = [MemberFactory(program=program, store=store) for _ in range(3)]
    for member in members:
        earn(member, 10)
    PointsAccount.objects.filter(program=program).update(available=11)

    run = services.ledger_verification_run(trigger=VerificationRun.Trigger.COMMAND)

    assert run.accounts_drifted == 3 and run.programs[str(program.pk)]["accounts"] == 3
    assert len(run.drift) == 2
    assert len(run.report.accounts) == 3  # the full report for the caller to list


def test_no_run_yet_reads_as_none(db):
    assert verification_latest() is None
