from django import forms
from django.contrib.auth import get_user_model

from staff.models import Role
from surveys.models import FollowUpCase
from surveys.services import CASE_TRANSITIONS, MAX_ROOT_CAUSE

STATUS_FILTERS = [("active", "Open and in progress"), ("overdue", "Overdue"), ("open", "Open"),
                  ("in_progress", "In progress"), ("resolved", "Resolved"), ("closed", "Closed"), ("all", "All")]


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(label="Show", choices=STATUS_FILTERS, required=False)


class CaseForm(forms.Form):
    """Work one case: its status (the moves allowed from where it is), assignee, a note, the root cause."""

    status = forms.ChoiceField(label="Status")
    assignee = forms.ModelChoiceField(label="Assignee", queryset=get_user_model().objects.none(), required=False,
                                      empty_label="Nobody")
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="What you did or learnt; kept with your name and the time.")
    root_cause = forms.CharField(label="Root cause", required=False, max_length=MAX_ROOT_CAUSE,
                                 help_text="Needed to close the case, e.g. “Queue at lunchtime”.")
    ask_member = forms.BooleanField(
        label="Ask the member how we handled it (when resolving)", required=False,
        help_text="One question by email, with their consent; an unhappy answer reopens the case.")
    seen_changes = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args, case: FollowUpCase, **kwargs):
        kwargs.setdefault("initial", {"status": case.status, "assignee": case.assignee_id,
                                      "root_cause": case.root_cause, "seen_changes": case.changes.count()})
        super().__init__(*args, **kwargs)
        allowed = [case.status, *sorted(CASE_TRANSITIONS[case.status])]
        labels = dict(FollowUpCase.Status.choices)
        self.fields["status"].choices = [(status, labels[status]) for status in allowed]
        self.fields["assignee"].queryset = get_user_model().objects.filter(
            staff_roles__program_id=case.program_id, staff_roles__role__in=[Role.MANAGER, Role.AGENT]
        ).order_by("username")
        self.fields["assignee"].label_from_instance = lambda user: user.get_username()


class TopicsForm(forms.Form):
    topics = forms.CharField(label="Topics", required=False, max_length=700,
                             help_text="What the answer is about, separated by commas, e.g. “queue, friendly staff”.")

    def names(self) -> list[str]:
        return [name for name in self.cleaned_data["topics"].split(",") if name.strip()]
