import uuid

from loyalty.errors import DomainError
from programs.models import Program

from .identifiers import card_number_normalize, card_number_problem, phone_to_e164
from .models import Member

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
    member = Member.objects.filter(program=program, pk=member_id).first()
    if member is None:
        raise _not_found()
    return member


def member_find(*, program: Program, field: str, value: str, for_update: bool = False) -> Member:
    """Resolve one member reference (id, card number, email or phone) within ``program``.

    A malformed value is a validation error on ``field``; a well-formed value that
    names nobody is ``member_not_found``.
    """
    value = (value or "").strip()
    if not value:
        raise DomainError.invalid(field, "This field may not be blank.")
    if "\x00" in value:  # PostgreSQL refuses NUL in text parameters: a 500 instead of a 400
        raise DomainError.invalid(field, "Null characters are not allowed.")
    queryset = Member.objects.filter(program=program)
    if field == "id":
        try:
            queryset = queryset.filter(pk=uuid.UUID(value))
        except ValueError:
            raise DomainError.invalid(field, "Must be a valid UUID.") from None
    elif field == "card_number":
        number = card_number_normalize(value)
        if problem := card_number_problem(number):
            raise DomainError.invalid(field, problem)
        queryset = queryset.filter(card_number=number)
    elif field == "email":
        if "@" not in value or len(value) > 254:
            raise DomainError.invalid(field, "Enter a valid email address.")
        queryset = queryset.filter(email__lower=value.lower())
    elif field == "phone":
        e164 = phone_to_e164(value, program.default_phone_region)
        if e164 is None:
            raise DomainError.invalid(field, "Enter a phone number in international form, e.g. +4915112345678.")
        queryset = queryset.filter(phone=e164)
    else:  # pragma: no cover - callers pass one of REFERENCE_FIELDS
        raise ValueError(field)
    if for_update:
        queryset = queryset.select_for_update()
    member = queryset.first()
    if member is None:
        raise _not_found()
    return member


def member_by_reference(*, program: Program, reference: dict, for_update: bool = False) -> Member:
    """Resolve the contract's ``member`` object (exactly one key); errors name ``member.<key>``."""
    ((field, value),) = reference.items()
    try:
        return member_find(program=program, field=field, value=value, for_update=for_update)
    except DomainError as error:
        if error.errors:
            error.errors = [{**item, "field": f"member.{item['field']}"} for item in error.errors]
            error.detail = f"member.{error.detail}"
        raise
