"""Member emails: render, queue in the outbox, send through workers; unsubscribe; expiry warnings.

Which messages need consent (``models.KIND_CATEGORY``):

* **transactional** — points earned, tier changed, points expiring, reward issued, and the links the
  member asks for (a new password, confirming the email, claiming a card made at the till). They
  concern the member's own account and are sent whatever the marketing choice (as long as the
  program sends emails at all).
* **marketing** — survey invitations. Queued only for members with ``marketing_opt_in``, and
  dropped at send time if consent was withdrawn in between. They carry ``List-Unsubscribe``
  (RFC 8058 one-click) headers.

Every email links to the signed unsubscribe page, which turns marketing consent off.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import smtplib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import CharField, Exists, Min, OuterRef, Sum
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError
from django.template.base import Lexer, TokenType
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone, translation

from ledger.models import PointsLot
from loyalty.celery import app
from loyalty.config_cache import ProgramMemo
from loyalty.edits import record_check
from loyalty.errors import DomainError
from loyalty.queue import Wake, attempt_failed, attempt_run, claim_finish, lease_renew, rows_claim
from loyalty.rows import database, insert_sent, statement_cursor
from members.models import Member
from members.services import member_consent_set, member_is_anonymised
from programs.models import Program
from rewards.models import Redemption

from .models import KIND_CATEGORY, Category, EmailTemplateOverride, Kind, NotificationSettings, Outbox
from .samples import sample_data, sample_member

logger = logging.getLogger(__name__)

SEND_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_SEND_ATTEMPTS = len(SEND_BACKOFF) + 1
SEND_TIMEOUT_SECONDS = 30
LEASE = timedelta(minutes=5)  # well above one message's send timeout
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


# --- settings, consent and links ---------------------------------------------------------------


def notification_settings_for(*, program) -> NotificationSettings:
    found = NotificationSettings.objects.filter(program=program).first()
    return found if found is not None else NotificationSettings(program=program)


def _program_settings(program_id) -> NotificationSettings:
    found = NotificationSettings.objects.filter(program_id=program_id).first()
    return found if found is not None else NotificationSettings(program_id=program_id)


# A program's settings as of at most PROGRAM_CONFIG_CACHE_SECONDS ago (``loyalty.config_cache``), for the
# emails events queue one at a time (every purchase): emails switched off, or a new sender, take effect in
# every process within those seconds, at once in the process that saved them. The batch runs (expiry
# warnings, the tier recalculation) read the row itself. The objects are shared: nothing may change them.
_SETTINGS = ProgramMemo("notification-settings", _program_settings, models=(NotificationSettings,))


def unsubscribe_token(*, member: Member) -> str:
    return _unsubscribe_token(str(member.pk))


def _unsubscribe_token(member_id: str) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"m": member_id})


def member_for_unsubscribe_token(*, token: str) -> Member | None:
    """The member a genuine token names (None for a forged, altered or stale token)."""
    try:
        data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    return Member.objects.select_related("program").filter(pk=data.get("m")).first()


def unsubscribe_url(*, member: Member) -> str:
    return _unsubscribe_url(str(member.pk))


def _unsubscribe_url(member_id: str) -> str:
    path = reverse("notifications:unsubscribe", kwargs={"token": _unsubscribe_token(member_id)})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


@transaction.atomic
def member_unsubscribe(*, member: Member) -> Member:
    """Withdraw marketing consent and drop the member's marketing emails not yet sent."""
    member = member_consent_set(member=member, marketing_opt_in=False, source="email")
    Outbox.objects.filter(member=member, category=Category.MARKETING, status=Outbox.Status.PENDING).update(
        status=Outbox.Status.CANCELLED, last_error="marketing consent withdrawn")
    return member


@transaction.atomic
def member_outbox_forget(*, member: Member) -> int:
    """Keep nothing of an anonymised member in the outbox: unsent messages are cancelled, and no message
    keeps the address, the name or the text it carried. Answers how many messages were wiped."""
    Outbox.objects.filter(member=member, status=Outbox.Status.PENDING).update(
        status=Outbox.Status.CANCELLED, last_error="member anonymised", claimed_until=None, claim_token=None)
    return Outbox.objects.filter(member=member).update(
        to="", context={}, headers={}, rendered_subject="", rendered_text="", rendered_html="")


# --- rendering ---------------------------------------------------------------------------------
#
# A message is rendered by the worker that sends it, not in the request that queues it. The outbox row
# keeps what the templates are given, as it was when the message was queued (``Outbox.context``):
#
#   language   the member's language (en, de; else the site's)
#   member     id, first_name, last_name, card_number, email
#   program    name, slug (the slug picks a program's own templates)
#   data       the event's data; datetimes, dates and decimals come back as such (``_tagged``), other
#              values JSON lacks (UUIDs, durations) as DjangoJSONEncoder writes them
#
# plus, at rendering: kind, transactional (not marketing) and unsubscribe_url.


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _language(member: Member) -> str:
    codes = {code for code, _ in settings.LANGUAGES}
    return member.language if member.language in codes else settings.LANGUAGE_CODE


# JSON has no dates or decimals; the templates format them (``|date``, a decimal comma in German), so
# they are stored tagged and restored before rendering.
_TAGS = {"$datetime": datetime.fromisoformat, "$date": date.fromisoformat, "$decimal": Decimal}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _tagged(value):
    if type(value) in _PLAIN:  # most values: answered before the isinstance checks below
        return value
    if isinstance(value, dict):
        return {str(key): _tagged(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(item) for item in value]
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _untagged(value):
    if isinstance(value, dict):
        if len(value) == 1 and (tag := next(iter(value))) in _TAGS:
            return _TAGS[tag](value[tag])
        return {key: _untagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untagged(item) for item in value]
    return value


def email_context(*, member: Member, data: dict) -> dict:
    """What the templates will be given, as JSON (``Outbox.context``), taken now."""
    program = member.program
    return {
        "language": _language(member),
        "member": {"id": str(member.pk), "first_name": member.first_name, "last_name": member.last_name,
                   "card_number": member.card_number, "email": member.email},
        "program": {"name": program.name, "slug": program.slug},
        "data": _tagged(data),
    }


def _template_names(program_slug: str, kind: str, language: str, suffix: str) -> list[str]:
    """A program's own template first (``notifications/email/programs/<slug>/…``), then the default;
    the member's language first, then English."""
    names = []
    for lang in dict.fromkeys([language, "en"]):
        names += [f"notifications/email/programs/{program_slug}/{kind}/{lang}.{suffix}",
                  f"notifications/email/{kind}/{lang}.{suffix}"]
    return names


def email_context_render(*, kind: str, context: dict, wording: tuple[str, str] | None = None) -> RenderedEmail:
    """The email ``kind`` for ``context``: in the program's own wording for the language if it has one
    (``EmailTemplateOverride``), else from the templates. ``wording`` (subject, body) renders that wording instead,
    as a preview of a change not saved yet; its errors are raised, not passed over."""
    language, program = context["language"], context["program"]
    values = {
        "member": context["member"], "program": program, "data": _untagged(context["data"]), "language": language,
        "kind": kind, "transactional": KIND_CATEGORY[kind] == Category.TRANSACTIONAL,
        "unsubscribe_url": _unsubscribe_url(context["member"]["id"]),
    }
    with translation.override(language):
        if wording is not None:
            return _wording_render(*wording, values)
        override = (EmailTemplateOverride.objects.filter(program__slug=program["slug"], kind=kind, language=language)
                    .only("subject", "body").first())
        if override is not None:
            try:
                return _wording_render(override.subject, override.body, values)
            except WORDING_ERRORS as error:  # saved after a sample render; this member's values broke it
                logger.error("email %s (%s) of %s: the program's wording failed, the default is sent: %s",
                             kind, language, program["slug"], error)
        subject = select_template(_template_names(program["slug"], kind, language, "subject.txt")).render(values)
        text = select_template(_template_names(program["slug"], kind, language, "txt")).render(values)
        html = select_template(_template_names(program["slug"], kind, language, "html")).render(values)
    return RenderedEmail(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def email_render(*, member: Member, kind: str, data: dict) -> RenderedEmail:
    """The email ``kind`` to ``member`` about ``data``, as a worker would render it if queued now."""
    return email_context_render(kind=kind, context=email_context(member=member, data=data))


def outbox_message(row: Outbox) -> RenderedEmail:
    """The message of an outbox row: as rendered when sent (or queued, for old rows), else rendered now."""
    if row.rendered_subject or not row.context:
        return RenderedEmail(subject=row.rendered_subject, text=row.rendered_text, html=row.rendered_html)
    return email_context_render(kind=row.kind, context=row.context)


# --- a program's own wording ---------------------------------------------------------------------
#
# An ``EmailTemplateOverride`` words one email in one language: its subject, and its body framed by the email
# layout. The body is plain text: in ``base.txt`` as written, in ``base.html`` escaped as a whole (what was typed
# and the values alike, once) and set in paragraphs. The wording reads values with a few tags; it cannot load
# other templates or tag libraries.

WORDING_TAGS = ("if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof", "now",
                "comment", "endcomment")
WORDING_ERRORS = (TemplateSyntaxError, TypeError, ValueError)
_FRAMES = {
    "subject": ("{% autoescape off %}", "{% endautoescape %}"),
    "text": ('{% extends "notifications/email/base.txt" %}{% block content %}', "{% endblock %}"),
    "html": ('{% extends "notifications/email/base.html" %}{% block content %}{% filter force_escape|linebreaks %}'
             "{% autoescape off %}", "{% endautoescape %}{% endfilter %}{% endblock %}"),
}


def _framed(part: str, text: str):
    head, tail = _FRAMES[part]  # on the wording's first line: the line numbers of errors are the wording's
    return Engine.get_default().from_string(head + text + tail)


def _wording_render(subject: str, body: str, values: dict) -> RenderedEmail:
    rendered_subject = _framed("subject", subject).render(Context(values))
    text = _framed("text", body).render(Context(values))
    html = _framed("html", body).render(Context(values))
    return RenderedEmail(subject=" ".join(rendered_subject.split()), text=text.strip() + "\n", html=html)


def _wording_problems(text: str) -> list[str]:
    """The tags the wording may not use, each with its line."""
    problems = []
    for token in Lexer(text).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = (token.split_contents() or [""])[0]
            if name not in WORDING_TAGS:
                problems.append(f"Line {token.lineno}: {{% {name} %}} cannot be used here; use if, for, with, "
                                "firstof or comment.")
    return problems


def email_sample_context(*, program: Program, kind: str, language: str) -> dict:
    """What the templates of ``kind`` would be given for a sample member of ``program`` (previews, checks)."""
    return {"language": language, "member": sample_member(), "program": {"name": program.name, "slug": program.slug},
            "data": _tagged(sample_data(kind))}


def email_template_check(*, program: Program, kind: str, language: str, subject: str, body: str) -> None:
    """Refuse wording that could not be sent (``ValidationError`` by field, ``subject`` and ``body``): a tag it may
    not use, a template syntax error (with its line), or a failure with a sample email."""
    errors: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body", body)):
        if problems := _wording_problems(text):
            errors[field] = problems
            continue
        try:  # alone, not framed: the error is about what was written
            Engine.get_default().from_string(text)
        except TemplateSyntaxError as error:
            said = str(error).replace(" Did you forget to register or load this tag?", "")
            errors[field] = [f"The template does not read: {said}"]
    if not errors:
        try:
            email = email_context_render(kind=kind, context=email_sample_context(program=program, kind=kind,
                                                                                 language=language),
                                         wording=(subject, body))
        except WORDING_ERRORS as error:
            errors["body"] = [f"A sample email fails with it: {error}"]
        else:
            if not email.subject:
                errors["subject"] = ["The subject comes out empty for a sample email."]
    if errors:
        raise ValidationError(errors)


def email_template_default(*, program: Program, kind: str, language: str) -> tuple[str, str]:
    """The subject and body a program's email has without its own wording, as wording to start from."""
    subject = select_template(_template_names(program.slug, kind, language, "subject.txt")).template.source.strip()
    subject = subject.removeprefix("{% autoescape off %}").removesuffix("{% endautoescape %}")
    text = select_template(_template_names(program.slug, kind, language, "txt")).template.source
    body = re.search(r"{% block content %}(.*){% endblock %}", text, re.S)
    return subject.strip(), (body.group(1) if body else text).strip()


def email_template_wording(*, program: Program, kind: str,
                           language: str) -> tuple[str, str, EmailTemplateOverride | None]:
    """The wording the email has now (subject, body) and the program's override it comes from, if any."""
    override = EmailTemplateOverride.objects.filter(program=program, kind=kind, language=language).first()
    if override is not None:
        return override.subject, override.body, override
    return (*email_template_default(program=program, kind=kind, language=language), None)


@transaction.atomic
def email_template_override_set(*, program: Program, kind: str, language: str, subject: str,
                                body: str) -> EmailTemplateOverride:
    """Word ``kind`` in ``language`` the program's way from the next email on; refused (``ValidationError``) when
    the wording could not be sent."""
    email_template_check(program=program, kind=kind, language=language, subject=subject, body=body)
    override, created = EmailTemplateOverride.objects.select_for_update().get_or_create(
        program=program, kind=kind, language=language, defaults={"subject": subject, "body": body})
    if not created:
        override.subject, override.body = subject, body
        record_check(override)
        override.save()
    return override


@transaction.atomic
def email_template_override_reset(*, program: Program, kind: str, language: str) -> EmailTemplateOverride | None:
    """Send ``kind`` in ``language`` with the default wording again; answers the wording removed (None if none)."""
    override = (EmailTemplateOverride.objects.select_for_update()
                .filter(program=program, kind=kind, language=language).first())
    if override is not None:
        override.delete()
    return override


# --- queueing ----------------------------------------------------------------------------------


# The sender is woken through Redis (``loyalty.queue.Wake``): one ``send_due_emails`` per sweep started,
# not one task per message.
WAKE_KEY = "notifications:sender-wake"
_sender_wake = Wake(WAKE_KEY, "notifications.tasks.send_due_emails")


def _schedule(dedupe_key: str | None = None) -> None:
    """Have the message ``dedupe_key`` (None: every due message) sent once the caller's transaction commits.

    robust: a broker that is down must not fail an action that has committed; the sweep sends later.
    """
    if app.conf.task_always_eager:  # no broker: sent in this process, at once, as the request commits
        task = "notifications.tasks.send_due_emails" if dedupe_key is None else "notifications.tasks.send_email"
        args = () if dedupe_key is None else (dedupe_key,)
        transaction.on_commit(lambda: app.signature(task, args=args).delay(), robust=True)
        return
    transaction.on_commit(_sender_wake, robust=True)  # a second message of the transaction finds the key set


def outbox_sweep_schedule() -> None:
    _schedule(None)


def outbox_refusal(member: Member, kind: str, program_settings: NotificationSettings) -> str | None:
    if not program_settings.emails_enabled:
        return "program sends no emails"
    if not member.email or member_is_anonymised(member):
        return "no email address"
    if KIND_CATEGORY[kind] == Category.MARKETING and not member.marketing_opt_in:
        return "no marketing consent"
    return None


def _headers(member: Member, kind: str) -> dict:
    if KIND_CATEGORY[kind] != Category.MARKETING:
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url(member=member)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def outbox_values(*, member: Member, kind: str, data: dict, dedupe_key: str, program_settings, now) -> dict:
    """The outbox row (every column, by field name) of the email ``kind`` to ``member`` about ``data``.

    Whatever queues an email builds its row here, one message or a batch run's thousands, so that
    the two cannot differ. Whether the member is to get it at all is ``outbox_refusal``'s answer.
    """
    return {
        "program": member.program_id, "member": member.pk, "channel": Outbox.Channel.EMAIL, "kind": kind,
        "category": KIND_CATEGORY[kind], "dedupe_key": dedupe_key, "to": member.email,
        "from_email": program_settings.from_email or settings.DEFAULT_FROM_EMAIL,
        "rendered_subject": "", "rendered_text": "", "rendered_html": "",
        "context": email_context(member=member, data=data), "headers": _headers(member, kind),
        "status": Outbox.Status.PENDING, "attempts": 0, "next_attempt_at": now, "claimed_until": None,
        "claim_token": None, "created_at": now, "sent_at": None, "last_error": "",
    }


def notification_enqueue(*, member: Member, kind: str, data: dict, dedupe_key: str,
                         program: Program | None = None) -> bool:
    """Queue one email to ``member`` in the caller's transaction; it is sent after commit.

    Answers False when nothing is queued: the program sends no emails, or a marketing message
    without consent. A second message with the same ``dedupe_key`` is dropped (one ``INSERT …
    ON CONFLICT DO NOTHING``; with the program's settings memoised, that is the one query it costs).
    """
    if program is not None:
        member.program = program
    program_settings = _SETTINGS.get(member.program_id)
    if reason := outbox_refusal(member, kind, program_settings):
        logger.debug("no %s email to member %s: %s", kind, member.pk, reason)
        return False
    row = outbox_values(member=member, kind=kind, data=data, dedupe_key=dedupe_key,
                         program_settings=program_settings, now=timezone.now())
    db = database()
    ((sql, params),) = _outbox_insert_values([row], db)
    insert_sent(sql, params, db=db)
    _schedule(dedupe_key)
    return True


_OUTBOX_FIELDS = tuple(field for field in Outbox._meta.concrete_fields if not field.primary_key)
OUTBOX_INSERT_ROWS = 2_000  # rows per statement


def outbox_insert(rows: list[dict]) -> int:
    """Write outbox rows (``outbox_values``), up to ``OUTBOX_INSERT_ROWS`` in one ``INSERT … ON CONFLICT
    (dedupe_key) DO NOTHING``; answers how many were written.

    A row whose dedupe key is queued already is not written (the message queued first stays as it was),
    and against a concurrent insert of the same key the statement waits for that transaction, as a plain
    insert would. No ORM statement compiler: it runs on every purchase, and per row in batch runs.
    """
    written, db = 0, database()
    with statement_cursor(db) as cursor:
        for start in range(0, len(rows), OUTBOX_INSERT_ROWS):
            chunk = rows[start:start + OUTBOX_INSERT_ROWS]
            statements = (_outbox_insert_json(chunk, db) if len(chunk) > 1
                          else _outbox_insert_values(chunk, db))
            for sql, params in statements:
                cursor.execute(sql, params)
                written += cursor.rowcount
    return written


def _outbox_insert_head(db) -> tuple[str, str]:
    quote = db.ops.quote_name
    return (f"INSERT INTO {quote(Outbox._meta.db_table)} ({', '.join(quote(f.column) for f in _OUTBOX_FIELDS)}) ",
            f" ON CONFLICT ({quote(Outbox._meta.get_field('dedupe_key').column)}) DO NOTHING")


_NOTHING = object()


def _outbox_insert_values(rows: list[dict], db):
    """(statement, parameters) pairs writing ``rows`` as ``VALUES (…), (…)``, as many rows to a statement as
    the database takes parameters. Rows share most of their values (the moment, kind, sender, program):
    each distinct value object is made ready for the database once, not once per row."""
    fields = _OUTBOX_FIELDS
    head, tail = _outbox_insert_head(db)
    one = f"({', '.join(['%s'] * len(fields))})"
    size = max(1, db.ops.bulk_batch_size(fields, rows))
    last = [(_NOTHING, None)] * len(fields)
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        params = []
        for row in chunk:
            for i, field in enumerate(fields):
                value = row[field.name]
                seen, prepared = last[i]
                if value is not seen:
                    prepared = field.get_db_prep_save(value, db)
                    last[i] = (value, prepared)
                params.append(prepared)
        yield f"{head}VALUES {', '.join([one] * len(chunk))}{tail}", params


def _outbox_insert_json(rows: list[dict], db):
    """The (statement, parameters) writing ``rows`` on PostgreSQL: a value all rows share (the moment, kind,
    sender, program, …) is one parameter, the columns that differ travel as one JSON document.

    As ``VALUES (…), (…)`` most of a large insert's time went to psycopg's client-side binding finding the
    placeholders and quoting each value (bench/tiers_recalc.py measures it).
    """
    first = rows[0]
    shared = tuple(field for field in _OUTBOX_FIELDS if all(row[field.name] == first[field.name] for row in rows))
    differing = [field.name for field in _OUTBOX_FIELDS if field not in shared]
    if not differing:  # the same row over and over: it is written once
        return _outbox_insert_values(rows[:1], db)
    document = json.dumps([{name: row[name] for name in differing} for row in rows],
                          default=_json_transported, separators=(",", ":"))
    return [(_outbox_insert_json_sql(shared),
             [*(field.get_db_prep_save(first[field.name], db) for field in shared), document])]


@functools.lru_cache(maxsize=16)
def _outbox_insert_json_sql(shared: tuple) -> str:
    quote = connection.ops.quote_name
    head, tail = _outbox_insert_head(connection)
    # Text columns are read as text: too long a value fails the insert, as it would from VALUES.
    record = ", ".join(f"{quote(f.name)} {'text' if isinstance(f, CharField) else f.db_type(connection)}"
                       for f in _OUTBOX_FIELDS if f not in shared)
    select = ", ".join("%s" if f in shared else f"r.{quote(f.name)}" for f in _OUTBOX_FIELDS)
    # Names and types come from the model, values are parameters.
    return f"{head}SELECT {select} FROM jsonb_to_recordset(%s::jsonb) AS r({record}){tail}"  # noqa: S608


_CONTEXT_ENCODER = Outbox._meta.get_field("context").encoder()


def _json_transported(value):
    """A column value JSON lacks, as PostgreSQL reads it back: moments to the microsecond, ids as text.
    (Inside ``context`` both are tagged already, ``_tagged``; anything else as the field's encoder has it.)"""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return _CONTEXT_ENCODER.default(value)


def survey_invitation_send(*, member: Member, survey_name: str, survey_url: str, invitation_key: str) -> bool:
    """Invite ``member`` to a survey by email (marketing: only with consent), once per ``invitation_key``."""
    return notification_enqueue(member=member, kind=Kind.SURVEY_INVITATION,
                                data={"survey_name": survey_name, "survey_url": survey_url},
                                dedupe_key=f"{Kind.SURVEY_INVITATION}:{member.pk}:{invitation_key}")


@transaction.atomic
def voucher_email_resend(*, redemption: Redemption, request_key: str) -> bool:
    """Send a voucher's email again (the member lost it): the ``reward_issued`` email, as it is now.

    ``request_key`` names the request (a form's one-time token): answers True when this call queued the
    email, False when the same request had queued it already (a double click sends one email).
    Refused (``DomainError``) for a voucher that can no longer be used and when no email can go out.
    """
    member = redemption.member
    if redemption.status != Redemption.Status.ISSUED:
        raise DomainError("voucher_not_usable", f"This voucher is {redemption.get_status_display().lower()}: "
                          "there is nothing to send.", title="Voucher not usable")
    program_settings = notification_settings_for(program=member.program)
    if reason := outbox_refusal(member, Kind.REWARD_ISSUED, program_settings):
        raise DomainError("email_not_sent", f"No email can be sent: {reason}.", title="Email not sent")
    reward = redemption.reward
    data = {"redemption_id": redemption.pk, "reward": {"code": reward.code, "name": reward.name},
            "points": redemption.points_spent, "voucher_code": redemption.voucher_code, "donation": False,
            "expires_at": redemption.expires_at, "store": None}
    dedupe_key = f"{Kind.REWARD_ISSUED}:resend:{redemption.pk}:{request_key}"
    written = outbox_insert([outbox_values(member=member, kind=Kind.REWARD_ISSUED, data=data, dedupe_key=dedupe_key,
                                           program_settings=program_settings, now=timezone.now())])
    if written:
        _schedule(dedupe_key)
    return bool(written)


# The emails that carry a link to the member's own account, asked for by the person (on the portal).
ACCOUNT_LINK_KINDS = (Kind.PASSWORD_RESET, Kind.EMAIL_CONFIRMATION, Kind.CARD_CLAIM)


def account_emails_possible(*, program: Program) -> bool:
    """Whether the program sends emails at all, so that a page can offer a link by email."""
    return _SETTINGS.get(program.pk).emails_enabled


@transaction.atomic
def account_link_send(*, member: Member, kind: str, link: str, hours: int, request_key: str,
                      language: str = "") -> bool:
    """Queue the email ``kind`` (one of ``ACCOUNT_LINK_KINDS``) carrying ``link``, valid ``hours``; it is sent after
    the caller's transaction commits. Transactional: no marketing consent needed.

    The member's own language if they chose one, else ``language`` (the page they asked on), else the site's.
    ``request_key`` names the request: the same key queues one email. Answers False when nothing is queued
    (the program sends no emails, the member has no address, or the key was used).
    """
    if kind not in ACCOUNT_LINK_KINDS:
        raise ValueError(f"{kind} is not an account link email")
    program_settings = _SETTINGS.get(member.program_id)
    if reason := outbox_refusal(member, kind, program_settings):
        logger.info("no %s email to member %s: %s", kind, member.pk, reason)
        return False
    data = {"link": link, "hours": hours, "days": hours // 24 if hours >= 48 and hours % 24 == 0 else None}
    dedupe_key = f"{kind}:{member.pk}:{request_key}"
    row = outbox_values(member=member, kind=kind, data=data, dedupe_key=dedupe_key,
                        program_settings=program_settings, now=timezone.now())
    if not member.language and language in {code for code, _ in settings.LANGUAGES}:
        row["context"]["language"] = language
    written = outbox_insert([row])
    if written:
        _schedule(dedupe_key)
    return bool(written)


# --- sending -----------------------------------------------------------------------------------


def _message_id(row: Outbox) -> str:
    """Stable per outbox row: should a message ever go out twice, receivers see one message."""
    domain = parseaddr(row.from_email)[1].rpartition("@")[2] or "localhost"
    return f"<outbox-{row.pk}@{domain}>"


def _consent_withdrawn(row: Outbox) -> bool:
    if row.category != Category.MARKETING:
        return False
    return not Member.objects.filter(pk=row.member_id, marketing_opt_in=True).exists()


def _send_one(row: Outbox, *, token, connection) -> str:
    if _consent_withdrawn(row):
        claim_finish(Outbox, pk=row.pk, token=token, status=Outbox.Status.CANCELLED,
                     last_error="marketing consent withdrawn")
        return Outbox.Status.CANCELLED
    if not lease_renew(Outbox, pk=row.pk, token=token, now=timezone.now(), lease=LEASE):
        return "skipped"  # the lease lapsed and another worker has the message now
    try:
        email = outbox_message(row)
    except (TemplateDoesNotExist, TemplateSyntaxError) as error:  # a program's template: retrying cannot help
        logger.error("email %s (%s) cannot be rendered: %s", row.pk, row.kind, error)
        claim_finish(Outbox, pk=row.pk, token=token, status=Outbox.Status.FAILED, last_error=f"template: {error}")
        return Outbox.Status.FAILED
    # What was sent is kept with the row, whatever the outcome (a retry sends the same text).
    rendered = {} if row.rendered_subject else {
        "rendered_subject": email.subject[:Outbox._meta.get_field("rendered_subject").max_length],
        "rendered_text": email.text, "rendered_html": email.html}
    message = EmailMultiAlternatives(subject=email.subject, body=email.text, from_email=row.from_email, to=[row.to],
                                     headers={"Message-ID": _message_id(row), **row.headers},
                                     connection=connection)
    if email.html:
        message.attach_alternative(email.html, "text/html")

    def send():
        connection.open()  # the batch's connection, opened by its first message (a no-op once open)
        message.send()

    what = f"email {row.pk} to {row.to}"
    _, error = attempt_run(send, what=what, expected=(smtplib.SMTPException, OSError))
    if error is not None:
        return attempt_failed(Outbox, row=row, token=token, error=error, backoff=SEND_BACKOFF, what=what, **rendered)
    claim_finish(Outbox, pk=row.pk, token=token, status=Outbox.Status.SENT, sent_at=timezone.now(), last_error="",
                 **rendered)
    return Outbox.Status.SENT


def outbox_send_due(*, dedupe_key: str | None = None, limit: int = 50) -> dict:
    """Claim due messages (or just the message ``dedupe_key``, if due) and send each; answers counts per outcome.

    Safe to run concurrently: a message is claimed by one worker at a time, and one that is sent is
    never claimed again. A worker that dies leaves its claim to lapse after ``LEASE``.
    """
    counts = {"sent": 0, "pending": 0, "failed": 0, "cancelled": 0, "skipped": 0}
    if dedupe_key is None:
        _sender_wake.woken()
    while True:
        token, claimed = rows_claim(Outbox, now=timezone.now(), lease=LEASE, limit=limit,
                                    only={"dedupe_key": dedupe_key} if dedupe_key is not None else None)
        if claimed:
            # Not opened here: a mail server that refuses the connection fails each message's attempt.
            connection = get_connection(timeout=SEND_TIMEOUT_SECONDS)
            try:
                for row in claimed:
                    counts[_send_one(row, token=token, connection=connection)] += 1
            finally:
                connection.close()
        if dedupe_key is not None or len(claimed) < limit:
            return counts


# --- expiry warnings ---------------------------------------------------------------------------


def expiry_warning_candidates(*, program: Program, days: int, now: datetime):
    """Per member of ``program``: points expiring within ``days`` and the first expiry, for active
    members not warned within the last ``days`` days. One grouped query over unexpired lots."""
    warned = Outbox.objects.filter(member=OuterRef("account__member"), kind=Kind.POINTS_EXPIRING,
                                   created_at__gt=now - timedelta(days=days))
    return (PointsLot.objects
            .filter(program=program, remaining__gt=0, expired=False, expires_at__gt=now,
                    expires_at__lte=now + timedelta(days=days), account__member__status=Member.Status.ACTIVE)
            .exclude(Exists(warned))
            .values("account__member")
            .annotate(points=Sum("remaining"), first_expiry=Min("expires_at"))
            .order_by("account__member"))


def expiry_warnings_send(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """The daily expiry-warning run: tell each member about points expiring within their program's
    ``expiry_warning_days``, at most once per window of that many days. Answers how many were queued.

    The window starts with the warning: a member warned today is next warned in ``days`` days, when
    the next warning covers the following ``days``. The outbox's ``dedupe_key`` names the day, so two
    runs on one day (or concurrently) queue one message. Safe to rerun.
    """
    now = now or timezone.now()
    queued = 0
    for program in Program.objects.order_by("pk"):
        program_settings = notification_settings_for(program=program)
        days = program_settings.expiry_warning_days
        if not days or not program_settings.emails_enabled:
            continue
        rows = list(expiry_warning_candidates(program=program, days=days, now=now))
        for start in range(0, len(rows), batch_size):
            queued += _expiry_warnings_queue(program=program, program_settings=program_settings, days=days,
                                             rows=rows[start:start + batch_size], now=now)
    return queued


@transaction.atomic
def _expiry_warnings_queue(*, program: Program, program_settings, days: int, rows: list[dict], now) -> int:
    members = Member.objects.select_related("program").in_bulk([row["account__member"] for row in rows])
    keys = {pk: f"{Kind.POINTS_EXPIRING}:{pk}:{now.date().isoformat()}" for pk in members}
    queued_today = set(Outbox.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True))
    outbox = []
    for row in rows:
        member = members[row["account__member"]]
        if keys[member.pk] in queued_today or outbox_refusal(member, Kind.POINTS_EXPIRING, program_settings):
            continue
        data = {"points": row["points"], "first_expiry": row["first_expiry"], "days": days,
                "until": now + timedelta(days=days)}
        outbox.append(outbox_values(member=member, kind=Kind.POINTS_EXPIRING, data=data, dedupe_key=keys[member.pk],
                                     program_settings=program_settings, now=now))
    written = outbox_insert(outbox)  # a concurrent run's rows win
    if written:
        outbox_sweep_schedule()
    return written
