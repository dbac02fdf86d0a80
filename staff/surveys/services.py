"""Staff work on a follow-up case, each in one transaction with its audit row: a change of status, assignee,
root cause or notes (``surveys.services.case_update``), the topics of its answer, and goodwill points, which are
a staff adjustment (so the program's approval threshold and the agents' limit apply) noted on the case; and a
survey sent to a segment as a campaign."""

from __future__ import annotations

from django.db import transaction

from surveys.models import FollowUpCase, Response, Survey, Topic
from surveys.services import case_update, response_topics_set, survey_campaign_send

from ..adjustments.services import adjustment_key_for_form, adjustment_request, member_label
from ..models import Adjustment, AuditEvent, ReasonCode
from ..services import audit_record


def _case_state(case: FollowUpCase) -> dict:
    return {"status": case.status, "assignee": case.assignee.get_username() if case.assignee else "",
            "root_cause": case.root_cause}


@transaction.atomic
def case_work_record(*, case: FollowUpCase, actor, seen_changes: int | None, note: str = "", **changes
                     ) -> FollowUpCase:
    """Work a case as a person on the dashboard: ``case_update`` with what they saw (``seen_changes``), and
    an audit row saying what changed and why (the note)."""
    before = _case_state(case)
    updated = case_update(case=case, actor=actor, note=note, seen_changes=seen_changes, **changes)
    after = _case_state(updated)
    if after != before or (note or "").strip():
        audit_record(actor=actor, program=updated.program, action="case.update", target=updated,
                     target_label=f"Case of {member_label(updated.member)}", before=before, after=after,
                     reason=(note or "").strip())
    return updated


@transaction.atomic
def case_goodwill_give(*, case: FollowUpCase, points: int, message: str, token: str, actor,
                       role: str | None) -> Adjustment:
    """Ask for ``points`` of goodwill for the case's member. Up to the threshold they post at once; more
    waits for another manager. A second submission of the same form (``token``) answers the first adjustment
    and adds no second note."""
    adjustment = adjustment_request(member=case.member, points=points, reason_code=ReasonCode.GOODWILL,
                                    note=message, actor=actor, role=role,
                                    idempotency_key=adjustment_key_for_form(token))
    if not adjustment.replayed:
        state = ("waiting for a second manager's approval" if adjustment.status == Adjustment.Status.PENDING
                 else "posted")
        case_update(case=case, actor=actor, note=f"Goodwill: {points:+,} points, {state}. “{message.strip()}”")
    return adjustment


@transaction.atomic
def answer_topics_record(*, response: Response, names: list[str], actor) -> list[Topic]:
    """Tag an answer with topics as a person on the dashboard (``response_topics_set``), with its audit row."""
    before = sorted(topic.name for topic in response.topics.all())
    topics = response_topics_set(response=response, names=names)
    audit_record(actor=actor, action="survey.topics", program=response.program, target=response,
                 target_label=f"Answer {response.survey.code} {response.score}", before={"topics": before},
                 after={"topics": sorted(topic.name for topic in topics)})
    return topics


@transaction.atomic
def campaign_send_record(*, survey: Survey, members, key: str, segment: dict, actor) -> dict:
    """Send ``survey`` to a segment as a person on the dashboard (``survey_campaign_send``), with its audit row.

    ``key`` is the form's one-time token: the survey's row is locked while sending, so a second submission of
    the same form (even at the same moment) waits, finds the campaign already sent, and sends nothing and
    records nothing; it answers the first one's counts, with ``replayed``."""
    Survey.objects.select_for_update(no_key=True).filter(pk=survey.pk).first()
    earlier = (AuditEvent.objects.filter(action="survey.campaign", target_type="survey", target_id=str(survey.pk),
                                         after__key=key).values_list("after", flat=True).first())
    if earlier is not None:
        return {"queued": earlier["queued"], "left_out": earlier["left_out"], "replayed": True}
    outcome = survey_campaign_send(survey=survey, members=members, key=key)
    audit_record(actor=actor, program=survey.program, action="survey.campaign", target=survey,
                 target_label=f"Survey {survey.code}", after={"key": key, **segment, **outcome})
    return {**outcome, "replayed": False}
