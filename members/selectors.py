from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import Lower, TruncDate

from loyalty.errors import DomainError
from loyalty.rows import prep, rows_select_one
from programs.models import Program

from .identifiers import card_number_normalize, card_number_problem, phone_to_e164
from .models import Member, member_search_name

REFERENCE_FIELDS = ("id", "card_number", "email", "phone")


def _not_found() -> DomainError:
    return DomainError("member_not_found", "No member matches this reference in the program.",
                       title="Member not found")


def member_get(*, program: Program, member_id) -> Member:
    """A member of ``program`` by id; another program's member is indistinguishable from none."""
    try:
        member_id = uuid.UUID(str(member_id))
    except ValueError:
        raise _not_found() from None
    return _member_row(program=program, field="id", value=str(member_id), related=READ_RELATED)


# What the member object shows, read with the member in the same query by the read paths
# (lookup, detail, rewards list): the points account and the tier status with its tier.
READ_RELATED = ("account", "tier_status__tier")


def member_find(*, program: Program, field: str, value: str, for_update: bool = False) -> Member:
    """Resolve one member reference (id, card number, email or phone) within ``program``.

    A malformed value is a validation error on ``field``; a well-formed value that
    names nobody is ``member_not_found``. Without ``for_update`` the member comes with
    their account and tier status (one query for a whole member object).
    """
    if not for_update:
        return _member_row(program=program, field=field, value=value, related=READ_RELATED)
    return _member_locked(program=program, field=field, value=value)


def _member_locked(*, program: Program, field: str, value: str) -> Member:
    """The member row, locked ``FOR UPDATE``."""
    member = _reference_queryset(program=program, field=field, value=value).select_for_update().first()
    if member is None:
        raise _not_found()
    return member


def _reference_lookup(*, program: Program, field: str, value: str) -> tuple[str, object]:
    """The validated reference as (lookup, value): ``("card_number", "9…")``, ``("email__lower", "a@b.c")``…"""
    value = (value or "").strip()
    if not value:
        raise DomainError.invalid(field, "This field may not be blank.")
    if "\x00" in value:  # PostgreSQL refuses NUL in text parameters: a 500 instead of a 400
        raise DomainError.invalid(field, "Null characters are not allowed.")
    if field == "id":
        try:
            return "pk", uuid.UUID(value)
        except ValueError:
            raise DomainError.invalid(field, "Must be a valid UUID.") from None
    if field == "card_number":
        number = card_number_normalize(value)
        if problem := card_number_problem(number):
            raise DomainError.invalid(field, problem)
        return "card_number", number
    if field == "email":
        if "@" not in value or len(value) > 254:
            raise DomainError.invalid(field, "Enter a valid email address.")
        return "email__lower", value.lower()
    if field == "phone":
        e164 = phone_to_e164(value, program.default_phone_region)
        if e164 is None:
            raise DomainError.invalid(field, "Enter a phone number in international form, e.g. +4915112345678.")
        return "phone", e164
    raise ValueError(field)  # pragma: no cover - callers pass one of REFERENCE_FIELDS


def _reference_queryset(*, program: Program, field: str, value: str):
    lookup, value = _reference_lookup(program=program, field=field, value=value)
    return Member.objects.filter(program=program, **{lookup: value})


# The same lookups as hand-written conditions for ``loyalty.rows``, each served by the unique index the
# ORM's filter uses: the POS request path reads and locks members this way, without compiling a queryset.
_CONDITIONS = {
    "pk": '"members_member"."id" = %s',
    "card_number": '"members_member"."card_number" = %s',
    "email__lower": 'LOWER("members_member"."email") = %s',
    "phone": '"members_member"."phone" = %s',
}


def _member_row(*, program: Program, field: str, value: str, suffix: str = "", related: tuple[str, ...] = ()):
    lookup, value = _reference_lookup(program=program, field=field, value=value)
    if lookup == "pk":
        value = prep(Member, "id", value)
    where = f'"members_member"."program_id" = %s AND {_CONDITIONS[lookup]}'
    member = rows_select_one(Member, where, [prep(Member, "program", program.pk), value], suffix=suffix,
                             related=related)
    if member is None:
        raise _not_found()
    member.program = program
    return member


def _member_lock_no_key(*, program: Program, field: str, value: str) -> Member:
    """Resolve and lock for earning: ``FOR NO KEY UPDATE`` of the member row, blocking only another earning
    for the member, not rows being inserted that point at it; ``member.program`` is the program passed in."""
    suffix = "FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else ""
    return _member_row(program=program, field=field, value=value, suffix=suffix)


def member_by_reference(*, program: Program, reference: dict, for_update: bool | str = False) -> Member:
    """Resolve the contract's ``member`` object (exactly one key); errors name ``member.<key>``.

    ``for_update=True`` locks the member row (``FOR UPDATE``); ``"no_key"`` takes the weaker
    ``FOR NO KEY UPDATE`` of the member row alone (``member.program`` is ``program``, not read again).
    """
    ((field, value),) = reference.items()
    try:
        if for_update == "no_key":
            return _member_lock_no_key(program=program, field=field, value=value)
        if not for_update:
            return _member_row(program=program, field=field, value=value)
        return _member_locked(program=program, field=field, value=value)
    except DomainError as error:
        if error.errors:
            error.errors = [{**item, "field": f"member.{item['field']}"} for item in error.errors]
            error.detail = f"member.{error.detail}"
        raise


def enrolments_by_day(*, program: Program, start: datetime, end: datetime) -> dict[date, int]:
    """Members enrolled in ``[start, end)`` per local day of the program's time zone; days without any are
    absent. Read through the ``enrolled_at`` index (the range), then narrowed to the program."""
    rows = (Member.objects.filter(program=program, enrolled_at__gte=start, enrolled_at__lt=end)
            .annotate(day=TruncDate("enrolled_at", tzinfo=program.zone))
            .order_by().values("day").annotate(enrolled=Count("pk")))
    return {row["day"]: row["enrolled"] for row in rows}


def member_emails_taken(*, program: Program, emails) -> set[str]:
    """Which of ``emails`` (lower case) belong to a member of the program already: one query."""
    wanted = sorted({email.lower() for email in emails})
    if not wanted:
        return set()
    # ``email__lower`` goes through the functional unique index on (program, LOWER(email)).
    return {email.lower() for email in Member.objects.filter(program=program, email__lower__in=wanted)
            .values_list("email", flat=True)}


def member_has_login(*, program: Program, email: str) -> bool:
    """Whether the program's member with ``email`` can sign in to the portal (False: no such member, or one
    enrolled at the till who has no login yet)."""
    return Member.objects.filter(program=program, email__lower=email.strip().lower(), user__isnull=False).exists()


MEMBER_EXPORT_FIELDS = (
    "id", "card_number", "email", "phone", "first_name", "last_name", "birth_date", "language", "status",
    "marketing_opt_in", "enrolled_at", "referral_code",
)


def member_export_rows(*, program: Program):
    """The program's members, earliest enrolment first, as tuples of ``MEMBER_EXPORT_FIELDS`` (a lazy queryset:
    iterate it with ``.iterator()`` to read through a server-side cursor)."""
    return Member.objects.filter(program=program).order_by("enrolled_at", "id").values_list(*MEMBER_EXPORT_FIELDS)

# --- staff search ----------------------------------------------------------------------------------

SEARCH_LIMIT = 500  # matches gathered at most: past that the search must be narrower to be useful anyway
SEARCH_PAGE_SIZE = 20
SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 5
CARD_PREFIX_MIN_DIGITS = 6
_WORD_SEPARATORS = re.compile(r"[\s,;]+")
_NUMBER_PUNCTUATION = re.compile(r"[\s\-./()]")


@dataclass(frozen=True)
class MemberSearch:
    """One page of a staff search; ``total`` counts at most ``SEARCH_LIMIT`` matches (``more``: there were more)."""

    query: str
    members: list[Member] = field(default_factory=list)
    page: int = 1
    pages: int = 0
    total: int = 0
    more: bool = False
    problem: str = ""  # why nothing was searched: the query is too short or too long

    @property
    def searched(self) -> bool:
        return bool(self.query) and not self.problem


@dataclass(frozen=True)
class _Terms:
    """What a query can be, each form of it as the index that serves it holds it."""

    lowered: str
    words: list[str]
    card_prefix: str | None
    phone: str | None

    @classmethod
    def read(cls, *, program: Program, query: str) -> _Terms:
        lowered = query.lower()
        compact = _NUMBER_PUNCTUATION.sub("", query)
        looks_numeric = any(ch.isdigit() for ch in query) and not any(ch.isalpha() for ch in query)
        return cls(
            lowered=lowered,
            words=[word for word in _WORD_SEPARATORS.split(lowered) if word][:SEARCH_MAX_WORDS],
            card_prefix=compact if compact.isdigit() and len(compact) >= CARD_PREFIX_MIN_DIGITS else None,
            phone=phone_to_e164(query, program.default_phone_region) if looks_numeric else None,
        )

    def condition(self) -> Q:
        """Name words (each the start of a word of the name), the start of the email, the card number or its
        first digits, the phone number in any form the program's region reads: any of them."""
        found = []
        if self.card_prefix:
            found.append(Q(card_number__startswith=self.card_prefix))
        if self.phone:
            found.append(Q(phone=self.phone))
        if not any(ch.isspace() for ch in self.lowered):
            found.append(Q(search_email__startswith=self.lowered))
        if "@" not in self.lowered and any(ch.isalpha() for ch in self.lowered):
            # "ann" finds Anna Schmidt and Ann-Kathrin Roth, not Joanna: staff type the starts of names.
            found.append(reduce(lambda both, word: both & (Q(search_name__startswith=word)
                                                           | Q(search_name__contains=" " + word)),
                                self.words, Q()))
        return reduce(or_, found)

    def exact(self, member: Member) -> bool:
        return (member.card_number == self.card_prefix or member.email.lower() == self.lowered
                or (self.phone is not None and member.phone == self.phone)
                or member.full_name.lower() == " ".join(self.words))


def _search_problem(query: str) -> str:
    if len(query) < SEARCH_MIN_LENGTH:
        return f"Type at least {SEARCH_MIN_LENGTH} characters of a name, an email, a phone or a card number."
    if len(query) > SEARCH_MAX_LENGTH:
        return f"Search with at most {SEARCH_MAX_LENGTH} characters."
    if "\x00" in query:  # PostgreSQL refuses NUL in text parameters
        return "Null characters are not allowed."
    return ""


def _matches(*, program: Program, terms: _Terms):
    """Any ``SEARCH_LIMIT`` + 1 members of ``program`` matching ``terms``, unordered, so the database stops there."""
    return (Member.objects.filter(program=program)
            .alias(search_name=member_search_name(), search_email=Lower("email"))
            .filter(terms.condition())
            .order_by()  # not the model's ordering
            .only("id", "first_name", "last_name", "email", "phone", "card_number")[:SEARCH_LIMIT + 1])


@contextmanager
def _bitmap_scans_only():
    """PostgreSQL guesses how many names a pattern matches badly (ten times too many for "% taylor%" at a million
    members) and then prefers reading the table, or the program's index, until it has the limit's worth: half a
    second when few really match. Bitmap scans of the search indexes cost what the matches cost, whatever the
    guess; inside this block, they are all the planner may use."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        yield
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")


def member_search_plan(*, program: Program, query: str) -> str:
    """How the database finds the matches of ``query`` (``EXPLAIN`` of the search's first statement)."""
    with _bitmap_scans_only():
        return _matches(program=program, terms=_Terms.read(program=program, query=query)).explain()


def member_search(*, program: Program, query: str, page: int = 1, page_size: int = SEARCH_PAGE_SIZE) -> MemberSearch:
    """The program's members whose name, email, phone or card number matches ``query``, exact matches first,
    then by name; each member of the page with their account and tier status.

    Two statements whatever the table's size: the matches (at most ``SEARCH_LIMIT`` + 1, unordered, so
    the database stops at the limit; served by the trigram and prefix indexes of ``Member``), and the
    page's members with their balances. Sorting a few hundred candidates in Python costs less than
    asking the database to sort every match of a common name.
    """
    query = " ".join((query or "").split())
    if not query:
        return MemberSearch(query="")
    if problem := _search_problem(query):
        return MemberSearch(query=query, problem=problem)
    terms = _Terms.read(program=program, query=query)
    with _bitmap_scans_only():
        found = list(_matches(program=program, terms=terms))
    more = len(found) > SEARCH_LIMIT
    found = sorted(found[:SEARCH_LIMIT], key=lambda m: (not terms.exact(m), not m.full_name, m.last_name.casefold(),
                                                        m.first_name.casefold(), m.email.casefold()))
    pages = max(1, -(-len(found) // page_size))
    page = min(max(1, page), pages)
    ids = [m.pk for m in found[(page - 1) * page_size:page * page_size]]
    shown = {m.pk: m for m in Member.objects.filter(pk__in=ids).select_related(*READ_RELATED)} if ids else {}
    for member in shown.values():
        member.program = program
    return MemberSearch(query=query, members=[shown[pk] for pk in ids if pk in shown], page=page, pages=pages,
                        total=len(found), more=more)


def enrolments_daily(*, program_id, start_at, end_at, zone) -> list[tuple]:
    """``[(local date, store id or None, enrolments)]`` of the members who joined from ``start_at`` up to
    ``end_at``, by the store that enrolled them (``None``: the portal, an import)."""
    return list(
        Member.objects.filter(program_id=program_id, enrolled_at__gte=start_at, enrolled_at__lt=end_at)
        .annotate(day=TruncDate("enrolled_at", tzinfo=zone)).order_by().values("day", "enrolled_store_id")
        .annotate(enrolments=Count("id")).values_list("day", "enrolled_store_id", "enrolments"))


def member_referrals(*, member: Member, limit: int = 200) -> list[Member]:
    """The members ``member`` referred, newest first."""
    return list(Member.objects.filter(program_id=member.program_id, referred_by=member)
                .only("id", "first_name", "last_name", "enrolled_at").order_by("-enrolled_at")[:limit])


# --- a member's own data (the portal's "Download my data") -------------------------------------

def member_personal_data(*, member: Member) -> dict:
    """What the program holds about the member themselves: their details, their marketing consent (given or
    withdrawn, when and where), their referrals and their login. Two queries at most."""
    member = (Member.objects.select_related("enrolled_store", "referred_by", "user")
              .annotate(referred=Count("referrals")).get(pk=member.pk))
    referrer = member.referred_by
    login = member.user
    return {
        "profile": {
            "id": member.pk, "card_number": member.card_number, "email": member.email,
            "email_verified_at": member.email_verified_at, "phone": member.phone,
            "first_name": member.first_name, "last_name": member.last_name, "birth_date": member.birth_date,
            "language": member.language, "status": member.status, "enrolled_at": member.enrolled_at,
            "enrolled_at_store": member.enrolled_store.name if member.enrolled_store else None,
        },
        "marketing_consent": {
            "email_offers_and_news": member.marketing_opt_in,
            "changed_at": member.marketing_opt_in_at,
            "source": member.marketing_opt_in_source or None,
        },
        "referrals": {
            "own_referral_code": member.referral_code,
            # Who referred them, as they would know that person; nothing more of another member.
            "referred_by": {"first_name": referrer.first_name, "referral_code": referrer.referral_code}
            if referrer else None,
            "members_referred": member.referred,
        },
        "login": {"username": login.get_username(), "created_at": login.date_joined,
                  "last_sign_in": login.last_login} if login else None,
    }


def first_enrolled_at(*, program_id):
    """When the program's first member joined (``None``: it has none)."""
    return Member.objects.filter(program_id=program_id).aggregate(first=Min("enrolled_at"))["first"]
# --- read by analytics: simulator ---

def member_block(*, program_id, after=None, limit: int = 2000) -> list[tuple]:
    """``[(id, birth date, enrolled at)]`` of the program's next ``limit`` members by id after ``after`` (None:
    from the first): the primary key's order, so a long job walks every member in blocks without a cursor."""
    members = Member.objects.filter(program_id=program_id)
    if after is not None:
        members = members.filter(id__gt=after)
    return list(members.order_by("id").values_list("id", "birth_date", "enrolled_at")[:limit])


def member_count(*, program_id) -> int:
    return Member.objects.filter(program_id=program_id).count()


def member_labels(*, program_id, member_ids) -> dict:
    """``{member id: (card number, full name)}`` for a batch of the program's members (one query)."""
    rows = Member.objects.filter(program_id=program_id, id__in=list(member_ids)).values_list(
        "id", "card_number", "first_name", "last_name")
    return {pk: (card, " ".join(part for part in (first, last) if part)) for pk, card, first, last in rows}
# --- read by analytics: at risk ---

def members_enrolled_between(*, program_id, start_at, end_at) -> set:
    """The ids of the members who joined from ``start_at`` up to ``end_at``."""
    return set(Member.objects.filter(program_id=program_id, enrolled_at__gte=start_at, enrolled_at__lt=end_at)
               .values_list("id", flat=True))


def member_enrolment_days(*, program_id, zone, member_ids=None, after=None, limit: int | None = None) -> list[tuple]:
    """``[(member id, local date joined)]`` in id order: of ``member_ids``, or a page of every member of the
    program (ids above ``after``, ``limit`` of them) for a walk through all of them."""
    members = Member.objects.filter(program_id=program_id)
    if member_ids is not None:
        members = members.filter(id__in=list(member_ids))
    if after is not None:
        members = members.filter(id__gt=after)
    rows = members.order_by("id").annotate(day=TruncDate("enrolled_at", tzinfo=zone)).values_list("id", "day")
    return list(rows[:limit] if limit else rows)


def member_contacts(*, program_id, member_ids) -> dict:
    """``{member id: {card_number, first_name, last_name, email}}`` of the program's members among ``member_ids``,
    for the lists staff work through."""
    return {row["id"]: row for row in Member.objects.filter(program_id=program_id, id__in=list(member_ids))
            .values("id", "card_number", "first_name", "last_name", "email")}
