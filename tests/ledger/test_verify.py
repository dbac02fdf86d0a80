import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ledger import tasks
from ledger.management.commands.ledger_verify import Command
from ledger.models import PointsAccount, PointsLot
from ledger.selectors import ledger_verify_report
from tests.factories import MemberFactory

from .support import account, earn, spend


def verify() -> str:
    out = StringIO()
    call_command("ledger_verify", stdout=out)
    return out.getvalue()


def test_a_clean_ledger_verifies_and_exits_zero(member):
    earn(member, 100)
    spend(member, 30)

    assert "Ledger consistent: 1 accounts and 1 lots checked" in verify()


def test_a_corrupted_cached_balance_is_reported_and_exits_non_zero(member, capsys):
    earn(member, 100)
    PointsAccount.objects.filter(member=member).update(available=150)  # bypasses the services on purpose

    with pytest.raises(CommandError) as failed:
        call_command("ledger_verify")

    assert failed.value.returncode == 1
    assert "1 accounts and 0 lots drifted" in str(failed.value)
    out = capsys.readouterr().out
    assert f"DRIFT account {account(member).pk}" in out
    assert "available_entries {'cached': 150, 'entries': 100}" in out
    assert "available_lots {'cached': 150, 'lots': 100}" in out


def test_the_command_exits_non_zero_when_run_as_a_process(member):
    earn(member, 100)
    PointsAccount.objects.filter(member=member).update(pending=7)

    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "ledger_verify"])

    assert exited.value.code == 1


def test_lots_out_of_range_or_disagreeing_with_their_movements_are_reported(member):
    earn(member, 100)
    spend(member, 40)
    lot = PointsLot.objects.get(account__member=member)
    PointsLot.objects.filter(pk=lot.pk).update(remaining=70)  # movements say 60

    report = ledger_verify_report()

    assert [item["problems"] for item in report.lots] == [["movements_disagree"]]
    assert report.lots[0]["moved"] == -40
    assert set(report.accounts[0]["problems"]) == {"available_lots"}


def test_verification_costs_the_same_queries_for_many_accounts(program, django_assert_max_num_queries):
    members = [MemberFactory(program=program) for _ in range(12)]
    for member in members:
        earn(member, 10)
        spend(member, 3)

    with django_assert_max_num_queries(4 * 3):  # the same 4 queries per batch of 5 accounts
        report = ledger_verify_report(batch_size=5)

    assert report.ok and report.accounts_checked == 12 and report.lots_checked == 12


def test_the_task_logs_drift(member, caplog):
    earn(member, 10)
    PointsAccount.objects.filter(member=member).update(debt=3)

    with caplog.at_level(logging.ERROR, logger="ledger.tasks"):
        summary = tasks.ledger_verify.delay().get()

    assert summary["accounts_drifted"] == 1
    assert "ledger drift: account" in caplog.text and "debt_entries" in caplog.text
