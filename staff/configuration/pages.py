"""What every configuration page does the same way: links that keep the program, changes written with their audit."""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from ..services import audit_record, changed, snapshot


def settings_url(request, name: str, *args) -> str:
    """A configuration page's address; for staff of several programs it names the program being configured."""
    url = reverse(f"staff:{name}", args=args)
    staff = request.staff
    if len(staff.programs) > 1 and staff.program is not None:
        url += "?" + urlencode({"program": staff.program.slug})
    return url


def redirect_to(request, name: str, *args) -> HttpResponseRedirect:
    return HttpResponseRedirect(settings_url(request, name, *args))


def in_program_time(view):
    """Dates and times typed and shown on the page are the program's local time, not the server's."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with timezone.override(request.staff.program.zone):
            return view(request, *args, **kwargs)
    return wrapped


def audited_change(request, *, action: str, fields: list[str] | Callable[[models.Model], dict],
                   write: Callable[[], models.Model], before: models.Model | None = None, program=None,
                   reason: str = "") -> tuple[models.Model, dict]:
    """Run ``write()`` (a service call answering the record as saved) and audit it in the same transaction.

    ``fields``: the names to compare, or a function answering a record's audited values as a dict.
    The audit keeps only the ``fields`` that changed (all of them for a new record, ``before=None``) and
    nothing when nothing changed. Answers the record and the changed values.
    """
    take = fields if callable(fields) else (lambda record: snapshot(record, fields))
    old = take(before) if before is not None else None
    with transaction.atomic():
        record = write()
        new = take(record)
        if old is None:
            was, now = None, {k: v for k, v in new.items() if v not in (None, "", [])}
        else:
            was, now = changed(old, new)
        if old is None or now:
            audit_record(actor=request.user, program=program or request.staff.program, action=action,
                         target=record, before=was, after=now, reason=reason)
    return record, now
