"""Every write of the surveys app: definitions, answers (from a till or an email link), follow-up cases,
the answering bonus, and invitations (queued by events, sent when due).

Answers: ``response_record`` is the one way an answer is stored. In its transaction it opens the follow-up
case a detractor (NPS 0–6) or a very unhappy CSAT answer (1–2) of a known member calls for (exactly once: the
case is one-to-one with the answer) and posts the survey's bonus, if it has one, through the ledger under a key
per survey and member, so a retried answer or a second answer to the same survey posts nothing more.

Invitations: events (a purchase, a redemption, a tier change) queue a pending invitation in the event's own
transaction (``surveys.events``) when the member consented, the event is sampled and no cool-down applies;
``invitations_send_due`` (a periodic task) sends those that are due, checking cool-down and consent again.
The email link carries the invitation's id signed with the site's key (``invitation_token``); a link works
until the invitation expires or is answered, whichever comes first.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from ledger.models import Kind as LedgerKind
from ledger.services import points_earn
from loyalty.config_cache import ProgramMemo
from loyalty.errors import DomainError
from loyalty.events import announce
from loyalty.rows import insert_or_nothing
from loyalty.transactions import service_atomic
from members.models import Member
from members.selectors import member_by_reference
from members.services import ANONYMISED_EMAIL_DOMAIN, member_is_anonymised
from notifications.services import survey_invitation_send
from programs.models import Program, Store

from .models import (
    DEFAULT_QUESTIONS,
    Channel,
    FollowUpCase,
    FollowUpCaseChange,
    Invitation,
    Kind,
    Response,
    Survey,
    Topic,
    Trigger,
)
from .scoring import nps_category

logger = logging.getLogger(__name__)

LINK_SALT = "surveys.invitation"
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_COMMENT = 2000
MAX_EXTRA_QUESTIONS = 5
MAX_CHOICES = 10
BONUS_ACTOR = "survey"


# --- definitions --------------------------------------------------------------------------------


def extra_questions_check(questions) -> list[dict]:
    """The extra questions as stored, or ``invalid`` on ``extra_questions``. Each is ``{"id", "type": "choice"
    | "text", "text_en", "text_de"}``, a choice with ``choices_en`` and ``choices_de`` of equal length (2–10)."""
    def refuse(message: str):
        raise DomainError.invalid("extra_questions", message)

    if not isinstance(questions, list) or len(questions) > MAX_EXTRA_QUESTIONS:
        refuse(f"A list of at most {MAX_EXTRA_QUESTIONS} questions.")
    seen, cleaned = set(), []
    for question in questions:
        if not isinstance(question, dict):
            refuse("Each question is an object.")
        qid, kind = question.get("id"), question.get("type")
        if not isinstance(qid, str) or not qid.isidentifier() or len(qid) > 32 or qid in seen:
            refuse("Each question needs its own id: letters, digits and _ (at most 32).")
        seen.add(qid)
        if kind not in ("choice", "text"):
            refuse(f"Question {qid}: type is choice or text.")
        texts = [question.get("text_en"), question.get("text_de")]
        if not all(isinstance(text, str) and text.strip() and len(text) <= 300 for text in texts):
            refuse(f"Question {qid}: text_en and text_de, each 1–300 characters.")
        item = {"id": qid, "type": kind, "text_en": texts[0].strip(), "text_de": texts[1].strip()}
        if kind == "choice":
            choices = [question.get("choices_en"), question.get("choices_de")]
            if not all(isinstance(c, list) and 2 <= len(c) <= MAX_CHOICES
                       and all(isinstance(x, str) and x.strip() and len(x) <= 100 for x in c) for c in choices) \
                    or len(choices[0]) != len(choices[1]):
                refuse(f"Question {qid}: choices_en and choices_de, 2–{MAX_CHOICES} choices each, as many in both.")
            item.update(choices_en=[x.strip() for x in choices[0]], choices_de=[x.strip() for x in choices[1]])
        cleaned.append(item)
    return cleaned


@transaction.atomic
def survey_create(*, program: Program, code: str, kind: str, name: str = "", question_en: str = "",
                  question_de: str = "", extra_questions: list | None = None, **options) -> Survey:
    """Define a survey; empty questions take the kind's default wording (``{program}`` is the program's name).

    ``options`` are the survey's other fields (window, bonus, triggers, sampling, delay, cool-down…)."""
    if kind not in Kind.values:
        raise DomainError.invalid("kind", "One of nps, csat, ces.")
    if Survey.objects.filter(program=program, code=code).exists():
        raise DomainError.invalid("code", f"The program already has a survey {code}.")
    default_en, default_de = DEFAULT_QUESTIONS[kind]
    survey = Survey(program=program, code=code, kind=kind, name=name or Kind(kind).label.split(" (")[0],
                    question_en=question_en or default_en, question_de=question_de or default_de,
                    extra_questions=extra_questions_check(extra_questions or []), **options)
    survey.full_clean()
    survey.save()
    return survey


def survey_get(*, program: Program, code, at: datetime | None = None) -> Survey:
    """The program's survey ``code`` that takes answers at ``at`` (now), else ``survey_not_found``."""
    survey = Survey.objects.filter(program=program, code=code).first() if isinstance(code, str) else None
    if survey is None or not survey.is_open(at):
        raise DomainError("survey_not_found", f"No active survey {code!s:.64} in this program.",
                          title="Survey not found")
    return survey


# --- answers ------------------------------------------------------------------------------------


def _check_score(survey: Survey, score) -> int:
    low, high = survey.scale
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise DomainError.invalid("score", f"A whole number from {low} to {high} for this survey.")
    return score


def _check_answers(survey: Survey, answers: dict | None) -> dict:
    """The extra questions' answers: a choice by its index, a text as text; unknown ids refused."""
    answers = answers or {}
    if not isinstance(answers, dict):
        raise DomainError.invalid("answers", "An object of answers by question id.")
    questions = {q["id"]: q for q in survey.extra_questions}
    cleaned = {}
    for qid, value in answers.items():
        question = questions.get(qid)
        if question is None:
            raise DomainError.invalid(f"answers.{qid}", "No such question in this survey.")
        if question["type"] == "choice":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(question["choices_en"]):
                raise DomainError.invalid(f"answers.{qid}", "One of the question's choices.")
        elif not isinstance(value, str) or len(value) > MAX_COMMENT:
            raise DomainError.invalid(f"answers.{qid}", f"Text of at most {MAX_COMMENT} characters.")
        elif not value.strip():
            continue
        cleaned[qid] = value.strip() if isinstance(value, str) else value
    return cleaned


def opens_case(*, kind: str, score: int) -> bool:
    """An answer that calls for a follow-up: an NPS detractor (0–6), a CSAT of 1 or 2."""
    return (kind == Kind.NPS and score <= 6) or (kind == Kind.CSAT and score <= 2)


def business_days_after(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """``moment`` plus ``days`` business days (Monday to Friday in ``zone``), at the same local time; a
    moment on a weekend counts from the next Monday's start."""
    local = moment.astimezone(zone)
    while local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local


@service_atomic
def followup_case_open(*, response: Response) -> FollowUpCase | None:
    """The follow-up case of an unhappy answer of a known member, once: None when it calls for none."""
    if response.member_id is None or not opens_case(kind=response.survey.kind, score=response.score):
        return None
    existing = FollowUpCase.objects.filter(response=response).first()
    if existing is not None:
        return existing
    program = response.survey.program
    due_at = business_days_after(response.answered_at, response.survey.reply_target_business_days,
                                 program.zone)
    return FollowUpCase.objects.create(response=response, program_id=response.program_id,
                                       member_id=response.member_id, due_at=due_at)


def _bonus_post(*, response: Response, member: Member, actor: str) -> bool:
    """The survey's points for answering, once per survey and member (the ledger key says so): True when this
    answer earned them."""
    survey = response.survey
    if not survey.bonus_points or member.is_suspended:
        return False
    program = survey.program
    now = timezone.now()
    key = f"survey:{survey.pk}:{member.pk}"
    txn = points_earn(member=member, points=survey.bonus_points, idempotency_key=key, source_type="survey",
                      source_id=str(response.pk), actor=actor, occurred_at=now, available_at=now,
                      expires_at=now + timedelta(days=program.expiry_days) if program.expiry_days else None,
                      kind=LedgerKind.BONUS, description=f"Thank you for answering: {survey.name}")
    if txn.replayed:
        return False
    announce(program=program, type="points.earned", member=member, key=f"bonus:{key}",
             payload={"points": survey.bonus_points,
                      "source": {"type": "survey", "id": str(response.pk), "description": survey.name}})
    return True


@dataclass(frozen=True)
class Recorded:
    response: Response
    case: FollowUpCase | None


@service_atomic
def response_record(
    *, survey: Survey, score: int, channel: str, actor: str, member: Member | None = None, comment: str = "",
    answers: dict | None = None, answered_at: datetime | None = None, store: Store | None = None,
    external_id: str = "", invitation: Invitation | None = None,
) -> Recorded:
    """Store one answer; open its follow-up case and post its bonus where due.

    ``answered_at`` defaults to now and may not be in the future (``invalid``). The caller makes the
    answer happen once: a POS answer is keyed by (store, external id), an invitation is locked and
    marked answered (``invitation_answer``)."""
    now = timezone.now()
    score = _check_score(survey, score)
    if answered_at is None:
        answered_at = now
    elif answered_at > now + FUTURE_TOLERANCE:
        raise DomainError.invalid("answered_at", "An answer cannot be more than 5 minutes in the future.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError.invalid("comment", f"At most {MAX_COMMENT} characters.")
    cleaned = _check_answers(survey, answers)
    response = Response.objects.create(
        program_id=survey.program_id, survey=survey, member=member, invitation=invitation, store=store,
        external_id=external_id, channel=channel, score=score,
        category=nps_category(score) if survey.kind == Kind.NPS else "", comment=comment, answers=cleaned,
        answered_at=answered_at, created_at=now)
    if member is not None and _bonus_post(response=response, member=member, actor=actor):
        response.incentivised = True
        Response.objects.filter(pk=response.pk).update(incentivised=True)
    if invitation is not None and invitation.trigger == Trigger.CASE_RESOLUTION:
        _case_reopen_if_unhappy(response=response)  # the case it is about is worked again; no second case
        return Recorded(response=response, case=None)
    case = followup_case_open(response=response)
    return Recorded(response=response, case=case)


@service_atomic
def pos_response_record(*, store: Store, actor: str, external_id: str, survey_code: str, member_reference: dict | None,
                        score: int, comment: str = "", answered_at: datetime | None = None) -> Recorded:
    """An answer collected at a till: the store's program's open survey ``survey_code`` (else
    ``survey_not_found``), the member the reference names (else ``member_not_found``), or nobody."""
    survey = survey_get(program=store.program, code=survey_code)
    member = member_by_reference(program=store.program, reference=member_reference) if member_reference else None
    return response_record(survey=survey, score=score, channel=Channel.POS, actor=actor, member=member,
                           comment=comment, answered_at=answered_at, store=store, external_id=external_id)


# --- follow-up cases: working them ----------------------------------------------------------------

CaseStatus = FollowUpCase.Status
CASE_TRANSITIONS = {
    CaseStatus.OPEN: {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED},
    CaseStatus.IN_PROGRESS: {CaseStatus.OPEN, CaseStatus.RESOLVED, CaseStatus.CLOSED},
    CaseStatus.RESOLVED: {CaseStatus.IN_PROGRESS, CaseStatus.CLOSED},
    CaseStatus.CLOSED: {CaseStatus.IN_PROGRESS},  # reopened
}
RESOLUTION_SURVEY_CODE = "case-resolution"
RESOLUTION_QUESTIONS = ("How satisfied are you with how we handled your feedback?",
                        "Wie zufrieden sind Sie damit, wie wir mit Ihrer Rückmeldung umgegangen sind?")
MAX_ROOT_CAUSE = 200
_UNCHANGED = object()


def _user_name(user) -> str:
    return user.get_username() if user is not None else ""


@transaction.atomic
def case_update(*, case: FollowUpCase, actor, status: str | None = None, assignee=_UNCHANGED, note: str = "",
                root_cause: str | None = None, ask_member: bool = False, seen_changes: int | None = None
                ) -> FollowUpCase:
    """Work a follow-up case: move it to ``status`` (along ``CASE_TRANSITIONS``), (un)assign it, add a note,
    name its root cause; one history row says who did what. Closing needs a root cause (given now or before).
    Resolving with ``ask_member`` invites the member to one CSAT question about the resolution; an unhappy
    answer (1–2) reopens the case (``response_record``). Who may do it is the caller's (staff) decision.

    ``seen_changes`` is how many changes the case had when the person opened it: if it has more now (someone
    else worked it, or the same form was sent twice), nothing is changed (``case_changed``)."""
    case = FollowUpCase.objects.select_for_update().get(pk=case.pk)
    if seen_changes is not None and case.changes.count() != seen_changes:
        raise DomainError("case_changed", "This case has changed since you opened it (or the form was sent twice); "
                          "nothing was changed. Look at it again.", status=409, title="Case changed")
    before = case.status
    note = (note or "").strip()
    if root_cause is not None:
        root_cause = root_cause.strip()
        if len(root_cause) > MAX_ROOT_CAUSE:
            raise DomainError.invalid("root_cause", f"At most {MAX_ROOT_CAUSE} characters.")
        case.root_cause = root_cause
    if status is not None and status != before:
        if status not in CASE_TRANSITIONS.get(before, ()):
            raise DomainError("invalid_transition", f"A case that is {case.get_status_display().lower()} cannot "
                              f"become {CaseStatus(status).label.lower() if status in CaseStatus.values else status}.",
                              status=409, title="Not allowed now")
        case.status = status
    if case.status == CaseStatus.CLOSED and not case.root_cause:
        raise DomainError.invalid("root_cause", "Name the root cause to close the case.")
    if assignee is not _UNCHANGED:
        case.assignee = assignee
    if status is None and assignee is _UNCHANGED and not note and root_cause is None:
        return case
    now = timezone.now()
    case.closed_at = (case.closed_at or now) if case.status == CaseStatus.CLOSED else None
    if note:
        stamp = f"{now:%Y-%m-%d %H:%M} {_user_name(actor) or 'system'}"
        case.notes = f"{case.notes}\n\n{stamp}: {note}".strip()
    case.save(update_fields=["status", "assignee", "root_cause", "notes", "closed_at"])
    FollowUpCaseChange.objects.create(case=case, actor=actor, actor_name=_user_name(actor), from_status=before,
                                      to_status=case.status, assignee_name=_user_name(case.assignee), note=note,
                                      created_at=now)
    if ask_member and case.status == CaseStatus.RESOLVED and before != CaseStatus.RESOLVED:
        _resolution_invite(case=case, now=now)
    return case


@transaction.atomic
def case_escalations_take(*, now: datetime | None = None, limit: int = 500) -> dict:
    """The overdue cases (open or in progress past their due date) not escalated yet, marked escalated now,
    by program id: each is escalated once. Rows another run holds are skipped (``SKIP LOCKED``), so two runs
    at once take each case once. The caller tells the managers in this transaction."""
    now = now or timezone.now()
    due = list(FollowUpCase.objects.select_for_update(skip_locked=True, of=("self",))
               .filter(status__in=[CaseStatus.OPEN, CaseStatus.IN_PROGRESS], due_at__lt=now, escalated_at__isnull=True)
               .select_related("member", "response__survey").order_by("due_at")[:limit])
    FollowUpCase.objects.filter(pk__in=[case.pk for case in due]).update(escalated_at=now)
    by_program: dict = {}
    for case in due:
        case.escalated_at = now
        by_program.setdefault(case.program_id, []).append(case)
    return by_program


def _resolution_survey(program_id) -> Survey:
    """The program's one-question CSAT about how a case was handled (created when first needed; never
    triggered by events, so only resolved cases invite to it)."""
    survey = Survey.objects.filter(program_id=program_id, code=RESOLUTION_SURVEY_CODE).first()
    if survey is None:
        survey = Survey.objects.create(program_id=program_id, code=RESOLUTION_SURVEY_CODE, kind=Kind.CSAT,
                                       name="How we handled your feedback", question_en=RESOLUTION_QUESTIONS[0],
                                       question_de=RESOLUTION_QUESTIONS[1], follow_up_en="", follow_up_de="",
                                       cooldown_days=0)
    return survey


def _resolution_invite(*, case: FollowUpCase, now: datetime) -> None:
    survey = _resolution_survey(case.program_id)
    insert_or_nothing(Invitation, {
        "id": uuid.uuid4(), "program": case.program_id, "survey": survey.pk, "member": case.member_id,
        "channel": Channel.EMAIL, "trigger": Trigger.CASE_RESOLUTION, "trigger_key": f"case:{case.pk}",
        "status": Invitation.Status.PENDING, "skip_reason": "", "created_at": now, "due_at": now,
    }, unique=("survey", "member", "trigger_key"))


def _case_reopen_if_unhappy(*, response: Response) -> None:
    """An unhappy answer (CSAT 1–2) about a resolved case reopens it."""
    invitation = response.invitation
    if invitation is None or invitation.trigger != Trigger.CASE_RESOLUTION or response.score > 2:
        return
    case_id = invitation.trigger_key.removeprefix("case:")
    case = FollowUpCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None or case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        return
    before = case.status
    case.status, case.closed_at = CaseStatus.IN_PROGRESS, None
    case.save(update_fields=["status", "closed_at"])
    FollowUpCaseChange.objects.create(case=case, actor=None, actor_name="the member's answer", from_status=before,
                                      to_status=case.status, assignee_name=_user_name(case.assignee),
                                      note=f"Reopened: the member rated the resolution {response.score} of 5.")


@transaction.atomic
def member_survey_data_forget(*, member: Member) -> int:
    """Keep nothing an anonymised member wrote: their answers' comments and text answers are wiped (the scores
    stay, and count, as an anonymous answer's would), and invitations not sent yet are dropped. Answers how many
    answers were wiped."""
    Invitation.objects.filter(member=member, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.SKIPPED, skip_reason="member anonymised")
    return Response.objects.filter(member=member).update(comment="", answers={})


# --- topics ----------------------------------------------------------------------------------------

MAX_TOPIC = 60
MAX_TOPICS_PER_ANSWER = 10


@transaction.atomic
def response_topics_set(*, response: Response, names) -> list[Topic]:
    """Tag an answer with topics by name (a person confirms them): names are trimmed and compared without regard
    to case, new ones become the program's topics; an empty list removes every tag. Answers the topics set."""
    cleaned: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split())
        if not name:
            continue
        if len(name) > MAX_TOPIC or "\x00" in name:
            raise DomainError.invalid("topics", f"A topic has at most {MAX_TOPIC} characters.")
        cleaned.setdefault(name.lower(), name)
    if len(cleaned) > MAX_TOPICS_PER_ANSWER:
        raise DomainError.invalid("topics", f"At most {MAX_TOPICS_PER_ANSWER} topics per answer.")
    existing = {topic.name.lower(): topic for topic in Topic.objects.filter(program_id=response.program_id)}
    topics = []
    for key, name in cleaned.items():
        topic = existing.get(key)
        if topic is None:
            topic, _ = Topic.objects.get_or_create(program_id=response.program_id, name=name)
        topics.append(topic)
    response.topics.set(topics)
    return topics


# --- invitations: links -------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.Signer(salt=LINK_SALT).sign_object({"i": str(invitation.pk)})


def invitation_url(invitation: Invitation) -> str:
    path = reverse("surveys:answer", kwargs={"token": invitation_token(invitation)})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


class LinkState:
    OPEN = "open"
    UNKNOWN = "unknown"  # forged, altered, or naming no invitation
    EXPIRED = "expired"
    ANSWERED = "answered"
    CLOSED = "closed"  # the survey takes no answers any more


def invitation_for_token(*, token: str, for_update: bool = False) -> tuple[Invitation | None, str]:
    """The invitation a link names and whether it may be answered now."""
    try:
        data = signing.Signer(salt=LINK_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None, LinkState.UNKNOWN
    try:
        invitation_id = uuid.UUID(data.get("i"))
    except (AttributeError, TypeError, ValueError):  # not a dict, no id, not a UUID: signed, yet not ours
        return None, LinkState.UNKNOWN
    rows = Invitation.objects.select_related("survey", "survey__program", "member")
    if for_update:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(pk=invitation_id).first()
    if invitation is None or invitation.sent_at is None or member_is_anonymised(invitation.member):
        return None, LinkState.UNKNOWN
    if invitation.answered_at is not None:
        return invitation, LinkState.ANSWERED
    now = timezone.now()
    if invitation.expires_at is not None and invitation.expires_at <= now:
        return invitation, LinkState.EXPIRED
    if not invitation.survey.is_open(now):
        return invitation, LinkState.CLOSED
    return invitation, LinkState.OPEN


@transaction.atomic
def invitation_answer(*, token: str, score, comment: str = "", answers: dict | None = None) -> Recorded:
    """Answer the invitation a link names, once. The invitation row is locked first, so a double submit
    stores one answer and the second is refused as ``survey_answered``; a forged link is
    ``survey_not_found``, an expired one ``survey_expired``."""
    invitation, state = invitation_for_token(token=token, for_update=True)
    if state == LinkState.UNKNOWN:
        raise DomainError("survey_not_found", "This survey link is not valid.", status=404, title="Survey not found")
    if state == LinkState.ANSWERED:
        raise DomainError("survey_answered", "This survey was answered already.", status=410,
                          title="Survey answered")
    if state in (LinkState.EXPIRED, LinkState.CLOSED):
        raise DomainError("survey_expired", "This survey link has expired.", status=410, title="Survey expired")
    now = timezone.now()
    recorded = response_record(survey=invitation.survey, score=score, channel=invitation.channel,
                               actor=f"invitation:{invitation.pk}", member=invitation.member, comment=comment,
                               answers=answers, answered_at=now, invitation=invitation)
    Invitation.objects.filter(pk=invitation.pk).update(answered_at=now, status=Invitation.Status.ANSWERED)
    return recorded


# --- invitations: distribution ------------------------------------------------------------------


def _triggered_surveys(program_id) -> tuple[Survey, ...]:
    return tuple(Survey.objects.filter(program_id=program_id, active=True).filter(
        Q(on_purchase=True) | Q(on_redemption=True) | Q(on_tier_change=True)).order_by("code"))


# A program's event-triggered surveys as of at most PROGRAM_CONFIG_CACHE_SECONDS ago (``loyalty.config_cache``):
# every purchase asks, so it is not a query each time. The survey objects are shared: nothing may change them.
TRIGGERED = ProgramMemo("surveys-triggered", _triggered_surveys, models=(Survey,))

TRIGGER_FIELD = {Trigger.PURCHASE: "on_purchase", Trigger.REDEMPTION: "on_redemption",
                 Trigger.TIER_CHANGE: "on_tier_change"}


def sampled(*, rate: Decimal, member_id, occasion: str) -> bool:
    """Whether an occasion of a member falls in a sample of ``rate`` (0–1): a fixed function of the member
    and the occasion (the event's id), so a replayed event decides alike and tests know the answer."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{member_id}:{occasion}".encode()).digest()
    return Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64) < rate


def invitation_refusal(*, survey: Survey, member: Member, now: datetime, sending: Invitation | None = None
                       ) -> str | None:
    """Why ``member`` may not be invited to ``survey`` now (None: they may): consent, an address, the
    cool-down over every survey of the program, a follow-up case of theirs still open or recent.

    When queueing (``sending`` None), an invitation still waiting to be sent counts as a recent one; when
    ``sending`` one, only those sent count (of two queued at once, the first due goes out, the second not)."""
    if not member.marketing_opt_in:
        return "no marketing consent"
    if not member.email or member_is_anonymised(member):
        return "no email address"
    since = now - timedelta(days=survey.cooldown_days)
    recent = Invitation.objects.filter(program_id=survey.program_id, member_id=member.pk)
    if sending is None:
        recent = recent.filter(Q(status=Invitation.Status.PENDING) | Q(sent_at__gte=since))
    else:
        recent = recent.filter(sent_at__gte=since).exclude(pk=sending.pk)
    if recent.exists():
        return "invited lately"
    if FollowUpCase.objects.filter(program_id=survey.program_id, member_id=member.pk).filter(
            Q(status__in=[FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS]) | Q(created_at__gte=since)
    ).exists():
        return "a follow-up case of the member is open or recent"
    return None


def invitations_for_occasion(*, program_id, member: Member, trigger: str, occasion: str,
                             now: datetime | None = None) -> list[Invitation]:
    """Queue the invitations an occasion calls for, in the caller's transaction (an event's listener): one
    per survey of the program triggered by it, sampled, open, and allowed (``invitation_refusal``). The
    first survey (by code) that invites wins: the others then see the cool-down."""
    field = TRIGGER_FIELD[trigger]
    surveys = [s for s in TRIGGERED.get(program_id) if getattr(s, field)]
    if not surveys or not member.marketing_opt_in:
        return []
    now = now or timezone.now()
    queued = []
    for survey in surveys:
        if not survey.is_open(now) or not sampled(rate=survey.sampling_rate, member_id=member.pk, occasion=occasion):
            continue
        if invitation_refusal(survey=survey, member=member, now=now):
            continue
        values = {"id": uuid.uuid4(), "program": survey.program_id, "survey": survey.pk, "member": member.pk,
                  "channel": Channel.EMAIL, "trigger": trigger, "trigger_key": occasion,
                  "status": Invitation.Status.PENDING, "skip_reason": "", "created_at": now,
                  "due_at": now + timedelta(minutes=survey.delay_minutes)}
        pk = insert_or_nothing(Invitation, values, unique=("survey", "member", "trigger_key"))
        if pk is not None:
            queued.append(pk)
    return queued


CAMPAIGN_BATCH = 1000


@transaction.atomic
def _campaign_segment(*, survey: Survey, members, key: str, now: datetime):
    """The segment (the members of ``survey``'s program among ``members``) and who of it may be invited now:
    consent and an address, active, not invited to any of the program's surveys within the survey's cool-down nor
    waiting for an invitation nor already in campaign ``key``, no open or recent follow-up case."""
    since = now - timedelta(days=survey.cooldown_days)
    segment = members.filter(program_id=survey.program_id)
    invited = Invitation.objects.filter(program_id=survey.program_id, member_id=OuterRef("pk")).filter(
        Q(status=Invitation.Status.PENDING) | Q(sent_at__gte=since) | Q(survey=survey, trigger_key=f"campaign:{key}"))
    cased = FollowUpCase.objects.filter(program_id=survey.program_id, member_id=OuterRef("pk")).filter(
        Q(status__in=[FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS]) | Q(created_at__gte=since))
    eligible = (segment.filter(marketing_opt_in=True, status=Member.Status.ACTIVE).exclude(email="")
                .exclude(email__endswith=f"@{ANONYMISED_EMAIL_DOMAIN}")
                .filter(~Exists(invited), ~Exists(cased)))
    return segment, eligible


def survey_campaign_preview(*, survey: Survey, members, key: str = "", now: datetime | None = None) -> dict:
    """What ``survey_campaign_send`` would do now, sending nothing: how many members the segment has and how many
    of them it would invite (the others lack consent or an address, are not active, are within the cool-down or
    have a follow-up case). Two counting queries."""
    now = now or timezone.now()
    segment, eligible = _campaign_segment(survey=survey, members=members, key=key, now=now)
    matching = segment.count()
    invitable = eligible.count() if matching else 0
    return {"matching": matching, "invitable": invitable, "left_out": matching - invitable}


def survey_campaign_send(*, survey: Survey, members, key: str, now: datetime | None = None) -> dict:
    """Invite the members of a segment (a ``Member`` queryset of the survey's program, e.g.
    ``selectors.campaign_members``) to ``survey``, sent by the periodic job from now on.

    Set-based: one query finds who may be invited (``_campaign_segment``: consent and an address, active, not
    invited to any of the program's surveys within the survey's cool-down nor waiting for an invitation, no open
    or recent follow-up case), then inserts in batches. ``key`` names the campaign (a form's one-time id): sending
    the same campaign again invites nobody twice. Answers how many were queued and how many of the segment were
    left out.
    """
    if not survey.is_open():
        raise DomainError("survey_not_found", "This survey takes no answers now.", title="Survey closed")
    now = now or timezone.now()
    segment, eligible = _campaign_segment(survey=survey, members=members, key=key, now=now)
    queued = 0
    member_ids = list(eligible.values_list("pk", flat=True))
    for start in range(0, len(member_ids), CAMPAIGN_BATCH):
        rows = [Invitation(program_id=survey.program_id, survey=survey, member_id=member_id, channel=Channel.EMAIL,
                           trigger=Trigger.MANUAL, trigger_key=f"campaign:{key}", created_at=now, due_at=now)
                for member_id in member_ids[start:start + CAMPAIGN_BATCH]]
        queued += len(Invitation.objects.bulk_create(rows, ignore_conflicts=True))
    return {"queued": queued, "left_out": segment.count() - queued}


@transaction.atomic
def _invitation_send(*, invitation_id, now: datetime) -> str | None:
    """Send one due invitation, or skip it: its new status, None when someone else has it."""
    invitation = (Invitation.objects.select_for_update(skip_locked=True, of=("self",))
                  .select_related("survey", "survey__program")
                  .filter(pk=invitation_id, status=Invitation.Status.PENDING, due_at__lte=now).first())
    if invitation is None:
        return None
    # The member's row, locked: two invitations of one member sent at once see each other (the cool-down).
    member = Member.objects.select_for_update(no_key=True).select_related("program").get(pk=invitation.member_id)
    survey = invitation.survey
    if not survey.is_open(now):
        reason = "survey closed"
    elif member.is_suspended:
        reason = "member suspended"
    elif invitation.trigger == Trigger.CASE_RESOLUTION:  # asked because of the case: no cool-down applies
        reason = None if member.marketing_opt_in else "no marketing consent"
    else:
        reason = invitation_refusal(survey=survey, member=member, now=now, sending=invitation)
    if reason is None:
        invitation.sent_at, invitation.expires_at = now, now + timedelta(days=survey.invitation_days)
        invitation.status = Invitation.Status.SENT
        sent = survey_invitation_send(member=member, survey_name=survey.name, survey_url=invitation_url(invitation),
                                      invitation_key=str(invitation.pk))
        if not sent:
            reason = "the program sends no emails"
    if reason is not None:
        invitation.status, invitation.skip_reason = Invitation.Status.SKIPPED, reason
        invitation.sent_at = invitation.expires_at = None
    invitation.save(update_fields=["status", "skip_reason", "sent_at", "expires_at"])
    return invitation.status


def invitations_send_due(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Send (or skip, saying why) the pending invitations that are due, oldest first; safe to run twice at
    once (each invitation is taken under a row lock that the other run skips). Answers counts by outcome."""
    now = now or timezone.now()
    due = list(Invitation.objects.filter(status=Invitation.Status.PENDING, due_at__lte=now)
               .order_by("due_at").values_list("pk", flat=True)[:limit])
    outcome = {"sent": 0, "skipped": 0}
    for invitation_id in due:
        status = _invitation_send(invitation_id=invitation_id, now=now)
        if status is not None:
            outcome[status] += 1
    return outcome
