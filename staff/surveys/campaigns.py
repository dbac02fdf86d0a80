"""Send a survey to a segment as a campaign: the segment's form, a preview of how many members match and how many
of them may be invited now (consent, cool-down, open cases), then the invitations, sent once per form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from analytics.health import health_segment_ids
from loyalty.errors import DomainError
from surveys.models import Survey
from surveys.selectors import campaign_members
from surveys.services import survey_campaign_preview

from ..access import staff_object, staff_view
from .forms import CampaignForm
from .services import campaign_send_record


def campaign_url(survey: Survey) -> str:
    return f"/staff/surveys/{survey.pk}/campaign/"


def _page(request, survey, form, *, preview=None, status=200):
    return render(request, "staff/surveys/campaign.html", {
        "survey": survey, "form": form, "preview": preview, "is_open": survey.is_open(),
        "zone": survey.program.time_zone or "UTC"}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("survey.change", record=True)
def survey_campaign(request, survey_id):
    survey = staff_object(request, Survey.objects.select_related("program"), "survey.change", pk=survey_id)
    program = survey.program
    if request.method != "POST":
        return _page(request, survey, CampaignForm(program=program))
    form = CampaignForm(request.POST, program=program)
    if not form.is_valid():
        return _page(request, survey, form, status=400)
    members = campaign_members(program=program, **form.criteria(program))
    if health := form.health():
        # surveys knows nothing of health scores: the staff layer narrows its segment to analytics' members
        members = members.filter(pk__in=health_segment_ids(program=program, **health))
    if request.POST.get("action") != "send":
        preview = survey_campaign_preview(survey=survey, members=members, key=form.cleaned_data["token"])
        return _page(request, survey, form, preview=preview)
    try:
        outcome = campaign_send_record(survey=survey, members=members, key=form.cleaned_data["token"],
                                       segment=form.segment(), actor=request.user)
    except DomainError as error:
        form.add_error(None, error.detail)
        return _page(request, survey, form, status=400)
    if outcome["replayed"]:
        messages.info(request, f"These invitations were already sent ({outcome['queued']:,} queued); "
                               "nothing was sent again.")
    else:
        queued = outcome["queued"]
        messages.success(request, f"Invitations sent to {queued:,} member{'' if queued == 1 else 's'}; "
                                  f"{outcome['left_out']:,} "
                                  "of the segment skipped (no consent or address, not active, within the "
                                  "cool-down or with a follow-up case).")
    return HttpResponseRedirect(campaign_url(survey))
