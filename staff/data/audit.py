"""The audit log at /staff/audit/: every staff action of the program, newest first, searchable and exportable.

Superusers also see the actions that belong to no program (changes to staff accounts in the Django admin,
say), marked as such.
"""

from __future__ import annotations

import json
from datetime import datetime

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ..access import staff_view
from ..models import AuditEvent
from .csvfiles import csv_response
from .reports import EARLIEST, LATEST, IsoDateField, day_bounds, program_zone, query_refusal

PAGE_SIZE = 50
MAX_QUERY = 200

# What each action reads as; an action not named here shows as it is recorded.
ACTION_LABELS = {
    "points.adjust": "Points adjusted",
    "adjustment.request": "Adjustment asked for approval",
    "adjustment.approve": "Adjustment approved",
    "adjustment.reject": "Adjustment rejected",
    "adjustment.bulk": "Bulk adjustments posted",
    "member.tier_assign": "Tier set by hand",
    "member.suspend": "Member suspended",
    "member.reactivate": "Member reactivated",
    "member.anonymise": "Member anonymised",
    "redemption.cancel": "Voucher cancelled",
    "voucher.resend": "Voucher email sent again",
    "program.update": "Program settings changed",
    "staff_policy.update": "Staff policy changed",
    "store.create": "Store created",
    "store.update": "Store changed",
    "store.deactivate": "Store deactivated",
    "store.reactivate": "Store reactivated",
    "api_key.create": "POS key created",
    "api_key.revoke": "POS key revoked",
    "tier.create": "Tier created",
    "tier.update": "Tier changed",
    "tier_policy.update": "Tier policy changed",
    "reward.create": "Reward created",
    "reward.update": "Reward changed",
    "two_factor.enable": "Two-factor sign-in set up",
    "two_factor.disable": "Two-factor sign-in removed",
    "two_factor.reset": "Two-factor sign-in reset",
    "import.start": "Import started",
    "import.done": "Import finished",
    "admin.add": "Record added in the admin",
    "admin.change": "Record changed in the admin",
    "admin.delete": "Record deleted in the admin",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


class AuditFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=MAX_QUERY,
                        help_text="Words from the member, record, reason or change.")
    actor = forms.ChoiceField(label="Who", required=False)
    action = forms.ChoiceField(label="Action", required=False)
    start = IsoDateField(label="From", required=False)
    end = IsoDateField(label="To", required=False)

    def __init__(self, *args, actors: list[str], actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *((name, name) for name in actors)]
        self.fields["action"].choices = [("", "Any action"),
                                          *sorted(((a, action_label(a)) for a in actions), key=lambda c: c[1])]

    def clean_q(self):
        return self.cleaned_data["q"].replace("\x00", "").strip()

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            if data.get(name) and not EARLIEST <= data[name] <= LATEST:
                self.add_error(name, f"Give a date from {EARLIEST:%Y} to {LATEST:%Y}.")
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The last date comes before the first.")
        return data


def audit_events(request):
    """The events this person may read on the page's program: the program's, and for a superuser those of no
    program."""
    scope = Q(program=request.staff.program)
    if request.user.is_superuser:
        scope |= Q(program__isnull=True)
    return AuditEvent.objects.filter(scope)


def audit_search(events, *, program, data: dict):
    if q := data.get("q"):
        events = events.annotate(before_text=Cast("before", TextField()), after_text=Cast("after", TextField())).filter(
            Q(target_label__icontains=q) | Q(reason__icontains=q) | Q(actor_name__icontains=q)
            | Q(action__icontains=q) | Q(target_id__iexact=q) | Q(before_text__icontains=q)
            | Q(after_text__icontains=q))
    if actor := data.get("actor"):
        events = events.filter(actor_name=actor)
    if action := data.get("action"):
        events = events.filter(action=action)
    start, end = data.get("start"), data.get("end")
    if start or end:
        start_at, end_at = day_bounds(program, start or EARLIEST, end or LATEST)
        events = events.filter(created_at__gte=start_at, created_at__lt=end_at)
    return events.order_by("-created_at", "-id")


def _form(request, events) -> AuditFilterForm:
    actors = sorted(set(events.order_by().values_list("actor_name", flat=True).distinct()), key=str.lower)
    actions = list(events.order_by().values_list("action", flat=True).distinct())
    return AuditFilterForm(request.GET or None, actors=actors, actions=actions)


def changes(event: AuditEvent) -> list[dict]:
    """The fields an event names, each with its value before and after (either may be missing)."""
    before, after = event.before or {}, event.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [{"field": "", "before": before or None, "after": after or None, "had": bool(before),
                 "has": bool(after)}]
    names = list(before) + [name for name in after if name not in before]
    return [{"field": name.replace("_", " "), "before": before.get(name), "after": after.get(name),
             "had": name in before, "has": name in after} for name in names]


def _local(moment: datetime, zone) -> datetime:
    return moment.astimezone(zone)


@require_safe
@staff_view("audit.view")
def audit_log(request):
    program = request.staff.program
    events = audit_events(request)
    form = _form(request, events)
    if not form.is_bound:
        found = events.order_by("-created_at", "-id")
    else:
        found = audit_search(events, program=program, data=form.cleaned_data) if form.is_valid() else events.none()
    page = Paginator(found.select_related("program"), PAGE_SIZE).get_page(request.GET.get("page"))
    zone = program_zone(program)
    rows = [{"event": event, "label": action_label(event.action), "changes": changes(event),
             "at": _local(event.created_at, zone)} for event in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "staff/data/audit.html", {
        "form": form, "page": page, "rows": rows, "query": query.urlencode(), "zone": program.time_zone or "UTC",
        "may_export": request.staff.may("export.download"), "filtered": form.is_bound and form.is_valid(),
    }, status=400 if form.errors else 200)


@require_safe
@staff_view("audit.view")
def audit_csv(request):
    """The events the page's filters find, newest first like the page, as CSV."""
    request.staff.require("export.download")
    program = request.staff.program
    events = audit_events(request)
    form = _form(request, events)
    if form.is_bound and not form.is_valid():
        return query_refusal(form)
    found = audit_search(events, program=program, data=form.cleaned_data if form.is_bound else {})
    zone = program_zone(program)
    rows = ([_local(e.created_at, zone), e.actor_name, e.action, action_label(e.action), e.target_type, e.target_id,
             e.target_label, _json(e.before), _json(e.after), e.reason, e.program.slug if e.program else ""]
            for e in found.select_related("program").iterator(chunk_size=2000))
    return csv_response(f"audit-{program.slug}.csv", ["at", "who", "action", "what", "target_type", "target_id",
                                                       "target", "before", "after", "why", "program"], rows)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
