"""CSV imports of members and of historical purchases: a dry run first, then the import, each a background job.

Rows go through the domain's own services: members through ``members.services.member_enrol`` (so they get
their points account and the program's signup bonus like anyone who joins), purchases through
``earning.services.purchase_record`` with the date they happened (so the earning rules, the pending and
expiry periods and the tiers read them as they read a till's receipt).

Both runs read the file a chunk of rows at a time. The dry run rolls every chunk back; the import commits
each chunk together with the job's progress, under a lock on the job row, so a worker that stops is
resumed after its last committed chunk and two workers given the same job never import a row twice.

A row is imported at most once, however often its file is uploaded: a member is known by their email
(unique in the program), a purchase by its store and external id (the key the POS API uses too). Such a
row is counted as "already imported" and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from earning.selectors import purchases_recorded
from earning.services import purchase_record
from loyalty.api_fields import EXTERNAL_ID_PATTERN
from loyalty.errors import DomainError
from members.identifiers import phone_to_e164
from members.selectors import member_emails_taken
from members.services import member_enrol
from programs.models import Program, Store

from ..models import ImportJob
from ..services import audit_record, staff_actor
from .csvfiles import FileProblem, csv_rows, text_value

MAX_BYTES = 32 * 1024 * 1024
MAX_ROWS = 200_000
CHUNK_ROWS = 250  # rows per transaction: small enough to show progress often, large enough to cost little
ERRORS_KEPT = 1_000
IMPORT_ACTOR = "system:import"
TRUE_WORDS = {"1", "yes", "y", "true", "t", "x", "ja", "opt-in", "opted in"}
FALSE_WORDS = {"", "0", "no", "n", "false", "f", "nein", "opt-out", "opted out"}
EARLIEST_YEAR = 1970
MEMBER_COLUMNS = ("member_id", "card_number", "email")  # how a purchase names its member, first found wins


class RowProblem(Exception):
    """What is wrong with one row, and in which column."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


def _text(row: dict, column: str, *, limit: int, required: bool = False) -> str:
    value = text_value(row.get(column) or "")
    if required and not value:
        raise RowProblem(column, "This column is empty.")
    if len(value) > limit:
        raise RowProblem(column, f"At most {limit} characters.")
    return value


def _date(row: dict, column: str) -> date | None:
    value = row.get(column) or ""
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise RowProblem(column, "Write the date as YYYY-MM-DD, e.g. 1990-04-23.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowProblem(column, "This date does not exist.") from None


# --- members -------------------------------------------------------------------------------------


class MembersFile:
    """A row a member: ``email`` (required), ``first_name``, ``last_name``, ``phone``, ``birth_date``,
    ``language``, ``marketing_opt_in``, ``referred_by`` (the referral code of the member who referred them)
    and ``store`` (the code of the store they joined at)."""

    required = ("email",)
    optional = ("first_name", "last_name", "phone", "birth_date", "language", "marketing_opt_in",
                "referred_by", "store")
    noun = "member"

    def __init__(self, program: Program, actor: str):
        self.program = program
        self.stores = {store.code: store for store in Store.objects.filter(program=program)}
        self.languages = {code for code, _ in settings.LANGUAGES}
        self.taken: set[str] = set()

    @staticmethod
    def header_problem(columns: list[str]) -> str | None:
        if "email" not in columns:
            return "A members file needs an email column."
        return None

    def parse(self, row: dict) -> dict:
        email = _text(row, "email", limit=254, required=True)
        try:
            validate_email(email)
        except ValidationError:
            raise RowProblem("email", "This is not an email address.") from None
        data = {"email": email, "first_name": _text(row, "first_name", limit=100),
                "last_name": _text(row, "last_name", limit=100)}
        if phone := _text(row, "phone", limit=32):
            data["phone"] = phone
        if (birth_date := _date(row, "birth_date")) is not None:
            data["birth_date"] = birth_date
        if language := (row.get("language") or "").lower():
            if language not in self.languages:
                raise RowProblem("language", f"Use one of {', '.join(sorted(self.languages))}.")
            data["language"] = language
        opt_in = (row.get("marketing_opt_in") or "").lower()
        if opt_in not in TRUE_WORDS | FALSE_WORDS:
            raise RowProblem("marketing_opt_in", "Write yes or no.")
        data["marketing_opt_in"] = opt_in in TRUE_WORDS
        if referred_by := _text(row, "referred_by", limit=16):
            data["referral_code"] = referred_by
        if code := row.get("store"):
            if code not in self.stores:
                raise RowProblem("store", "No store of this program has this code.")
            data["store"] = self.stores[code]
        return data

    def keys(self, data: dict) -> list[tuple[str, object]]:
        """What makes two rows the same member, each with its column: the email, and the phone number."""
        keys = [("email", data["email"].lower())]
        if "phone" in data and (e164 := phone_to_e164(data["phone"], self.program.default_phone_region)):
            keys.append(("phone", e164))
        return keys

    def prepare(self, parsed: list[dict]) -> None:
        self.taken = member_emails_taken(program=self.program, emails=[data["email"] for data in parsed])

    def already(self, data: dict) -> bool:
        return data["email"].lower() in self.taken

    def write(self, data: dict) -> None:
        member_enrol(program=self.program, consent_source="import", **data)

    def problem(self, error: DomainError, data: dict) -> RowProblem:
        if error.code == "member_exists":  # the email was checked first: it is the phone number
            return RowProblem("phone", "Another member of the program has this phone number.")
        columns = {"referral_code": "referred_by"}
        if error.errors:
            item = error.errors[0]
            return RowProblem(columns.get(item["field"], item["field"]), item["message"])
        return RowProblem("", error.detail)


# --- purchases -----------------------------------------------------------------------------------


class PurchasesFile:
    """A row a purchase: ``external_id`` (the receipt's number, unique per store), ``store`` (its code), the
    member (``card_number``, ``email`` or ``member_id``), ``total``, ``occurred_at`` (a date, or a date and time
    in the program's time zone unless it says its offset) and, optionally, ``currency``."""

    required = ("external_id", "store", "total", "occurred_at")
    optional = ("card_number", "email", "member_id", "currency")
    noun = "purchase"

    def __init__(self, program: Program, actor: str):
        self.program = program
        self.actor = actor
        self.zone = program.zone
        self.stores = {store.code: store for store in Store.objects.filter(program=program)}
        self.recorded: set[tuple] = set()

    @staticmethod
    def header_problem(columns: list[str]) -> str | None:
        missing = [name for name in PurchasesFile.required if name not in columns]
        if missing:
            return f"A purchases file needs the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}."
        if not any(name in columns for name in MEMBER_COLUMNS):
            return "A purchases file names each member in a card_number, email or member_id column."
        return None

    def _total(self, row: dict) -> Decimal:
        value = (row.get("total") or "").replace(" ", "")
        if "," in value and "." not in value:
            value = value.replace(",", ".")  # a decimal comma, as German spreadsheets write it
        try:
            total = Decimal(value)
        except InvalidOperation:
            raise RowProblem("total", "Write the amount as a number, e.g. 24.90.") from None
        if not total.is_finite() or total <= 0:
            raise RowProblem("total", "The total must be more than 0.")
        if total.as_tuple().exponent < -2 or total >= Decimal("10000000000"):
            raise RowProblem("total", "At most 2 decimals and 10 digits before the point.")
        return total

    def _occurred_at(self, row: dict) -> datetime:
        value = row.get("occurred_at") or ""
        if not value:
            raise RowProblem("occurred_at", "This column is empty.")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = _date(row, "occurred_at")
            return datetime.combine(day, time(0), self.zone)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise RowProblem("occurred_at", "Write a date (2025-03-14) or a date and time (2025-03-14 16:05).") \
                from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=self.zone)
        if moment.year < EARLIEST_YEAR:
            raise RowProblem("occurred_at", f"A purchase before {EARLIEST_YEAR} cannot be imported.")
        return moment

    def parse(self, row: dict) -> dict:
        external_id = row.get("external_id") or ""
        if not external_id:
            raise RowProblem("external_id", "This column is empty.")
        if not re.fullmatch(EXTERNAL_ID_PATTERN, external_id):
            raise RowProblem("external_id", "1–64 characters from letters, digits and - _ . / : #")
        code = row.get("store") or ""
        if code not in self.stores:
            raise RowProblem("store", "No store of this program has this code." if code else "This column is empty.")
        reference = next(((name, text_value(row[name])) for name in MEMBER_COLUMNS if row.get(name)), None)
        if reference is None:
            raise RowProblem(next(name for name in MEMBER_COLUMNS if name in row), "Name the member.")
        currency = (row.get("currency") or self.program.currency).upper()
        return {"external_id": external_id, "store": self.stores[code], "total": self._total(row),
                "occurred_at": self._occurred_at(row), "currency": currency,
                "member_reference": {"id" if reference[0] == "member_id" else reference[0]: reference[1]}}

    def keys(self, data: dict) -> list[tuple[str, object]]:
        return [("external_id", (data["store"].pk, data["external_id"]))]

    def prepare(self, parsed: list[dict]) -> None:
        self.recorded = purchases_recorded(program=self.program,
                                           keys={(data["store"].pk, data["external_id"]) for data in parsed})

    def already(self, data: dict) -> bool:
        return (data["store"].pk, data["external_id"]) in self.recorded

    def write(self, data: dict) -> None:
        purchase_record(actor=self.actor, lines=[], **data)

    def problem(self, error: DomainError, data: dict) -> RowProblem:
        ((column, _),) = data["member_reference"].items()
        column = "member_id" if column == "id" else column
        if error.code in ("member_not_found", "member_suspended"):
            return RowProblem(column, error.detail)
        if error.errors:
            name = error.errors[0]["field"]
            return RowProblem(column if name.startswith("member") else name, error.errors[0]["message"])
        return RowProblem("", error.detail)


FILES = {ImportJob.Kind.MEMBERS: MembersFile, ImportJob.Kind.PURCHASES: PurchasesFile}


# --- one file, checked at upload -----------------------------------------------------------------


@dataclass
class FileSummary:
    rows: int
    ignored: list[str]  # columns the import does not read


def import_file_size_check(*, size: int) -> None:
    if size > MAX_BYTES:
        raise FileProblem(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into several files.")


def import_file_read(*, kind: str, content: bytes) -> FileSummary:
    """Read the whole file once: its header has what ``kind`` needs and every line is CSV. Raises ``FileProblem``."""
    import_file_size_check(size=len(content))
    reader = FILES[kind]
    columns, rows = csv_rows(content)
    if problem := reader.header_problem(columns):
        raise FileProblem(f"{problem} The header row has: {', '.join(c for c in columns if c) or 'nothing'}.")
    count = 0
    for _, row in rows:
        if row is not None:
            count += 1
            if count > MAX_ROWS:
                raise FileProblem(f"The file has more than {MAX_ROWS:,} rows; split it into several files.")
    if not count:
        raise FileProblem("The file has a header but no rows.")
    known = set(reader.required) | set(reader.optional)
    return FileSummary(rows=count, ignored=[name for name in columns if name and name not in known])


# --- the two runs --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a run found so far."""

    rows: int = 0
    new: int = 0
    already: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)  # {line, column, message}, the first ERRORS_KEPT

    def fail(self, line: int, problem: RowProblem) -> None:
        self.failed += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append({"line": line, "column": problem.column, "message": problem.message})

    @classmethod
    def of_job(cls, job: ImportJob) -> Tally:
        return cls(rows=job.processed_rows, new=job.created_rows, already=job.skipped_rows, failed=job.error_rows,
                   errors=list(job.errors))

    def onto(self, job: ImportJob) -> None:
        job.processed_rows, job.created_rows, job.skipped_rows = self.rows, self.new, self.already
        job.error_rows, job.errors = self.failed, self.errors


def _chunks(content: bytes) -> Iterator[list[tuple[int, dict]]]:
    _, rows = csv_rows(content)
    chunk = []
    for line, row in rows:
        if row is None:
            continue
        chunk.append((line, row))
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Rows:
    """One file's rows through a reader: parsed, told apart from earlier rows of the file, written."""

    def __init__(self, job: ImportJob, actor: str):
        self.reader = FILES[job.kind](job.program, actor)
        self.seen: dict = {}  # key -> the line that had it first

    def parsed(self, chunk) -> list[tuple[int, dict | RowProblem]]:
        out = []
        for line, row in chunk:
            try:
                data = self.reader.parse(row)
            except RowProblem as problem:
                out.append((line, problem))
                continue
            keys = self.reader.keys(data)
            if twin := next((key for key in keys if key in self.seen), None):
                out.append((line, RowProblem(twin[0], f"The same {self.reader.noun} as line {self.seen[twin]}.")))
                continue
            for key in keys:
                self.seen[key] = line
            out.append((line, data))
        return out

    def write(self, parsed, tally: Tally) -> None:
        self.reader.prepare([data for _, data in parsed if isinstance(data, dict)])
        for line, data in parsed:
            tally.rows += 1
            if isinstance(data, RowProblem):
                tally.fail(line, data)
            elif self.reader.already(data):
                tally.already += 1
            else:
                try:
                    self.reader.write(data)  # each service is atomic: a refusal undoes only its own row
                except DomainError as error:
                    tally.fail(line, self.reader.problem(error, data))
                except IntegrityError:  # the same row, written a moment ago by someone else
                    tally.already += 1
                else:
                    tally.new += 1


def _actor(user) -> str:
    return staff_actor(user) if user is not None else IMPORT_ACTOR


def import_job_create(*, program: Program, kind: str, file_name: str, content: bytes, actor) -> ImportJob:
    """Keep an uploaded file as a job waiting for its dry run. Raises ``FileProblem`` for a file that cannot be
    imported at all (nothing is kept then)."""
    summary = import_file_read(kind=kind, content=content)
    return ImportJob.objects.create(
        program=program, kind=kind, status=ImportJob.Status.CHECKING, file_name=file_name[:200],
        file_sha256=hashlib.sha256(content).hexdigest(), content=content, total_rows=summary.rows,
        dry_run={"ignored": summary.ignored}, created_by=actor)


def import_job_check(*, job_id: int) -> ImportJob | None:
    """The dry run: every row through the services, each chunk rolled back; progress is written between chunks."""
    job = ImportJob.objects.select_related("program", "created_by").filter(
        pk=job_id, status=ImportJob.Status.CHECKING).first()
    if job is None:  # checked already, or gone
        return None
    rows, tally = _Rows(job, _actor(job.created_by)), Tally()
    try:
        for chunk in _chunks(bytes(job.content)):
            parsed = rows.parsed(chunk)
            with transaction.atomic():
                rows.write(parsed, tally)
                transaction.set_rollback(True)
            ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKING).update(processed_rows=tally.rows)
    except Exception as error:
        _stopped(job.pk, error)
        raise
    dry_run = {**job.dry_run, "rows": tally.rows, "new": tally.new, "already": tally.already,
               "failed": tally.failed, "errors": tally.errors}
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKING).update(
        status=ImportJob.Status.CHECKED, dry_run=dry_run, processed_rows=0, checked_at=timezone.now())
    job.refresh_from_db()
    return job


def import_job_start(*, job: ImportJob, actor) -> bool:
    """Queue a checked job for the import, once (a second click finds it queued); audited. True when queued."""
    with transaction.atomic():
        queued = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKED).update(
            status=ImportJob.Status.QUEUED, started_by=actor)
        if queued:
            audit_record(actor=actor, program=job.program, action="import.start", target=job,
                         target_label=_label(job), reason=f"Rows from {job.file_name} after their dry run",
                         after={"kind": job.kind, "file": job.file_name, "sha256": job.file_sha256,
                                "rows": job.total_rows, "dry_run": {k: job.dry_run.get(k)
                                                                    for k in ("new", "already", "failed")}})
    return bool(queued)


def import_job_unqueue(*, job: ImportJob) -> None:
    """Put a job whose task could not be queued back to checked, so it can be started again."""
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.CHECKED, started_by=None)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """The import: chunk after chunk, each committed with the job's progress under the job's row lock."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]).update(
        status=ImportJob.Status.RUNNING, started_at=Coalesce("started_at", Value(timezone.now())))
    if not claimed:
        return None
    job = ImportJob.objects.select_related("program", "started_by").get(pk=job_id)
    rows = _Rows(job, _actor(job.started_by))
    try:
        _import_chunks(job_id, rows, bytes(job.content))
        return _import_finish(job_id)
    except Exception as error:
        _stopped(job_id, error)
        raise


def _import_chunks(job_id: int, rows: _Rows, content: bytes) -> None:
    position = 0  # rows of the file passed so far
    for chunk in _chunks(content):
        parsed = rows.parsed(chunk)  # also for rows done before: the file's duplicates are told apart
        with transaction.atomic():
            locked = ImportJob.objects.select_for_update().get(pk=job_id)
            if locked.status != ImportJob.Status.RUNNING:
                return
            todo = parsed[max(0, locked.processed_rows - position):]
            position += len(parsed)
            if not todo:
                continue
            tally = Tally.of_job(locked)
            rows.write(todo, tally)
            tally.onto(locked)
            locked.save(update_fields=["processed_rows", "created_rows", "skipped_rows", "error_rows", "errors"])


def _import_finish(job_id: int) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).select_related("program", "started_by").get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return job
        job.status, job.finished_at, job.content = ImportJob.Status.DONE, timezone.now(), b""
        job.save(update_fields=["status", "finished_at", "content"])
        audit_record(actor=job.started_by, program=job.program, action="import.done", target=job,
                     target_label=_label(job), reason=f"The import of {job.file_name} ran to its end",
                     after={"rows": job.processed_rows, "added": job.created_rows, "already": job.skipped_rows,
                            "failed": job.error_rows})
    return job


def _stopped(job_id: int, error: Exception) -> None:
    """A job whose run raised: failed for good, unless the error is one the task retries (the database went
    away for a moment), in which case the retry carries on where the last committed chunk ended."""
    if isinstance(error, OperationalError | InterfaceError):
        return
    ImportJob.objects.filter(pk=job_id, status__in=[ImportJob.Status.CHECKING, ImportJob.Status.RUNNING]).update(
        status=ImportJob.Status.FAILED, finished_at=timezone.now(),
        failure=f"The job stopped with an unexpected error ({type(error).__name__}). Rows committed before it "
                "stay imported; upload the file again to import the rest.")


def _label(job: ImportJob) -> str:
    return f"{job.get_kind_display()} import {job.file_name}"


def import_jobs_of_file(*, program: Program, file_sha256: str, exclude: int | None = None):
    """Earlier jobs of the same file in the program, newest first."""
    return ImportJob.objects.filter(program=program, file_sha256=file_sha256).exclude(pk=exclude)

