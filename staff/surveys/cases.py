"""The follow-up cases of unhappy answers: the queue (overdue first) and one case, worked through
``surveys.services.case_update``; goodwill points go through the staff adjustments (``services``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from loyalty.errors import DomainError
from surveys.breakdowns import case_queue
from surveys.models import FollowUpCase
from surveys.selectors import topic_suggestions

from ..access import staff_object, staff_view
from ..adjustments.services import member_label, staff_policy_for
from ..data.reports import program_zone
from ..models import Adjustment, Role, StaffRole
from .forms import CaseFilterForm, CaseForm, GoodwillForm, TopicsForm
from .services import answer_topics_record, case_goodwill_give, case_work_record

PAGE_SIZE = 100
TOPIC_SUGGESTION_DAYS = 90


def case_url(case) -> str:
    return f"/staff/surveys/cases/{case.pk}/"


def case_workers(program, *also):
    """The people a case can be assigned to: the program's managers and agents (and whoever is named in
    ``also``, such as a superuser who assigned it to themselves)."""
    ids = set(StaffRole.objects.filter(program=program, role__in=[Role.MANAGER, Role.AGENT])
              .values_list("user_id", flat=True))
    ids.update(user.pk for user in also if user is not None)
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("username"))


@require_safe
@staff_view("case.view")
def case_list(request):
    program = request.staff.program
    people = case_workers(program)
    form = CaseFilterForm(request.GET or None, people=people)
    statuses, assignee, unassigned = [FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS], None, False
    overdue_only = False
    status = 200
    if form.is_bound:
        if form.is_valid():
            chosen = form.cleaned_data["status"]
            overdue_only = chosen == "overdue"
            if chosen not in ("", "overdue"):
                statuses = [] if chosen == "all" else [chosen]
            who = form.cleaned_data["assignee"]
            unassigned = who == "none"
            assignee = next((user for user in people if str(user.pk) == who), None)
        else:
            status = 400
    cases = case_queue(program=program, statuses=statuses, assignee=assignee, unassigned=unassigned)
    if overdue_only:
        cases = cases.filter(overdue=True)
    shown = list(cases[:PAGE_SIZE + 1])
    with timezone.override(program_zone(program)):
        return render(request, "staff/surveys/cases.html", {
            "form": form, "cases": shown[:PAGE_SIZE], "more": len(shown) > PAGE_SIZE, "now": timezone.now(),
            "may_work": request.staff.may("case.work")}, status=status)


def _case(request, case_id, action: str) -> FollowUpCase:
    queryset = FollowUpCase.objects.select_related("program", "member", "assignee", "response__survey",
                                                   "response__store")
    return staff_object(request, queryset, action, pk=case_id)


def _case_page(request, case, *, form=None, goodwill=None, topics=None, status=200):
    people = case_workers(case.program, case.assignee, request.user)
    work = request.staff.may("case.work")
    if work and form is None:
        form = CaseForm(initial={"status": case.status, "assignee": str(case.assignee_id or ""),
                                 "root_cause": case.root_cause, "seen_changes": case.changes.count()},
                        people=people)
    give = work and request.staff.may("member.adjust")
    if give and goodwill is None:
        goodwill = GoodwillForm()
    response = case.response
    if work and topics is None:
        topics = TopicsForm(initial={"topics": ", ".join(topic.name for topic in response.topics.all())})
    now = timezone.now()
    suggestions = topic_suggestions(survey=response.survey, start_at=now - timedelta(days=TOPIC_SUGGESTION_DAYS),
                                    end_at=now) if work else []
    policy = staff_policy_for(program=case.program)
    adjustments = Adjustment.objects.filter(member=case.member, reason_code="goodwill",
                                            requested_at__gte=case.created_at).order_by("-requested_at")
    with timezone.override(program_zone(case.program)):
        return render(request, "staff/surveys/case.html", {
            "case": case, "response": case.response, "member_name": member_label(case.member),
            "may_open_member": request.staff.may("member.view"), "changes": case.changes.all(),
            "form": form if work else None, "goodwill": goodwill if give else None, "policy": policy,
            "topics": topics if work else None, "suggestions": suggestions,
            "agent": request.staff.role == Role.AGENT, "adjustments": adjustments, "now": timezone.now(),
            "overdue": case.status in (FollowUpCase.Status.OPEN, FollowUpCase.Status.IN_PROGRESS)
            and case.due_at < timezone.now()}, status=status)


@require_safe
@staff_view("case.view", record=True)
def case_page(request, case_id):
    return _case_page(request, _case(request, case_id, "case.view"))


CASE_FIELDS = {"status": "status", "root_cause": "root_cause", "note": "note"}


@require_POST
@staff_view("case.work", record=True)
def case_work(request, case_id):
    case = _case(request, case_id, "case.work")
    people = case_workers(case.program, case.assignee, request.user)
    form = CaseForm(request.POST, people=people)
    if form.is_valid():
        data = form.cleaned_data
        assignee = next((user for user in people if str(user.pk) == data["assignee"]), None)
        try:
            case = case_work_record(case=case, actor=request.user, status=data["status"], assignee=assignee,
                                    note=data["note"], root_cause=data["root_cause"], ask_member=data["ask_member"],
                                    seen_changes=data["seen_changes"])
        except DomainError as error:
            if error.code == "invalid_transition":
                form.add_error("status", error.detail)
            elif error.code == "case_changed":  # answered with the case as it is now, and a fresh form
                messages.warning(request, error.detail)
                case.refresh_from_db()
                return _case_page(request, case, status=409)
            else:
                for item in error.errors or [{"field": None, "message": error.detail}]:
                    name = CASE_FIELDS.get(item["field"])
                    form.add_error(name, item["message"])
        else:
            messages.success(request, f"Case saved: {case.get_status_display().lower()}.")
            return HttpResponseRedirect(case_url(case))
    case.refresh_from_db()
    return _case_page(request, case, form=form, status=400)


GOODWILL_FIELDS = {"points": "points", "note": "message", "token": "token"}


@require_POST
@staff_view("case.work", record=True)
def case_goodwill(request, case_id):
    case = _case(request, case_id, "case.work")
    request.staff.require("member.adjust")
    form = GoodwillForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            adjustment = case_goodwill_give(case=case, points=data["points"], message=data["message"],
                                            token=data["token"], actor=request.user, role=request.staff.role)
        except DomainError as error:
            for item in error.errors or [{"field": None, "message": error.detail}]:
                form.add_error(GOODWILL_FIELDS.get(item["field"]), item["message"])
        else:
            if adjustment.replayed:
                messages.info(request, "These goodwill points were given already; they were not given twice.")
            elif adjustment.status == Adjustment.Status.PENDING:
                messages.warning(request, f"{adjustment.points:+,} goodwill points wait for another manager's "
                                          "approval. Nothing moved yet.")
            else:
                messages.success(request, f"{adjustment.points:+,} goodwill points given.")
            return HttpResponseRedirect(case_url(case))
    return _case_page(request, case, goodwill=form, status=400)


@require_POST
@staff_view("case.work", record=True)
def case_topics(request, case_id):
    """Tag the case's answer with topics (a person confirms what the frequent phrases suggest)."""
    case = _case(request, case_id, "case.work")
    form = TopicsForm(request.POST)
    if form.is_valid():
        try:
            answer_topics_record(response=case.response, names=form.names(), actor=request.user)
        except DomainError as error:
            form.add_error("topics", error.errors[0]["message"] if error.errors else error.detail)
        else:
            messages.success(request, "Topics saved.")
            return HttpResponseRedirect(case_url(case))
    return _case_page(request, case, topics=form, status=400)
