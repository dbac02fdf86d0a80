"""Importing members and historical purchases from CSV: a dry run that changes nothing, then the import as a
job with progress; bad rows reported by line and column, good rows landing, and a file imported twice adding
nothing the second time."""

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from earning.models import Purchase
from ledger.models import LedgerEntry
from ledger.selectors import account_balance_get
from members.models import Member
from staff.data import importing
from staff.data.importing import import_job_run, import_job_start
from staff.models import AuditEvent, ImportJob
from tests.factories import MemberFactory, ProgramFactory, StoreFactory

pytestmark = pytest.mark.django_db

URL = "/staff/imports/"
MEMBERS = ("email,first_name,last_name,phone,birth_date,language,marketing_opt_in\n"
           "grace@example.com,Grace,Hopper,+4915112340001,1906-12-09,en,yes\n"
           "not-an-email,Bad,Row,,,,\n"
           "alan@example.com,Alan,Turing,,1912-06-23,de,no\n")


def upload(client, text: str | bytes, kind: str = "members", name: str = "members.csv"):
    content = text.encode() if isinstance(text, str) else text
    return client.post(URL, {"kind": kind, "file": SimpleUploadedFile(name, content, content_type="text/csv")})


def job_of(response) -> ImportJob:
    assert response.status_code == 302, response.content.decode()[:2000]
    match = re.fullmatch(r"/staff/imports/(\d+)/", response["Location"])
    assert match
    return ImportJob.objects.get(pk=match.group(1))


def start(client, job: ImportJob):
    response = client.post(f"{URL}{job.pk}/start/")
    assert response.status_code == 302 and response["Location"] == f"{URL}{job.pk}/"
    job.refresh_from_db()
    return job


def members_of(program) -> set[str]:
    return set(Member.objects.filter(program=program).values_list("email", flat=True))


# --- members ---------------------------------------------------------------------------------------


def test_the_dry_run_reports_each_bad_row_by_line_and_column_and_changes_nothing(manager_client, program):
    job = job_of(upload(manager_client, MEMBERS))

    assert job.status == ImportJob.Status.CHECKED
    assert job.dry_run["rows"] == 3 and job.dry_run["new"] == 2 and job.dry_run["failed"] == 1
    assert job.dry_run["errors"] == [{"line": 3, "column": "email", "message": "This is not an email address."}]
    assert members_of(program) == set()
    page = manager_client.get(f"{URL}{job.pk}/").content.decode()
    assert "Ready to import 2 rows" in page and ">Import</button>" in page
    assert re.search(r'<td class="num">3</td><td><code>email</code></td><td>This is not an email address.</td>', page)


def test_importing_enrols_the_good_rows_through_enrolment_and_reports_the_bad_one(manager_client, manager, program):
    job = start(manager_client, job_of(upload(manager_client, MEMBERS)))

    assert job.status == ImportJob.Status.DONE
    assert (job.created_rows, job.skipped_rows, job.error_rows, job.processed_rows) == (2, 0, 1, 3)
    assert job.errors == [{"line": 3, "column": "email", "message": "This is not an email address."}]
    assert members_of(program) == {"grace@example.com", "alan@example.com"}
    grace = Member.objects.get(program=program, email="grace@example.com")
    assert grace.phone == "+4915112340001" and grace.marketing_opt_in and str(grace.birth_date) == "1906-12-09"
    assert grace.marketing_opt_in_source == "import"  # where her consent was given
    assert len(grace.card_number) == 16 and grace.account.pk  # enrolment opened the points account
    assert Member.objects.get(email="alan@example.com").language == "de"
    assert job.content == b""  # the file is not kept once imported
    page = manager_client.get(f"{URL}{job.pk}/").content.decode()
    assert "Imported" in page and "Added" in page


def test_importing_the_same_file_again_adds_nothing(manager_client, program):
    start(manager_client, job_of(upload(manager_client, MEMBERS)))
    enrolled = members_of(program)

    again = job_of(upload(manager_client, MEMBERS))
    assert again.dry_run["new"] == 0 and again.dry_run["already"] == 2 and again.dry_run["failed"] == 1
    assert "This file was imported before" in manager_client.get(f"{URL}{again.pk}/").content.decode()
    again = start(manager_client, again)

    assert again.status == ImportJob.Status.DONE
    assert (again.created_rows, again.skipped_rows, again.error_rows) == (0, 2, 1)
    assert members_of(program) == enrolled


def test_a_member_enrolled_before_is_left_as_they_are(manager_client, program, member):
    job = start(manager_client, job_of(upload(manager_client, "email,first_name\nADA@example.com,Someone Else\n")))

    assert (job.created_rows, job.skipped_rows) == (0, 1)
    member.refresh_from_db()
    assert member.first_name == "Ada"


def test_rows_repeating_an_earlier_row_of_the_file_are_refused_with_that_line(manager_client, program):
    job = job_of(upload(manager_client, "email,phone\nada@example.com,+4915112340009\nADA@example.com,\n"
                                        "bob@example.com,+49 151 12340009\n"))

    assert job.dry_run["errors"] == [
        {"line": 3, "column": "email", "message": "The same member as line 2."},
        {"line": 4, "column": "phone", "message": "The same member as line 2."},
    ]
    assert start(manager_client, job).created_rows == 1


def test_each_column_is_checked_and_named(manager_client, program, member):
    text = ("email,first_name,phone,birth_date,language,marketing_opt_in,referred_by,store\n"
            f"a@example.com,{'x' * 101},,,,,,\n"
            "b@example.com,B,12,,,,,\n"
            "c@example.com,C,,1990-02-30,,,,\n"
            "d@example.com,D,,2999-01-01,,,,\n"
            "e@example.com,E,,,fr,,,\n"
            "f@example.com,F,,,,maybe,,\n"
            "g@example.com,G,,,,,NOSUCHCODE,\n"
            "h@example.com,H,,,,,,NOSUCHSTORE\n"
            "i@example.com,I,+4915112345678,,,,,\n"  # Ada's phone
            f"j@example.com,J,,,,,{member.referral_code},DEMO-001\n")
    job = start(manager_client, job_of(upload(manager_client, text)))

    columns = {error["line"]: error["column"] for error in job.errors}
    assert columns == {2: "first_name", 3: "phone", 4: "birth_date", 5: "birth_date", 6: "language",
                       7: "marketing_opt_in", 8: "referred_by", 9: "store", 10: "phone"}
    assert job.created_rows == 1
    joined = Member.objects.get(email="j@example.com")
    assert joined.referred_by == member and joined.enrolled_store.code == "DEMO-001"


def test_an_exported_phone_number_reads_back_without_its_formula_guard(manager_client, program):
    start(manager_client, job_of(upload(manager_client, "email,phone\nada@example.com,'+4915112340002\n")))

    assert Member.objects.get(email="ada@example.com").phone == "+4915112340002"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"\xff\xfe\x00e\x00m", "not UTF-8"),
    (b"name,phone\nAda,+49\n", "A members file needs an email column."),
    (b"email\n\n\n", "The file has a header but no rows."),
    (b'email\n"ada@example.com\n', "cannot be read as CSV"),
])
def test_a_file_that_cannot_be_imported_is_refused_beside_the_field(manager_client, content, message):
    response = upload(manager_client, content)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'class="field-error"' in page
    assert not ImportJob.objects.exists()


def test_a_file_too_large_or_too_long_is_refused(manager_client, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    response = upload(manager_client, "email\na@example.com\nb@example.com\nc@example.com\n")
    assert response.status_code == 400 and "more than 2 rows" in response.content.decode()

    monkeypatch.setattr(importing, "MAX_BYTES", 10)
    response = upload(manager_client, "email\na@example.com\n")
    assert response.status_code == 400 and "larger than" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_form_without_a_file_or_with_an_unknown_kind_is_shown_again(manager_client):
    assert manager_client.post(URL, {"kind": "members"}).status_code == 400
    response = upload(manager_client, MEMBERS, kind="vouchers")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not ImportJob.objects.exists()


# --- purchases -------------------------------------------------------------------------------------


def test_historical_purchases_earn_as_at_the_till_on_their_own_date(manager_client, program, store, member):
    text = ("external_id,store,card_number,total,occurred_at\n"
            f"R-1,DEMO-001,{member.card_number},24.90,2026-01-15\n"
            f"R-2,DEMO-001,{member.card_number},\"10,50\",2026-01-16 17:45\n"
            "R-3,DEMO-001,9000000000000019,5.00,2026-01-17\n"
            f"R-4,NOPE,{member.card_number},5.00,2026-01-17\n"
            f"R-5,DEMO-001,{member.card_number},-5,2026-01-17\n"
            f"R-6,DEMO-001,{member.card_number},5.00,2999-01-17\n"
            f"R-1,DEMO-001,{member.card_number},24.90,2026-01-15\n"
            f"R 7,DEMO-001,{member.card_number},5.00,2026-01-15\n"
            f"R-8,DEMO-001,{member.card_number},5.00,15.01.2026\n")
    job = start(manager_client, job_of(upload(manager_client, text, kind="purchases", name="till.csv")))

    assert job.created_rows == 2
    assert {e["line"]: e["column"] for e in job.errors} == {4: "card_number", 5: "store", 6: "total", 7: "occurred_at",
                                                           8: "external_id", 9: "external_id", 10: "occurred_at"}
    first = Purchase.objects.get(store=store, external_id="R-1")
    assert first.occurred_at == datetime(2026, 1, 15, tzinfo=UTC) and first.total == Decimal("24.90")
    assert Purchase.objects.get(external_id="R-2").total == Decimal("10.50")
    assert first.points_awarded > 0 and first.actor == f"user:{job.started_by_id}"
    entry = LedgerEntry.objects.get(transaction=first.earn_transaction)
    assert entry.lot.earned_at == first.occurred_at  # the lot runs from the purchase's own date


def test_purchases_imported_again_add_nothing(manager_client, program, store, member):
    text = f"external_id,store,email,total,occurred_at\nR-1,DEMO-001,{member.email},24.90,2026-01-15\n"
    start(manager_client, job_of(upload(manager_client, text, kind="purchases")))
    balance = account_balance_get(member=member, fresh=True)

    again = start(manager_client, job_of(upload(manager_client, text, kind="purchases")))

    assert (again.created_rows, again.skipped_rows) == (0, 1)
    assert Purchase.objects.filter(external_id="R-1").count() == 1
    assert account_balance_get(member=member, fresh=True) == balance


def test_a_suspended_member_earns_nothing_from_an_import(manager_client, program, store):
    suspended = MemberFactory(program=program, store=store, email="sus@example.com", status="suspended")
    text = f"external_id,store,member_id,total,occurred_at\nR-1,DEMO-001,{suspended.pk},9.00,2026-01-15\n"

    job = start(manager_client, job_of(upload(manager_client, text, kind="purchases")))

    assert job.errors[0]["column"] == "member_id" and "suspended" in job.errors[0]["message"]
    assert not Purchase.objects.exists()


def test_a_purchases_file_needs_its_columns(manager_client):
    response = upload(manager_client, "external_id,store,total\nR-1,DEMO-001,3\n", kind="purchases")

    assert response.status_code == 400
    assert "needs the column occurred_at" in response.content.decode()


# --- the job -----------------------------------------------------------------------------------------


def test_the_import_starts_once_and_is_audited(manager_client, manager, program):
    job = start(manager_client, job_of(upload(manager_client, MEMBERS)))

    response = manager_client.post(f"{URL}{job.pk}/start/", follow=True)
    assert "has been started already" in response.content.decode()
    assert Member.objects.filter(program=program).count() == 2
    events = list(AuditEvent.objects.filter(target_type="importjob").order_by("id"))
    assert [e.action for e in events] == ["import.start", "import.done"]
    assert all(e.actor == manager and e.program == program for e in events)
    assert events[1].after == {"rows": 3, "added": 2, "already": 0, "failed": 1}


def test_a_job_stopped_by_a_database_outage_resumes_after_its_last_chunk(manager_client, manager, program,
                                                                         monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_ROWS", 2)
    text = "email\n" + "".join(f"m{i}@example.com\n" for i in range(5))
    job = job_of(upload(manager_client, text))
    assert import_job_start(job=job, actor=manager)
    real_write, calls = importing._Rows.write, []

    def write_then_fail(self, parsed, tally):
        calls.append(len(parsed))
        if len(calls) == 2:
            raise OperationalError("the database went away")
        return real_write(self, parsed, tally)

    monkeypatch.setattr(importing._Rows, "write", write_then_fail)
    with pytest.raises(OperationalError):
        import_job_run(job_id=job.pk)  # the task retries the database's errors
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.processed_rows == 2  # the first chunk committed

    monkeypatch.setattr(importing._Rows, "write", real_write)
    import_job_run(job_id=job.pk)  # the task's retry

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and (job.created_rows, job.skipped_rows) == (5, 0)
    assert Member.objects.filter(program=program).count() == 5


def test_an_unexpected_error_fails_the_job_with_a_message(manager_client, program, monkeypatch):
    job = job_of(upload(manager_client, MEMBERS))
    monkeypatch.setattr(importing._Rows, "write", lambda self, parsed, tally: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        start(manager_client, job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "unexpected error" in job.failure
    assert "This job stopped" in manager_client.get(f"{URL}{job.pk}/").content.decode()


def test_the_progress_fragment_reloads_the_page_once_the_job_is_done(manager_client, program):
    job = job_of(upload(manager_client, MEMBERS))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, processed_rows=1)

    working = manager_client.get(f"{URL}{job.pk}/progress/", headers={"HX-Request": "true"})
    assert working.status_code == 200 and "HX-Refresh" not in working
    html = working.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="1"' in html and "1 of 3 rows" in html
    page = manager_client.get(f"{URL}{job.pk}/").content.decode()
    assert '<meta http-equiv="refresh"' in page  # without JavaScript the page reloads itself

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE)
    done = manager_client.get(f"{URL}{job.pk}/progress/", headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true" and "hx-trigger" not in done.content.decode()


def test_the_errors_download_as_csv(manager_client):
    job = job_of(upload(manager_client, MEMBERS))

    response = manager_client.get(f"{URL}{job.pk}/errors.csv")

    assert response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content).decode() == (
        "line,column,message\r\n3,email,This is not an email address.\r\n")


def test_the_list_shows_recent_files_and_samples_download(manager_client):
    job_of(upload(manager_client, MEMBERS, name="spring.csv"))

    page = manager_client.get(URL).content.decode()
    assert "spring.csv" in page and "Dry run done" in page
    sample = manager_client.get(f"{URL}samples/members.csv")
    assert sample.status_code == 200 and sample.content.startswith(b"email,")
    assert manager_client.get(f"{URL}samples/vouchers.csv").status_code == 404


# --- who may -----------------------------------------------------------------------------------------


def test_agents_and_analysts_may_not_import(agent_client, analyst_client, manager_client):
    job = job_of(upload(manager_client, MEMBERS))
    for client in (agent_client, analyst_client):
        assert client.get(URL).status_code == 403
        assert upload(client, MEMBERS).status_code == 403
        assert client.get(f"{URL}{job.pk}/").status_code == 403
        assert client.post(f"{URL}{job.pk}/start/").status_code == 403
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED


def test_another_programs_job_or_no_job_answers_404(manager_client, other_manager_client, other_program):
    job = job_of(upload(manager_client, MEMBERS))
    for path in ("", "progress/", "errors.csv"):
        assert other_manager_client.get(f"{URL}{job.pk}/{path}").status_code == 404
    assert other_manager_client.post(f"{URL}{job.pk}/start/").status_code == 404
    assert manager_client.get(f"{URL}999999/").status_code == 404
    assert manager_client.get(f"{URL}{uuid.uuid4()}/").status_code == 404


def test_jobs_use_the_programs_own_stores(manager_client, program, other_program, member):
    StoreFactory(program=other_program, code="ELSEWHERE")
    text = f"external_id,store,card_number,total,occurred_at\nR-1,ELSEWHERE,{member.card_number},5,2026-01-15\n"

    job = start(manager_client, job_of(upload(manager_client, text, kind="purchases")))

    assert job.errors == [{"line": 2, "column": "store", "message": "No store of this program has this code."}]


def test_a_members_export_imports_as_it_is_into_another_program(manager_client, program, member, store):
    from staff.models import Role, StaffRole

    MemberFactory(program=program, store=store, email="=evil@example.com", first_name="@risky", phone="+4915112349999")
    exported = b"".join(manager_client.get("/staff/exports/members.csv").streaming_content)
    target = ProgramFactory(slug="sister")
    manager = StaffRole.objects.filter(program=program, role=Role.MANAGER).get().user
    StaffRole.objects.create(user=manager, program=target, role=Role.MANAGER)

    response = manager_client.post(f"{URL}?program=sister", {"kind": "members", "file": SimpleUploadedFile(
        "export.csv", exported, content_type="text/csv")})
    job = start(manager_client, job_of(response))

    assert job.program == target and job.created_rows == 2 and job.error_rows == 0
    assert "member_id" in job.dry_run["ignored"] and "card_number" in job.dry_run["ignored"]
    copies = {m.email: m for m in Member.objects.filter(program=target)}
    assert copies["ada@example.com"].phone == "+4915112345678"
    assert copies["=evil@example.com"].first_name == "@risky"  # the export's quotes are read back off


@pytest.mark.parametrize("path", ["99999999999999999999999/", "0/", "99999999999999999999999/progress/",
                                  "99999999999999999999999/errors.csv"])
def test_odd_job_ids_answer_404(manager_client, path):
    assert manager_client.get(f"{URL}{path}").status_code == 404
