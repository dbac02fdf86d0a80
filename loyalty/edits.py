"""How the services that edit configuration (a program, a store, a tier, a reward) apply and check a change.

Staff forms send only the fields a person changed; a service sets those on the record it has locked and
checks the whole record, its own rules and the model's alike, before anything is written.
"""

from django.core.exceptions import ValidationError
from django.db import models


def changes_apply(record: models.Model, changes: dict, *, allowed: frozenset, what: str) -> None:
    """Set ``changes`` on ``record``. A name outside ``allowed`` is a caller's mistake, not a person's."""
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"not a {what} setting: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(record, name, value)


def record_check(record: models.Model, errors: dict[str, list[str]] | None = None, *, exclude=()) -> None:
    """The model's own validation plus the service's ``errors``, raised together as one ``ValidationError``
    keyed by field (a field the service already refused is not checked again)."""
    errors = dict(errors or {})
    try:
        record.full_clean(exclude=[*errors, *exclude])
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
