import uuid
from datetime import timedelta

from django.utils import timezone

from ledger.models import Kind, LedgerEntry, LedgerTransaction, PointsAccount
from tests.factories import MemberFactory

from .support import earn, key, spend


def activity_url(member_id) -> str:
    return f"/api/v1/pos/members/{member_id}/activity/"


def test_activity_is_a_page_of_entries_newest_first(pos, member):
    earned = earn(member, 120, expires_in_days=365, description="Purchase R-1")
    spend(member, 50)

    response = pos.get(activity_url(member.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    redeem, earn_entry = body["results"]
    assert set(earn_entry) == {"id", "kind", "points", "created_at", "description", "expires_at"}
    assert (redeem["kind"], redeem["points"], redeem["expires_at"]) == ("redeem", -50, None)
    assert (earn_entry["kind"], earn_entry["points"], earn_entry["description"]) == ("earn", 120, "Purchase R-1")
    assert earn_entry["id"] == str(earned.entries.get().public_id)
    assert earn_entry["expires_at"] is not None


def test_activity_pages_link_to_each_other(pos, member):
    for _ in range(5):
        earn(member, 1)

    first = pos.get(activity_url(member.pk), {"page_size": 2}).json()
    last = pos.get(activity_url(member.pk), {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None and "page=2" in first["next"]
    assert len(last["results"]) == 1 and last["next"] is None


def test_another_programs_member_is_not_found(pos, other_program):
    stranger = MemberFactory(program=other_program)
    earn(stranger, 10)

    for member_id in (stranger.pk, uuid.uuid4(), "not-a-uuid"):
        response = pos.get(activity_url(member_id))
        assert response.status_code == 404
        assert response.json()["code"] == "member_not_found"


def test_activity_needs_a_key(member):
    from tests.conftest import pos_client

    assert pos_client(None).get(activity_url(member.pk)).status_code == 401


def test_a_page_of_ten_thousand_entries_costs_a_bounded_number_of_queries(
    pos, member, django_assert_max_num_queries
):
    """The entries are bulk-inserted straight into the tables, bypassing the services, only for speed:
    the endpoint reads entries and does not care how they were written."""
    account = PointsAccount.objects.get(member=member)
    txn = LedgerTransaction.objects.create(program=member.program, kind=Kind.ADJUST, idempotency_key=key("bulk"),
                                           source_type="test", actor="test")
    start = timezone.now() - timedelta(days=30)
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=txn, program=member.program, account=account, kind=Kind.ADJUST, points=1,
                     available_delta=1, description=f"entry {n}", created_at=start + timedelta(seconds=n))
         for n in range(10_000)],
        batch_size=2000,
    )

    with django_assert_max_num_queries(8) as captured:
        response = pos.get(activity_url(member.pk), {"page": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 10_000
    assert [entry["description"] for entry in body["results"][:2]] == ["entry 9899", "entry 9898"]
    print(f"activity page over 10,000 entries: {len(captured)} queries")
