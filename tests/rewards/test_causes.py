"""Members give points to causes: spent through the ledger as a redemption, once per key, with running totals;
the liability report counts a donation as points redeemed."""

import pytest
from django.utils import timezone

from ledger.models import Kind, LedgerEntry
from ledger.selectors import ledger_verify_report, points_outstanding
from loyalty.errors import DomainError
from rewards.models import Donation
from rewards.selectors import cause_get, cause_list
from rewards.services import cause_create, cause_donate
from staff.data.reports import liability_report
from tests.factories import MemberFactory

from .conftest import give_points


@pytest.fixture
def trees(program):
    return cause_create(program=program, code="trees", name="Plant a tree")


@pytest.fixture
def grace(program):
    return MemberFactory(program=program, email="grace@example.com")


def donate(member, cause, points, key="k-1"):
    return cause_donate(member=member, cause=cause, points=points, idempotency_key=key)


def refusal(member, cause, points, key="k-x") -> str:
    with pytest.raises(DomainError) as error:
        donate(member, cause, points, key)
    return error.value.code


def test_a_donation_spends_points_as_a_redemption_once_per_key(member, trees):
    give_points(member, 300)
    first = donate(member, trees, 120)
    again = donate(member, trees, 120)
    assert again.pk == first.pk and again.replayed and not first.replayed
    entry = LedgerEntry.objects.get(account__member=member, points__lt=0)
    assert entry.kind == Kind.REDEEM and entry.points == -120
    assert entry.transaction.source_type == "donation" and entry.transaction.source_id == str(first.pk)
    assert entry.description == "Donation to Plant a tree"
    assert member.account.spendable == 180
    assert trees.code == "TREES"


def test_each_cause_shows_its_total_and_the_members_own(program, member, grace, trees):
    food = cause_create(program=program, code="FOOD", name="Food bank")
    cause_create(program=program, code="OLD", name="Old cause", active=False)
    give_points(member, 300)
    give_points(grace, 300)
    donate(member, trees, 100, "a")
    donate(member, trees, 50, "b")
    donate(grace, trees, 25, "c")
    donate(grace, food, 10, "d")
    listed = {c.code: (c.points_total, c.points_mine) for c in cause_list(program=program, member=member)}
    assert listed == {"TREES": (175, 150), "FOOD": (10, 0)}
    one = cause_get(program=program, code="trees", member=grace)
    assert (one.points_total, one.points_mine) == (175, 25)


def test_refusals_change_nothing(program, other_program, member, trees):
    give_points(member, 100)
    assert refusal(member, trees, 101) == "insufficient_points"
    for bad in (0, -1, True, 1.5):
        assert refusal(member, trees, bad) == "invalid"
    assert refusal(member, trees, 10, key="") == "invalid"
    trees.active = False
    trees.save(update_fields=["active"])
    assert refusal(member, trees, 10) == "cause_not_found"
    foreign = cause_create(program=other_program, code="TREES", name="Elsewhere")
    assert refusal(member, foreign, 10) == "cause_not_found"
    with pytest.raises(DomainError):
        cause_get(program=program, code="TREES\x00")
    assert not Donation.objects.exists()
    assert member.account.spendable == 100


def test_the_liability_report_counts_a_donation_as_redeemed(program, member, trees):
    give_points(member, 300)
    donate(member, trees, 120)
    today = timezone.localdate()
    report = liability_report(program=program, start=today, end=today)
    assert report.movements.redeemed == 120
    assert report.closing == points_outstanding(program=program) == 180
    assert ledger_verify_report().ok


@pytest.mark.django_db(transaction=True)
def test_one_form_sent_twice_at_once_gives_once(program):
    from tests.concurrency import run_together

    member = MemberFactory(program=program, email="ada@example.com")
    trees = cause_create(program=program, code="TREES", name="Plant a tree")
    give_points(member, 300)

    outcomes = run_together([lambda: donate(member, trees, 100, "twin") for _ in range(4)])

    assert [status for status, _ in outcomes] == ["ok"] * 4
    assert len({donation.pk for _, donation in outcomes}) == 1
    assert Donation.objects.count() == 1
    member.account.refresh_from_db()
    assert member.account.spendable == 200
    assert ledger_verify_report().ok
