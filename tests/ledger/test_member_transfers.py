"""A member's own transfers (family pooling): the program's daily limit per program-local day, active members,
exactly once per key — and two transfers of one sender at once cannot both slip under the limit."""

from datetime import UTC, datetime

import pytest
import time_machine

from ledger.models import Kind, LedgerTransaction
from ledger.selectors import ledger_verify_report, transfer_sent_get
from ledger.services import points_transfer_member
from loyalty.errors import DomainError
from tests.concurrency import run_together
from tests.factories import MemberFactory

from .support import balances, earn


@pytest.fixture
def grace(program):
    return MemberFactory(program=program, email="grace@example.com", first_name="Grace", last_name="Hopper")


def send(sender, recipient, points, key="k-1"):
    return points_transfer_member(sender=sender, recipient=recipient, points=points, idempotency_key=key,
                                  actor="test")


def refused(sender, recipient, points, key="k-x") -> DomainError:
    with pytest.raises(DomainError) as error:
        send(sender, recipient, points, key)
    return error.value


def test_a_transfer_moves_points_once_per_key(member, grace):
    earn(member, 500)
    first = send(member, grace, 200)
    again = send(member, grace, 200)
    assert again.pk == first.pk and again.replayed
    assert balances(member)[0] == 300 and balances(grace)[0] == 200
    assert transfer_sent_get(sender=member, idempotency_key="k-1") == (200, grace)
    assert transfer_sent_get(sender=grace, idempotency_key="k-1") is None  # only the sender finds it


def test_the_daily_limit_counts_the_senders_program_local_day(program, member, grace):
    program.transfer_daily_limit, program.time_zone = 1000, "Europe/Berlin"
    program.save(update_fields=["transfer_daily_limit", "time_zone"])
    member.program.refresh_from_db()
    earn(member, 5000)
    with time_machine.travel(datetime(2026, 3, 4, 22, 30, tzinfo=UTC), tick=False):  # 23:30 in Berlin
        send(member, grace, 700, "a")
        error = refused(member, grace, 301)
        assert error.code == "transfer_limit_reached" and error.extra["left"] == 300
        send(member, grace, 300, "b")
        assert refused(member, grace, 1).code == "transfer_limit_reached"
        # What grace received does not count against what she may send.
        send(grace, member, 1000, "c")
    with time_machine.travel(datetime(2026, 3, 4, 23, 5, tzinfo=UTC), tick=False):  # past midnight in Berlin
        send(member, grace, 1000, "d")
    assert ledger_verify_report().ok


def test_a_replay_is_answered_even_when_the_limit_is_used_up(program, member, grace):
    program.transfer_daily_limit = 100
    program.save(update_fields=["transfer_daily_limit"])
    earn(member, 500)
    first = send(member, grace, 100, "same")
    assert send(member, grace, 100, "same").pk == first.pk


def test_no_limit_and_transfers_off(program, member, grace):
    earn(member, 50_000)
    program.transfer_daily_limit = None
    program.save(update_fields=["transfer_daily_limit"])
    send(member, grace, 40_000, "big")
    program.transfer_daily_limit = 0
    program.save(update_fields=["transfer_daily_limit"])
    assert refused(member, grace, 1).code == "transfers_off"
    assert balances(member)[0] == 10_000


def test_refusals_move_nothing(program, member, grace, other_program):
    earn(member, 100)
    assert refused(member, member, 10).code == "invalid"
    assert refused(member, grace, 101).code == "insufficient_points"
    for bad in (0, -5, True, 2.5):
        assert refused(member, grace, bad).code == "invalid"
    foreign = MemberFactory(program=other_program, email="x@example.com")
    assert refused(member, foreign, 10).code == "member_not_found"
    grace.status = grace.Status.SUSPENDED
    grace.save(update_fields=["status"])
    assert refused(member, grace, 10).code == "member_not_found"
    assert balances(member)[0] == 100
    assert not LedgerTransaction.objects.filter(kind=Kind.TRANSFER_OUT).exists()


@pytest.mark.django_db(transaction=True)
def test_two_transfers_of_one_sender_at_once_stay_within_the_limit(program):
    program.transfer_daily_limit = 1000
    program.save(update_fields=["transfer_daily_limit"])
    ada = MemberFactory(program=program, email="ada@example.com")
    grace = MemberFactory(program=program, email="grace@example.com")
    chloe = MemberFactory(program=program, email="chloe@example.com")
    earn(ada, 5000)

    outcomes = run_together([lambda: send(ada, grace, 600, "to-grace"), lambda: send(ada, chloe, 600, "to-chloe")])

    assert sorted(status for status, _ in outcomes) == ["error", "ok"]
    error = next(value for status, value in outcomes if status == "error")
    assert isinstance(error, DomainError) and error.code == "transfer_limit_reached"
    assert balances(ada)[0] == 4400
    assert ledger_verify_report().ok
