"""The points-liability report: exactly the contract's CSV, local dates with both ends included, an identity that
holds for any ledger, and a closing balance equal to what the POS API says the members hold."""

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.models import Kind, LedgerEntry
from ledger.selectors import account_balance_get, ledger_verify_report, transaction_lot_ids
from ledger.services import (
    account_expire,
    lots_expire_due,
    points_adjust,
    points_earn,
    points_refund,
    points_reverse_return,
    points_spend,
    points_transfer,
)
from loyalty.errors import DomainError
from rewards.models import Reward
from staff.data.reports import LIABILITY_COLUMNS, liability_report
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

CSV_URL = "/staff/reports/liability.csv"
_keys = itertools.count()


def key() -> str:
    return f"report-test-{next(_keys)}"


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def liability(client, program, start, end) -> dict:
    rows = read_csv(client.get(CSV_URL, {"program": program.slug, "start": str(start), "end": str(end)}))
    assert len(rows) == 1
    return rows[0]


def identity_holds(row: dict) -> bool:
    p = {name: int(row[f"{name}_points"]) for name in ("opening", "earned", "reversed", "redeemed", "refunded",
                                                      "expired", "adjusted", "closing")}
    return (p["opening"] + p["earned"] - p["reversed"] - p["redeemed"] + p["refunded"] - p["expired"]
            + p["adjusted"] == p["closing"])


def earn(member, points, **extra):
    return points_earn(member=member, points=points, idempotency_key=key(), source_type="test", actor="test",
                       **extra)


# --- the file, as the contract writes it -------------------------------------------------------------


def test_the_csv_has_the_contracts_columns_and_one_row(analyst_client, program, member):
    program.value_per_point = Decimal("0.0125")
    program.save()
    earn(member, 1001)
    today = timezone.localdate()

    response = analyst_client.get(CSV_URL, {"program": program.slug, "start": str(today), "end": str(today)})
    text = b"".join(response.streaming_content).decode()

    assert response["Content-Type"] == "text/csv"
    header, row, end = text.split("\r\n")
    assert header.split(",") == LIABILITY_COLUMNS == [
        "program", "currency", "start", "end", "opening_points", "earned_points", "reversed_points",
        "redeemed_points", "refunded_points", "expired_points", "adjusted_points", "closing_points",
        "value_per_point", "closing_value"]
    assert end == ""
    assert row.split(",") == [program.slug, "EUR", str(today), str(today), "0", "1001", "0", "0", "0", "0", "0",
                              "1001", "0.0125", "12.51"]


def test_every_kind_lands_in_its_column(manager_client, program, member, store):
    other = MemberFactory(program=program, store=store)
    purchase = earn(member, 500)
    earn(member, 40, kind=Kind.BONUS)
    points_reverse_return(member=member, points=100, idempotency_key=key(), source_type="test", actor="test",
                          from_lots=transaction_lot_ids(transaction_id=purchase.pk))
    spend = points_spend(member=member, points=150, idempotency_key=key(), source_type="test", actor="test")
    points_refund(spend=spend, idempotency_key=key(), actor="test", source_type="test")
    points_spend(member=member, points=60, idempotency_key=key(), source_type="test", actor="test")
    points_adjust(member=member, points=-30, reason="Correction", actor="test", idempotency_key=key())
    points_adjust(member=other, points=5, reason="Goodwill", actor="test", idempotency_key=key())
    points_transfer(sender=member, recipient=other, points=20, idempotency_key=key(), actor="test")
    earn(other, 7, expires_at=timezone.now() - timedelta(seconds=1))
    account_expire(member=other)
    today = timezone.localdate()

    row = liability(manager_client, program, today, today)

    assert {k: row[k] for k in LIABILITY_COLUMNS[4:12]} == {
        "opening_points": "0", "earned_points": "547", "reversed_points": "100", "redeemed_points": "210",
        "refunded_points": "150", "expired_points": "7", "adjusted_points": "-25", "closing_points": "355"}
    assert identity_holds(row)
    assert row["closing_value"] == "3.55"


def test_entries_count_on_the_programs_local_date_and_both_ends_are_included(manager_client):
    program = ProgramFactory(slug="kiwi", time_zone="Pacific/Auckland")  # UTC+13 in March
    from tests.staff.conftest import Role, client_for, make_staff

    client = client_for(make_staff("kiwi-manager", program, Role.MANAGER))
    member = MemberFactory(program=program)
    # 10 March 11:30 UTC is already 11 March 00:30 in Auckland; 12 March 10:59 UTC is still 12 March there
    for moment, points in ((datetime(2025, 3, 10, 10, 59, tzinfo=UTC), 1),
                           (datetime(2025, 3, 10, 11, 30, tzinfo=UTC), 10),
                           (datetime(2025, 3, 12, 10, 59, tzinfo=UTC), 100),
                           (datetime(2025, 3, 12, 11, 0, tzinfo=UTC), 1000)):
        with time_machine.travel(moment, tick=False):
            earn(member, points)

    row = liability(client, program, date(2025, 3, 11), date(2025, 3, 12))
    assert (row["opening_points"], row["earned_points"], row["closing_points"]) == ("1", "110", "111")
    single = liability(client, program, date(2025, 3, 13), date(2025, 3, 13))
    assert (single["opening_points"], single["earned_points"], single["closing_points"]) == ("111", "1000", "1111")


def test_a_ledger_entry_counts_when_booked_whatever_the_purchases_date(manager_client, program, member):
    earn(member, 300, occurred_at=timezone.now() - timedelta(days=400))  # a historical purchase, imported today
    today = timezone.localdate()

    row = liability(manager_client, program, today, today)

    assert (row["opening_points"], row["earned_points"]) == ("0", "300")


def test_closing_equals_what_the_pos_api_says_the_members_hold(manager_client, program, store, pos, api_key):
    members = [MemberFactory(program=program, store=store, email=f"pos{i}@example.com") for i in range(3)]
    program.pending_days = 14  # the third member's points stay pending
    program.save()
    Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50)
    program.pending_days = 0
    program.save()
    for i, member in enumerate(members[:2]):
        response = pos.post("/api/v1/pos/purchases/", {"external_id": f"R-{i}", "member": {"id": str(member.pk)},
                                                        "currency": "EUR", "total": "120.00"}, format="json")
        assert response.status_code == 201, response.json()
    redemption = pos.post("/api/v1/pos/redemptions/", {"member": {"id": str(members[0].pk)}, "reward": "FREE-COFFEE"},
                          format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")
    assert redemption.status_code == 201, redemption.json()
    # the second member spends, then returns the purchase: their available goes below zero
    pos.post("/api/v1/pos/redemptions/", {"member": {"id": str(members[1].pk)}, "reward": "FREE-COFFEE"},
             format="json", HTTP_IDEMPOTENCY_KEY="redeem-2")
    assert pos.post("/api/v1/pos/returns/", {"external_id": "X-1", "purchase_external_id": "R-1",
                                             "amount": "120.00"}, format="json").status_code == 201
    earn(members[2], 75, available_at=timezone.now() + timedelta(days=14))
    points_adjust(member=members[2], points=12, reason="Welcome", actor="test", idempotency_key=key())

    held = 0
    for member in members:
        balance = pos.get(f"/api/v1/pos/members/{member.pk}/").json()["balance"]
        held += balance["available"] + balance["pending"]
    today = timezone.localdate()
    row = liability(manager_client, program, today - timedelta(days=30), today)

    assert pos.get(f"/api/v1/pos/members/{members[1].pk}/").json()["balance"]["available"] < 0
    assert int(row["closing_points"]) == held
    assert identity_holds(row)


# --- any ledger adds up ----------------------------------------------------------------------------

OPERATIONS = ("earn", "bonus", "pending", "spend", "return", "refund", "adjust", "transfer", "expire", "expire_all")
BASE = datetime(2025, 3, 28, 9, 0, tzinfo=UTC)  # Auckland leaves summer time on 6 April 2025
STEP = st.tuples(st.integers(0, 20), st.integers(0, 23), st.sampled_from(OPERATIONS), st.integers(0, 2),
                 st.integers(-400, 600))


def _apply(operation: str, member, others, points: int, done: dict) -> None:
    now = timezone.now()
    size = abs(points) or 1
    try:
        if operation == "earn":
            done["earns"].append((member, earn(member, size, expires_at=now + timedelta(days=size % 9 + 1))))
        elif operation == "bonus":
            earn(member, size, kind=Kind.BONUS)
        elif operation == "pending":
            earn(member, size, available_at=now + timedelta(days=size % 5 + 1))
        elif operation == "spend":
            done["spends"].append(points_spend(member=member, points=size % 150 + 1, idempotency_key=key(),
                                               source_type="test", actor="test"))
        elif operation == "return" and done["earns"]:
            owner, txn = done["earns"][size % len(done["earns"])]
            points_reverse_return(member=owner, points=size % 50 + 1, idempotency_key=key(), source_type="test",
                                  actor="test", from_lots=transaction_lot_ids(transaction_id=txn.pk))
        elif operation == "refund" and done["spends"]:
            points_refund(spend=done["spends"].pop(size % len(done["spends"])), idempotency_key=key(), actor="test",
                          source_type="test")
        elif operation == "adjust" and points:
            points_adjust(member=member, points=points, reason="test", actor="test", idempotency_key=key())
        elif operation == "transfer":
            points_transfer(sender=member, recipient=others[size % 2], points=size % 100 + 1, idempotency_key=key(),
                            actor="test")
        elif operation == "expire":
            account_expire(member=member)
        elif operation == "expire_all":
            lots_expire_due()
    except DomainError:  # not enough points: refused, nothing moved
        pass


def _by_local_date(program) -> list[tuple[date, str, int]]:
    zone = ZoneInfo(program.time_zone)
    return [(created_at.astimezone(zone).date(), kind, points)
            for created_at, kind, points in LedgerEntry.objects.filter(program=program)
            .values_list("created_at", "kind", "points")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=8, max_size=40),
       ranges=st.lists(st.tuples(st.integers(-2, 24), st.integers(0, 10)), min_size=1, max_size=4))
def test_any_ledger_adds_up_for_any_range(db, steps, ranges):
    with transaction.atomic():
        with time_machine.travel(BASE, tick=False):
            program = ProgramFactory(time_zone="Pacific/Auckland", expiry_days=None)
            members = [MemberFactory(program=program) for _ in range(3)]
        done = {"earns": [], "spends": []}
        for day, hour, operation, who, points in sorted(steps, key=lambda s: (s[0], s[1])):
            with time_machine.travel(BASE + timedelta(days=day, hours=hour), tick=False):
                member = members[who]
                _apply(operation, member, [m for m in members if m != member], points, done)
        entries = _by_local_date(program)
        first = BASE.astimezone(ZoneInfo(program.time_zone)).date()

        with time_machine.travel(BASE + timedelta(days=22), tick=False):
            today = timezone.now().astimezone(ZoneInfo(program.time_zone)).date()
            for offset, length in ranges:
                start = first + timedelta(days=offset)
                end = start + timedelta(days=length)
                report = liability_report(program=program, start=start, end=end)
                m = report.movements
                assert report.opening + m.earned - m.reversed - m.redeemed + m.refunded - m.expired + m.adjusted \
                    == report.closing
                assert min(m.earned, m.reversed, m.redeemed, m.refunded, m.expired) >= 0
                # the same figures, counted one entry at a time on their local dates
                assert report.opening == sum(p for day, _, p in entries if day < start)
                assert report.closing == sum(p for day, _, p in entries if day <= end)
                assert m.expired == -sum(p for day, kind, p in entries if start <= day <= end and kind == Kind.EXPIRE)
                middle = start + timedelta(days=length // 2)
                assert liability_report(program=program, start=middle + timedelta(days=1), end=end).opening == \
                    liability_report(program=program, start=start, end=middle).closing

            report = liability_report(program=program, start=first, end=today)
            held = sum(sum(account_balance_get(member=member, fresh=True).values()) for member in members)
            assert report.closing == held
        assert ledger_verify_report().ok
        transaction.set_rollback(True)


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {"start": "2026-01-01", "end": "2026-01-31"},  # no program
    {"program": "coffee", "end": "2026-01-31"},
    {"program": "coffee", "start": "2026-01-01"},
    {"program": "coffee", "start": "2026-1-1", "end": "2026-01-31"},
    {"program": "coffee", "start": "2026-02-30", "end": "2026-03-31"},
    {"program": "coffee", "start": "01/02/2026", "end": "2026-03-31"},
    {"program": "coffee", "start": "2026-03-01", "end": "2026-02-01"},
    {"program": "coffee", "start": "1900-01-01", "end": "2026-02-01"},
    {"program": "coffee", "start": "2026-01-01", "end": "9999-12-31"},
    {"program": "coffee", "start": "", "end": ""},
    {"program": "coffee", "start": "2026-01-01\x00", "end": "2026-01-02"},
    {"program": "coffee", "start": "x" * 5000, "end": "2026-01-02"},
])
def test_bad_or_missing_parameters_answer_a_clear_400(manager_client, program, query):
    response = manager_client.get(CSV_URL, query)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    message = response.content.decode()
    assert message.split(":")[0] in {"program", "start", "end"} and len(message) < 300


def test_another_or_unknown_programs_slug_answers_404(manager_client, other_program):
    query = {"start": "2026-01-01", "end": "2026-01-31"}
    assert manager_client.get(CSV_URL, {"program": other_program.slug, **query}).status_code == 404
    assert manager_client.get(CSV_URL, {"program": "no-such-program", **query}).status_code == 404


def test_agents_may_not_download_reports_and_analysts_and_managers_may(agent_client, analyst_client,
                                                                        manager_client, client, program):
    query = {"program": program.slug, "start": "2026-01-01", "end": "2026-01-31"}
    assert agent_client.get(CSV_URL, query).status_code == 403
    assert agent_client.get("/staff/reports/").status_code == 403
    assert analyst_client.get(CSV_URL, query).status_code == 200
    assert manager_client.get(CSV_URL, query).status_code == 200
    assert client.get(CSV_URL, query).status_code == 302  # signed out: to the sign-in page


# --- the page ----------------------------------------------------------------------------------------


def test_the_page_shows_this_month_with_each_movement(analyst_client, program, member):
    earn(member, 250)
    points_adjust(member=member, points=-50, reason="Correction", actor="test", idempotency_key=key())

    page = analyst_client.get("/staff/reports/").content.decode()

    assert f'value="{timezone.localdate().replace(day=1)}"' in page and f'value="{timezone.localdate()}"' in page
    assert "Points liability" in page and "+250" in page and "−50" in page
    assert f"liability.csv?program={program.slug}&amp;start=" in page
    assert 'id="liability-chart-data"' in page and "Points about to expire" in page


def test_the_page_shows_bad_dates_beside_the_field(manager_client, program):
    response = manager_client.get("/staff/reports/", {"start": "2026-05-01", "end": "2026-04-01"})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="field-end"' in page and "The last date comes before the first." in page
    assert "Points liability" not in page


def test_long_ranges_are_shown_by_month_and_the_daily_csv_has_every_day(manager_client, program, member):
    earn(member, 90)
    today = timezone.localdate()
    start = today - timedelta(days=119)

    page = manager_client.get("/staff/reports/", {"start": str(start), "end": str(today)}).content.decode()
    assert "Month by month" in page

    rows = read_csv(manager_client.get("/staff/reports/liability-daily.csv",
                                       {"program": program.slug, "start": str(start), "end": str(today)}))
    assert len(rows) == 120 and rows[0]["date"] == str(start) and rows[-1]["date"] == str(today)
    assert rows[-1]["earned_points"] == "90" and rows[-1]["closing_points"] == "90"
    assert all(int(a["closing_points"]) == int(b["opening_points"]) for a, b in itertools.pairwise(rows))


def test_the_expiry_outlook_counts_what_is_left_in_each_month(manager_client, program, member):
    earn(member, 80, expires_at=timezone.now() + timedelta(days=40))
    points_spend(member=member, points=30, idempotency_key=key(), source_type="test", actor="test")

    rows = read_csv(manager_client.get("/staff/reports/expiry.csv", {"program": program.slug}))

    assert len(rows) == 12
    assert sum(int(row["expiring_points"]) for row in rows) == 50
    month = (timezone.now() + timedelta(days=40)).strftime("%Y-%m")
    assert next(row for row in rows if row["month"] == month)["members"] == "1"
