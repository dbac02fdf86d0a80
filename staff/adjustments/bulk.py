"""Reading a bulk adjustment file: every line checked, nothing posted (``services.adjustments_bulk_post`` posts).

A file is CSV, UTF-8 (a spreadsheet's byte-order mark is fine), one header row. Each line names a member
by ``card_number``, ``email`` or ``member_id`` (one of the three columns), a signed whole number of
``points`` and the ``reason`` the member sees; ``category`` (a reason code, e.g. ``goodwill``) is
optional and defaults to ``correction``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from ledger.selectors import account_balance_get
from loyalty.errors import DomainError
from members.models import Member
from members.selectors import member_find
from members.services import member_is_anonymised

from ..data.csvfiles import csv_rows
from ..models import Adjustment, ReasonCode
from .services import MAX_POINTS, adjustment_key_for_file_line, staff_policy_for

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 5_000
REFERENCE_COLUMNS = {"card_number": "card_number", "email": "email", "member_id": "id", "id": "id"}
DEFAULT_CATEGORY = ReasonCode.CORRECTION
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")  # ASCII digits: str.isdigit() also takes "²", which int() refuses
NOT_FOUND = {"card_number": "No member of this program has this card number.",
             "email": "No member of this program has this email address.",
             "member_id": "No member of this program has this id.", "id": "No member of this program has this id."}


@dataclass
class BulkLine:
    number: int  # the line in the file, the header being line 1
    reference: str
    points: int | None = None
    reason_code: str = DEFAULT_CATEGORY
    note: str = ""
    member: Member | None = None
    error: str = ""
    waits: bool = False  # above the approval threshold
    already: bool = False  # posted (or asked for) by an earlier upload of the same file

    @property
    def category_label(self) -> str:
        return ReasonCode(self.reason_code).label if self.reason_code in ReasonCode.values else self.reason_code


@dataclass
class BulkPreview:
    file_name: str
    file_sha256: str
    lines: list[BulkLine] = field(default_factory=list)
    error: str = ""  # the file as a whole cannot be read

    @property
    def checked(self) -> list[BulkLine]:
        """The lines to post: new ones, and those of an earlier upload (which posting finds done)."""
        return [line for line in self.lines if not line.error]

    @property
    def good(self) -> list[BulkLine]:
        """The lines posting will adjust now."""
        return [line for line in self.lines if not line.error and not line.already]

    @property
    def already(self) -> list[BulkLine]:
        return [line for line in self.lines if not line.error and line.already]

    @property
    def bad(self) -> list[BulkLine]:
        return [line for line in self.lines if line.error]

    @property
    def members(self) -> int:
        return len({line.member.pk for line in self.good})

    @property
    def total(self) -> int:
        return sum(line.points for line in self.good)

    @property
    def added(self) -> int:
        return sum(line.points for line in self.good if line.points > 0)

    @property
    def taken(self) -> int:
        return -sum(line.points for line in self.good if line.points < 0)

    @property
    def waiting(self) -> int:
        return sum(1 for line in self.good if line.waits)


def file_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _rows(content: bytes) -> tuple[str, list[dict]]:
    """(reference column, rows as dicts with stripped, lower-case keys); raises ValueError for a bad file."""
    columns, lines = csv_rows(content)
    references = [name for name in columns if name in REFERENCE_COLUMNS]
    if len(references) != 1:
        raise ValueError("The header must name the member in exactly one column: card_number, email or member_id.")
    missing = [name for name in ("points", "reason") if name not in columns]
    if missing:
        raise ValueError(f"The header has no {' and no '.join(missing)} column.")
    rows = []
    for _, row in lines:  # a blank line keeps its number (as None) and is skipped
        rows.append(row)
        if len(rows) > MAX_LINES:
            raise ValueError(f"The file has more than {MAX_LINES:,} lines; split it into several files.")
    return references[0], rows


def _points(value: str) -> int:
    text = (value or "").replace(",", "").replace("_", "").replace(" ", "")
    if not WHOLE_NUMBER.fullmatch(text):
        raise ValueError("Points must be a whole number, e.g. 250 or -100.")
    points = int(text)
    if points == 0:
        raise ValueError("Points must not be 0.")
    if abs(points) > MAX_POINTS:
        raise ValueError(f"An adjustment moves at most {MAX_POINTS:,} points.")
    return points


def bulk_preview(*, program, file_name: str, content: bytes) -> BulkPreview:
    """Check every line of a file against the program as it is now; nothing is written."""
    preview = BulkPreview(file_name=file_name, file_sha256=file_sha256(content))
    if len(content) > MAX_BYTES:
        preview.error = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into several files."
        return preview
    try:
        column, rows = _rows(content)
    except ValueError as error:
        preview.error = str(error)
        return preview
    policy = staff_policy_for(program=program)
    done = set(Adjustment.objects.filter(program=program, batch=preview.file_sha256)
               .values_list("idempotency_key", flat=True))
    available: dict = {}  # member id -> spendable after the file's earlier lines
    for number, row in enumerate(rows, start=2):
        if row is None:
            continue
        line = BulkLine(number=number, reference=row.get(column, ""))
        preview.lines.append(line)
        try:
            line.points = _points(row.get("points", ""))
        except ValueError as error:
            line.error = str(error)
            continue
        line.note = row.get("reason", "")
        line.reason_code = (row.get("category") or DEFAULT_CATEGORY).lower()
        if not line.note:
            line.error = "Give the reason; the member sees it on their statement."
        elif len(line.note) > 500:
            line.error = "The reason is longer than 500 characters."
        elif line.reason_code not in ReasonCode.values:
            line.error = f"Unknown category “{line.reason_code}”; use one of {', '.join(ReasonCode.values)}."
        if line.error:
            continue
        try:
            line.member = member_find(program=program, field=REFERENCE_COLUMNS[column], value=line.reference)
        except DomainError as error:
            line.error = error.errors[0]["message"] if error.errors else NOT_FOUND[column]
            continue
        if adjustment_key_for_file_line(file_sha256=preview.file_sha256, line=number) in done:
            line.already = True
            continue
        if member_is_anonymised(line.member):
            line.error = "This member was anonymised."
            continue
        spendable = available.setdefault(line.member.pk, account_balance_get(member=line.member)["available"])
        if line.points < 0 and -line.points > spendable:
            line.error = f"The member has {spendable:,} points available; {-line.points:,} cannot be taken."
            continue
        line.waits = abs(line.points) > policy.approval_threshold
        if not line.waits:  # a waiting line moves nothing until it is approved
            available[line.member.pk] = spendable + line.points
    return preview
