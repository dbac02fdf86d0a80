"""What the home page checks for a program, each shown only to those who may act on it or read the page it
links to: the ledger's latest verification, webhook deliveries, the email outbox, waiting approvals,
overdue survey follow-up cases and the analytics rollups' agreement with the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

from analytics.selectors import rollup_latest
from ledger.selectors import verification_latest
from members.models import Member
from notifications.selectors import outbox_stuck
from surveys.selectors import cases_overdue
from webhooks.selectors import endpoints_health

from ..access import StaffContext
from ..adjustments.selectors import adjustments_waiting_summary

# Who sees each check: the action of the page it leads to, or of the work it asks for.
CHECK_ACTIONS = {
    # drift makes balances and the liability report wrong: those who read reports must know, managers act
    "ledger": "report.view",
    # the webhook settings page, which analysts read and managers change
    "webhooks": "settings.view",
    # the program's email settings are managers'; the mail server itself is the operator's
    "outbox": "settings.change",
    "approvals": "adjustment.approve",
    # the daily rollups the analytics read: wrong rollups make every analytics figure wrong
    "rollups": "report.view",
    # survey follow-up cases past their due date escalate to managers
    "cases": "case.escalations",
}
OUTBOX_STUCK_AFTER = timedelta(minutes=15)  # past the first retries (1 and 5 minutes after the first try)
VERIFICATION_DUE_WITHIN = timedelta(hours=48)  # nightly; one missed night is not yet worth a word
DRIFT_MEMBERS_SHOWN = 5
WEBHOOK_SETTINGS_URL = "/staff/settings/webhooks/"
APPROVALS_URL = "/staff/approvals/"
OVERDUE_CASES_URL = "/staff/surveys/cases/?status=overdue"


@dataclass
class Check:
    key: str
    title: str
    state: str  # "ok", "warning" or "danger"; "unknown" when there is nothing to go on yet
    data: dict = field(default_factory=dict)  # what its template lines say
    link: str = ""
    link_text: str = ""

    @property
    def alert(self) -> bool:
        return self.state in ("warning", "danger")


def _ledger(staff: StaffContext, now: datetime) -> Check:
    run = verification_latest()
    check = Check("ledger", "Ledger verification", "unknown", {"run": run})
    if run is None:
        return check
    drift = run.programs.get(str(staff.program.pk))
    if drift:
        check.title, check.state = "Ledger drift", "danger"
        member_ids = list(dict.fromkeys(item["member"] for item in run.drift
                                        if item["program"] == str(staff.program.pk) and item["member"]))
        shown = member_ids[:DRIFT_MEMBERS_SHOWN] if staff.may("member.view") else []
        members = {str(member.pk): member for member in Member.objects.filter(pk__in=shown)} if shown else {}
        check.data.update(accounts=drift["accounts"], lots=drift["lots"],
                          members=[members[pk] for pk in shown if pk in members])
        if staff.user.is_superuser:
            check.link = reverse("admin:ledger_verificationrun_change", args=[run.pk])
            check.link_text = "Open the verification run"
    elif now - run.finished_at > VERIFICATION_DUE_WITHIN:
        check.title, check.state = "Ledger not verified lately", "warning"
    else:
        check.state = "ok"
    return check


def _rollups(staff: StaffContext, now: datetime) -> Check:
    run = rollup_latest(program=staff.program)
    check = Check("rollups", "Analytics rollups", "unknown", {"run": run})
    if run is None:
        return check
    if run.drift:
        check.title, check.state = "Analytics rollups disagree with the ledger", "danger"
        check.data["kinds"] = sorted(run.drift)
    elif now - run.finished_at > VERIFICATION_DUE_WITHIN:
        check.title, check.state = "Analytics not rolled up lately", "warning"
    else:
        check.state = "ok"
    return check


def _webhooks(staff: StaffContext) -> Check:
    endpoints = endpoints_health(program=staff.program)
    troubled = [endpoint for endpoint in endpoints if endpoint.failing or endpoint.failed]
    check = Check("webhooks", "Webhooks", "ok", {"endpoints": endpoints, "troubled": troubled},
                  link=WEBHOOK_SETTINGS_URL, link_text="Open webhook settings")
    if any(endpoint.failing for endpoint in troubled):
        check.title, check.state = "Webhooks failing", "danger"
    elif troubled:
        check.title, check.state = "Webhook deliveries failed", "warning"
    check.data.update(failed=sum(e.failed for e in troubled), retrying=sum(e.retrying for e in troubled))
    return check


def _outbox(staff: StaffContext, now: datetime) -> Check:
    stuck = outbox_stuck(program=staff.program, queued_before=now - OUTBOX_STUCK_AFTER)
    minutes = OUTBOX_STUCK_AFTER // timedelta(minutes=1)
    check = Check("outbox", "Email outbox", "ok", {"stuck": stuck, "minutes": minutes})
    if stuck.count:
        check.title, check.state = "Emails stuck in the outbox", "warning"
        if staff.user.is_staff and staff.user.has_perm("notifications.view_outbox"):  # the admin's own test
            check.link = (reverse("admin:notifications_outbox_changelist")
                          + f"?status__exact=pending&program__id__exact={staff.program.pk}")
            check.link_text = "See them in the admin"
    return check


def _approvals(staff: StaffContext) -> Check:
    waiting = adjustments_waiting_summary(program=staff.program)
    check = Check("approvals", "Approvals", "ok", waiting, link=APPROVALS_URL, link_text="Review approvals")
    if waiting["count"]:
        check.title, check.state = "Adjustments waiting for approval", "warning"
    return check


def _cases(staff: StaffContext, now: datetime) -> Check:
    overdue = cases_overdue(program=staff.program, now=now).order_by().aggregate(count=Count("pk"),
                                                                                  oldest=Min("due_at"))
    check = Check("cases", "Survey follow-up cases", "ok", {"overdue": overdue["count"], "oldest": overdue["oldest"]},
                  link=OVERDUE_CASES_URL, link_text="Open the overdue cases")
    if overdue["count"]:
        check.title, check.state = "Survey cases overdue", "warning"
    return check


def home_checks(*, staff: StaffContext, now: datetime | None = None) -> list[Check]:
    """The checks this person may see for the page's program, problems first (the worst first), each at most
    two statements; none is read for someone who may not see it."""
    now = now or timezone.now()
    makers = {
        "ledger": lambda: _ledger(staff, now),
        "rollups": lambda: _rollups(staff, now),
        "webhooks": lambda: _webhooks(staff),
        "outbox": lambda: _outbox(staff, now),
        "approvals": lambda: _approvals(staff),
        "cases": lambda: _cases(staff, now),
    }
    checks = [make() for key, make in makers.items() if staff.may(CHECK_ACTIONS[key])]
    order = {"danger": 0, "warning": 1, "unknown": 2, "ok": 2}
    return sorted(checks, key=lambda check: order[check.state])
