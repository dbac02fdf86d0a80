"""The member's surveys: the invitations they can still answer, each opening the survey's own page (the same
signed link as the email's, so answering here or from the email is one answer)."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from surveys.selectors import member_invitations_open
from surveys.services import invitation_token

from .access import portal_view


def open_surveys(request) -> list[dict]:
    """What the card page and the surveys page list: each waiting survey's question and where to answer it."""
    member, language = request.member, request.LANGUAGE_CODE
    return [{"question": invitation.survey.question(language, request.program.name),
             "expires_at": invitation.expires_at,
             "url": reverse("surveys:answer", kwargs={"token": invitation_token(invitation)})}
            for invitation in member_invitations_open(member=member)]


@require_safe
@portal_view()
def surveys(request):
    return render(request, "portal/surveys.html", {"surveys": open_surveys(request)})
