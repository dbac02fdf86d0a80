"""CSV in and out of the staff dashboard: uploaded files read row by row, exports streamed row by row.

Files come from spreadsheets: UTF-8 (a byte-order mark is fine), one header row whose names are read
without case or surrounding spaces ("First name" reads as ``first_name``). Exports are UTF-8, one header
row, and every text cell a spreadsheet would run as a formula is defused (see ``cell``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.http import StreamingHttpResponse

from loyalty.replica import read_alias

# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...,
# -2+3, @SUM(...)); a leading tab or carriage return hides such a start from a quick look.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_HEADER_NAME = re.compile(r"[\s\-]+")


class FileProblem(ValueError):
    """The file as a whole cannot be read: the message says why, in words for the person who uploaded it."""


def column_name(name: str) -> str:
    """How a header names a column: ``" First name "`` and ``"first-name"`` both read ``first_name``."""
    return _HEADER_NAME.sub("_", name.strip().lower())


def csv_text(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem("The file is not UTF-8 text. Save it from your spreadsheet as “CSV UTF-8”.") from None
    if "\x00" in text:
        raise FileProblem("The file is not a CSV text file.")
    return text


def csv_rows(content: bytes) -> tuple[list[str], Iterator[tuple[int, dict | None]]]:
    """The header's column names, and the rows as ``(line, {column: stripped value})`` read lazily.

    ``line`` counts records as a spreadsheet numbers its rows, the header being line 1. A blank line
    keeps its number and comes as ``None``. A row that stops being CSV raises ``FileProblem`` when reached.
    """
    # strict: a quote left open runs to the end of the file and swallows every row after it; refuse that
    reader = csv.reader(io.StringIO(csv_text(content)), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("The file is empty.") from None
    except csv.Error as error:
        raise FileProblem(f"The file cannot be read as CSV: {error}.") from None
    columns = [column_name(name) for name in header]

    def rows():
        try:
            for number, values in enumerate(reader, start=2):
                if not any(value.strip() for value in values):
                    yield number, None
                    continue
                yield number, dict(zip(columns, (value.strip() for value in values), strict=False))
        except csv.Error as error:
            raise FileProblem(f"Line {reader.line_num} cannot be read as CSV: {error}.") from None

    return columns, rows()


def text_value(value: str) -> str:
    """A text cell as typed, without the quote ``cell`` put before a formula start (so exports import back)."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


# --- out -------------------------------------------------------------------------------------------


def cell(value) -> str | int | Decimal:
    """One exported value: numbers as they are; text that a spreadsheet would run as a formula behind a quote.

    Only text is defused: a signed number (``-120`` points) stays a number, as it is written by the
    platform and never by a person, and the contract's reports must read as numbers.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Line:
    """What ``csv.writer`` writes to: hands back the line instead of keeping it."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV text, one line at a time: nothing but the current row is held."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def _in_one_transaction(lines: Iterator[str]) -> Iterator[bytes]:
    """The lines, read inside one transaction: a server-side cursor (``.iterator()``) then streams; outside one,
    Django declares it WITH HOLD and PostgreSQL copies the whole result before the first row. A download the
    client abandons closes this generator, which ends the transaction. The transaction is on the database the
    rows are read from (a replica, for the exports that read one)."""
    with transaction.atomic(using=read_alias()):
        for line in lines:
            yield line.encode()


def csv_response(file_name: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A CSV download streamed as it is read: ``rows`` should be a generator over ``.iterator(chunk_size=…)``."""
    # Exactly "text/csv", as the contract names it (the text is UTF-8, as the staff guide says).
    response = StreamingHttpResponse(_in_one_transaction(csv_lines(header, rows)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response["Cache-Control"] = "no-store"  # personal data: not kept by a shared cache
    return response
