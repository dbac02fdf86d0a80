"""A member claims a guest purchase by its receipt number: it earns as if posted for them on its date, once."""

from datetime import timedelta
from decimal import Decimal

import pytest

from earning.models import Purchase
from earning.services import purchase_claim, purchase_record, purchase_return
from ledger.models import LedgerEntry, PointsLot
from ledger.selectors import ledger_verify_report
from loyalty.errors import DomainError
from tests.factories import MemberFactory, StoreFactory

from .support import LATTE, MUFFIN, NOW, available


def guest_purchase(store, *, external_id="R-9", total="20.00", days_ago=3):
    return purchase_record(store=store, actor="test", external_id=external_id, member_reference=None, currency="EUR",
                           total=Decimal(total), occurred_at=NOW - timedelta(days=days_ago), lines=[LATTE, MUFFIN])


def claim(member, store, external_id="R-9"):
    return purchase_claim(member=member, store=store, external_id=external_id, actor=f"member:{member.pk}")


def test_a_claim_earns_as_if_posted_on_the_purchase_date(clock, program, store, member, make_rule):
    make_rule("coffee-x2", {"kind": "multiplier", "factor": "2"}, [{"kind": "category", "categories": ["coffee"]}])
    program.expiry_days, program.pending_days = 365, 14
    program.save(update_fields=["expiry_days", "pending_days"])
    guest = guest_purchase(store)
    assert guest.points_awarded == 0 and guest.member is None

    claimed = claim(member, store)

    assert claimed.member_id == member.pk and claimed.claimed_at == NOW
    assert claimed.points_awarded == 29  # 20 base + 9 for the coffee doubled
    assert [line["rule"] for line in claimed.breakdown] == ["base", "coffee-x2"]
    lot = PointsLot.objects.get(account__member=member)
    assert lot.earned_at == guest.occurred_at
    assert lot.available_at == guest.occurred_at + timedelta(days=14)
    assert lot.expires_at == guest.occurred_at + timedelta(days=365)
    entry = LedgerEntry.objects.get(account__member=member)
    assert entry.transaction.idempotency_key == f"purchase:{store.pk}:R-9"
    assert ledger_verify_report().ok


def test_a_second_claim_by_anyone_is_already_claimed(clock, program, store, member):
    guest_purchase(store)
    claim(member, store)
    other = MemberFactory(program=program, store=store, email="grace@example.com")
    for claimer in (member, other):
        with pytest.raises(DomainError) as refused:
            claim(claimer, store)
        assert refused.value.code == "already_claimed"
    assert available(member) == 20 and available(other) == 0


def test_a_purchase_posted_for_a_member_cannot_be_claimed(clock, program, store, member):
    purchase_record(store=store, actor="test", external_id="R-1", member_reference={"id": str(member.pk)},
                    currency="EUR", total=Decimal("10.00"))
    other = MemberFactory(program=program, store=store, email="grace@example.com")
    with pytest.raises(DomainError) as refused:
        claim(other, store, "R-1")
    assert refused.value.code == "already_claimed"


def test_unknown_receipt_other_store_and_past_window_get_one_neutral_refusal(clock, program, store, member,
                                                                             other_program):
    guest_purchase(store, external_id="OLD", days_ago=31)  # the window is 30 days
    guest_purchase(store, external_id="R-9")
    elsewhere = StoreFactory(program=program, code="AIRPORT-2")
    foreign = StoreFactory(program=other_program, code="DEMO-001")
    for where, receipt in ((store, "OLD"), (store, "NOPE"), (elsewhere, "R-9"), (foreign, "R-9"), (store, ""),
                           (store, "R\x00-9"), (store, "R" * 500)):
        with pytest.raises(DomainError) as refused:
            claim(member, where, receipt)
        assert refused.value.code == "purchase_not_claimable", (where, receipt)
    assert available(member) == 0
    assert Purchase.objects.filter(member=member).count() == 0


def test_a_suspended_member_cannot_claim(clock, program, store, member):
    guest_purchase(store)
    member.status = member.Status.SUSPENDED
    member.save(update_fields=["status"])
    with pytest.raises(DomainError) as refused:
        claim(member, store)
    assert refused.value.code == "member_suspended"
    assert Purchase.objects.get(external_id="R-9").member_id is None


def test_a_guest_purchase_partly_returned_earns_on_what_was_kept(clock, program, store, member):
    guest_purchase(store, total="20.00")
    purchase_return(store=store, actor="test", external_id="RET-1", purchase_external_id="R-9",
                    amount=Decimal("5.00"))
    claimed = claim(member, store)
    assert claimed.points_awarded == 20 and claimed.points_reversed == 5
    assert available(member) == 15
    # A later return of the rest takes back exactly what is left.
    purchase_return(store=store, actor="test", external_id="RET-2", purchase_external_id="R-9",
                    amount=Decimal("15.00"))
    assert available(member) == 0
    assert ledger_verify_report().ok


def test_a_claim_counts_as_first_purchase_by_its_date_and_grants_the_referral_bonus(clock, program, store, member,
                                                                                  friend, make_rule):
    make_rule("refer-a-friend", {"kind": "fixed_bonus", "points": 200}, applies_to="referral")
    friend.referred_by = member
    friend.save(update_fields=["referred_by"])
    guest_purchase(store)
    claim(friend, store)
    assert available(friend) == 220 and available(member) == 200


@pytest.mark.django_db(transaction=True)
def test_two_members_claiming_one_receipt_at_once_one_gets_it(clock, program, store):
    from tests.concurrency import run_together

    guest_purchase(store, days_ago=0)
    ada = MemberFactory(program=program, store=store, email="ada@example.com")
    grace = MemberFactory(program=program, store=store, email="grace@example.com")

    outcomes = run_together([lambda: claim(ada, store), lambda: claim(grace, store)])

    assert sorted(status for status, _ in outcomes) == ["error", "ok"]
    error = next(value for status, value in outcomes if status == "error")
    assert isinstance(error, DomainError) and error.code == "already_claimed"
    assert sorted([available(ada), available(grace)]) == [0, 20]
    assert ledger_verify_report().ok
