"""Members and ledger exports: CSV with local times, text that a spreadsheet would run as a formula defused,
streamed through a server-side cursor a chunk at a time, for managers and analysts only."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from ledger.models import Kind
from ledger.services import points_adjust, points_earn
from members.models import Member
from staff.data import exports
from staff.data.csvfiles import cell, csv_lines
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

MEMBERS_URL = "/staff/exports/members.csv"
LEDGER_URL = "/staff/exports/ledger.csv"


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


@pytest.mark.parametrize(("value", "written"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+49 151", "'+49 151"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("plain", "plain"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (-120, -120),
    (Decimal("-1.50"), Decimal("-1.50")),
    (True, "yes"),
])
def test_text_a_spreadsheet_would_run_is_quoted_and_numbers_are_not(value, written):
    assert cell(value) == written


def test_csv_lines_quote_what_csv_needs():
    assert list(csv_lines(["a", "b"], [["x,y", 'say "hi"'], ["=1", -3]])) == [
        "a,b\r\n", '"x,y","say ""hi"""\r\n', "'=1,-3\r\n"]


def test_the_members_export_has_each_member_with_balance_and_tier(analyst_client, program, store, member):
    points_earn(member=member, points=320, idempotency_key="e-1", source_type="test", actor="test")
    evil = MemberFactory(program=program, store=store, email="evil@example.com", first_name="=cmd|' /C calc'!A0",
                         last_name="@SUM(1+1)")
    MemberFactory(program=ProgramFactory(slug="elsewhere"), email="not-ours@example.com")

    rows = rows_of(analyst_client.get(MEMBERS_URL))

    assert list(rows[0]) == ["member_id", "card_number", "email", "phone", "first_name", "last_name", "birth_date",
                             "language", "status", "marketing_opt_in", "enrolled_at", "referral_code",
                             "available_points", "pending_points", "tier"]
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == {"ada@example.com", "evil@example.com"}
    ada = by_email["ada@example.com"]
    assert ada["member_id"] == str(member.pk) and ada["card_number"] == member.card_number
    assert ada["phone"] == "'+4915112345678" and ada["available_points"] == "320" and ada["pending_points"] == "0"
    assert ada["enrolled_at"] == member.enrolled_at.isoformat(timespec="seconds").replace("+00:00", "+00:00")
    assert by_email["evil@example.com"]["first_name"] == "'=cmd|' /C calc'!A0"
    assert by_email["evil@example.com"]["last_name"] == "'@SUM(1+1)"
    assert evil.pk


def test_times_are_the_programs_local_times(manager_client):
    from tests.staff.conftest import Role, client_for, make_staff

    program = ProgramFactory(slug="berlin", time_zone="Europe/Berlin")
    client = client_for(make_staff("berlin-manager", program, Role.MANAGER))
    with time_machine.travel(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), tick=False):
        member = MemberFactory(program=program, email="late@example.com")
        points_earn(member=member, points=5, idempotency_key="late", source_type="test", actor="test")

    (row,) = rows_of(client.get(MEMBERS_URL))
    assert row["enrolled_at"] == "2026-07-02T00:30:00+02:00"
    (entry,) = rows_of(client.get(LEDGER_URL))
    assert entry["booked_at"] == "2026-07-02T00:30:00+02:00" and entry["date"] == "2026-07-02"


def test_the_ledger_export_lists_every_entry_in_booking_order(manager_client, program, member):
    points_earn(member=member, points=100, idempotency_key="e-1", source_type="purchase", source_id="p-1",
                actor="api_key:1", description="Purchase R-1 at Demo")
    points_earn(member=member, points=10, idempotency_key="e-2", source_type="signup", actor="system:signup",
                kind=Kind.BONUS)
    points_adjust(member=member, points=-30, reason="-Refund for =SUM(A1)", actor="user:1", idempotency_key="a-1")

    rows = rows_of(manager_client.get(LEDGER_URL))

    assert [(row["kind"], row["points"]) for row in rows] == [("earn", "100"), ("bonus", "10"), ("adjust", "-30")]
    first = rows[0]
    assert first["member_id"] == str(member.pk) and first["card_number"] == member.card_number
    assert (first["source_type"], first["source_id"], first["reference"], first["actor"]) == (
        "purchase", "p-1", "e-1", "api_key:1")
    assert first["available_delta"] == "100" and first["description"] == "Purchase R-1 at Demo"
    assert rows[2]["reason"] == "'-Refund for =SUM(A1)" and rows[2]["description"] == "'-Refund for =SUM(A1)"


def test_the_ledger_export_takes_a_range_of_local_dates(manager_client, program, member):
    for day in (1, 2, 3):
        with time_machine.travel(datetime(2026, 3, day, 12, tzinfo=UTC), tick=False):
            points_earn(member=member, points=day, idempotency_key=f"d-{day}", source_type="test", actor="test")

    rows = rows_of(manager_client.get(LEDGER_URL, {"start": "2026-03-02", "end": "2026-03-03"}))
    assert [row["points"] for row in rows] == ["2", "3"]
    bad = manager_client.get(LEDGER_URL, {"start": "2026-03-04", "end": "2026-03-03"})
    assert bad.status_code == 400 and b"end:" in bad.content
    assert manager_client.get(LEDGER_URL, {"start": "yesterday"}).status_code == 400


def test_exports_read_through_a_server_side_cursor_a_chunk_at_a_time(manager_client, program, store, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 4)
    for i in range(9):
        MemberFactory(program=program, store=store, email=f"m{i}@example.com")
    opened = []
    real = connection.chunked_cursor
    monkeypatch.setattr(connection, "chunked_cursor", lambda: opened.append(1) or real())

    with CaptureQueriesContext(connection) as queries:
        rows = rows_of(manager_client.get(MEMBERS_URL))

    assert len(rows) == 9
    assert opened  # Django's server-side cursor: rows come from the database as they are written out
    balance_reads = [q for q in queries.captured_queries if 'FROM "ledger_pointsaccount"' in q["sql"]]
    assert len(balance_reads) == 3  # one per chunk of 4 members, not one per member


def test_the_response_streams_before_the_rows_are_read(manager_client, program, member):
    depth = len(connection.atomic_blocks)
    response = manager_client.get(MEMBERS_URL)
    lines = iter(response.streaming_content)
    try:
        assert next(lines).startswith(b"member_id,")  # the header, before any member row is fetched
        assert next(lines).startswith(str(member.pk).encode())
    finally:
        response.close()  # as a server does when the client goes: the download's transaction ends
    assert len(connection.atomic_blocks) == depth


def test_agents_may_not_download_exports_and_analysts_may(agent_client, analyst_client, other_program):
    for url in (MEMBERS_URL, LEDGER_URL):
        assert agent_client.get(url).status_code == 403
        assert analyst_client.get(url).status_code == 200
        assert analyst_client.get(url, {"program": other_program.slug}).status_code == 404


def test_anonymised_members_export_without_their_personal_data(manager_client, program, member):
    from members.services import member_anonymise

    member_anonymise(member=member)

    (row,) = rows_of(manager_client.get(MEMBERS_URL))
    assert row["email"].endswith("@anonymised.invalid") and row["first_name"] == "" and row["phone"] == ""
    assert Member.objects.get(pk=member.pk).status == "suspended" == row["status"]
