"""The survey page an invitation email links to: ``/s/<token>/``, public, no sign-in.

The signed token names the invitation (``services.invitation_for_token``). ``GET`` shows the questions in the
member's language (their choice, else the browser's); ``POST`` stores the answer once. A forged link answers
404, an expired or already answered one 410, each with a page that says so; none of them stores anything.
"""

from __future__ import annotations

from django import forms
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from loyalty.errors import DomainError

from .models import Kind, Survey
from .services import MAX_COMMENT, LinkState, invitation_answer, invitation_for_token

# The words at the ends (and middle) of each scale, shown beside the numbers.
SCALE_LABELS = {
    Kind.NPS: {0: _("Not at all likely"), 10: _("Extremely likely")},
    Kind.CSAT: {1: _("Very dissatisfied"), 2: _("Dissatisfied"), 3: _("Neutral"), 4: _("Satisfied"),
                5: _("Very satisfied")},
    Kind.CES: {1: _("Strongly disagree"), 4: _("Neither agree nor disagree"), 7: _("Strongly agree")},
}


def score_choices(survey: Survey) -> list[tuple[str, str]]:
    low, high = survey.scale
    labels = SCALE_LABELS[survey.kind]
    return [(str(score), f"{score} {labels[score]}" if score in labels else str(score))
            for score in range(low, high + 1)]


class AnswerForm(forms.Form):
    def __init__(self, *args, survey: Survey, language: str, program_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.survey = survey
        self.fields["score"] = forms.TypedChoiceField(
            label=survey.question(language, program_name), choices=score_choices(survey), coerce=int,
            widget=forms.RadioSelect, error_messages={"required": gettext("Choose a score.")})
        follow_up = survey.follow_up(language)
        if follow_up:
            self.fields["comment"] = forms.CharField(label=follow_up, required=False, max_length=MAX_COMMENT,
                                                     widget=forms.Textarea(attrs={"rows": 4}))
        for question in survey.extra_questions:
            text = question["text_de"] if language == "de" else question["text_en"]
            name = f"q_{question['id']}"
            if question["type"] == "choice":
                options = question["choices_de"] if language == "de" else question["choices_en"]
                self.fields[name] = forms.TypedChoiceField(
                    label=text, required=False, coerce=int, empty_value=None, widget=forms.RadioSelect,
                    choices=[(str(index), option) for index, option in enumerate(options)])
            else:
                self.fields[name] = forms.CharField(label=text, required=False, max_length=MAX_COMMENT,
                                                   widget=forms.Textarea(attrs={"rows": 3}))

    def answers(self) -> dict:
        data = self.cleaned_data
        return {question["id"]: data[f"q_{question['id']}"] for question in self.survey.extra_questions
                if data.get(f"q_{question['id']}") not in (None, "")}


def _language(request, member) -> str:
    if member is not None and member.language in ("en", "de"):
        return member.language
    browser = translation.get_language_from_request(request)
    return "de" if browser and browser.startswith("de") else "en"


REFUSED_STATUS = {LinkState.UNKNOWN: 404, LinkState.EXPIRED: 410, LinkState.CLOSED: 410, LinkState.ANSWERED: 410}


def _refused(request, state: str, invitation, language: str):
    context = {"state": state, "language": language,
               "program": invitation.survey.program if invitation is not None else None}
    return render(request, "surveys/link_refused.html", context, status=REFUSED_STATUS[state])


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request, token: str):
    invitation, state = invitation_for_token(token=token)
    language = _language(request, invitation.member if invitation is not None else None)
    with translation.override(language):
        if state != LinkState.OPEN:
            return _refused(request, state, invitation, language)
        survey, program = invitation.survey, invitation.survey.program
        form = AnswerForm(request.POST if request.method == "POST" else None, survey=survey, language=language,
                          program_name=program.name)
        if request.method == "POST" and form.is_valid():
            try:
                recorded = invitation_answer(token=token, score=form.cleaned_data["score"],
                                  comment=form.cleaned_data.get("comment", ""), answers=form.answers())
            except DomainError as error:
                if error.code == "survey_answered":
                    return _refused(request, LinkState.ANSWERED, invitation, language)
                if error.code == "survey_expired":
                    return _refused(request, LinkState.EXPIRED, invitation, language)
                if error.code != "invalid":
                    raise
                field = (error.errors or [{}])[0].get("field", "")
                form.add_error("score" if field == "score" else None, error.detail.partition(": ")[2])
            else:
                bonus = survey.bonus_points if recorded.response.incentivised else 0
                # A promoter is asked to bring a friend, with their referral code (the sign-up page takes it).
                promoter = recorded.response.category == "promoter"
                return render(request, "surveys/thanks.html", {
                    "program": program, "language": language, "bonus": bonus,
                    "referral_code": invitation.member.referral_code if promoter else ""})
        status = 400 if request.method == "POST" else 200
        return render(request, "surveys/answer.html",
                      {"form": form, "survey": survey, "program": program, "language": language}, status=status)
