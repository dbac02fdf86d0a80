"""Reading the links the portal emails: from the outbox row (as queued) or from the message sent."""

from urllib.parse import urlsplit

from django.core import mail

from notifications.models import Outbox
from notifications.services import outbox_send_due


def queued(kind: str, **filters) -> list[Outbox]:
    return list(Outbox.objects.filter(kind=kind, **filters).order_by("created_at", "pk"))


def link_path(row: Outbox) -> str:
    """The link of a queued account email, as a path on this site."""
    return urlsplit(row.context["data"]["link"]).path


def last_link(kind: str, **filters) -> str:
    rows = queued(kind, **filters)
    assert rows, f"no {kind} email queued"
    return link_path(rows[-1])


def sent_message(row: Outbox):
    """Send what is due and answer the message of ``row``."""
    outbox_send_due()
    (message,) = [m for m in mail.outbox if m.extra_headers["Message-ID"] == f"<outbox-{row.pk}@localhost>"]
    return message
