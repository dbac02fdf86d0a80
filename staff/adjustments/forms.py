"""The forms of point adjustments and of the other actions on a member.

On the member page the adjustment's fields are labelled "Points" and "Reason" (contract web.md), so no
other label on that page may contain either word: the reason code is the "Category", and the other
actions have pages of their own where the why is the "Explanation".
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from ..models import ReasonCode, Role
from .bulk import MAX_BYTES
from .services import MAX_POINTS, TOKEN

LONGEST_LOCK_DAYS = 3653


def one_time_token() -> str:
    return uuid.uuid4().hex


class TokenField(forms.CharField):
    """A hidden one-time token, new each time the form is shown: it names one submission."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not TOKEN.fullmatch(value or ""):
            raise forms.ValidationError("This form has expired. Reload the page and try again.")
        return value


class TokenForm(forms.Form):
    token = TokenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", one_time_token())


class AdjustmentForm(TokenForm):
    points = forms.IntegerField(
        label="Points", min_value=-MAX_POINTS, max_value=MAX_POINTS,
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric", "autocomplete": "off"}))
    category = forms.ChoiceField(label="Category", choices=[("", "Choose…"), *ReasonCode.choices])
    reason = forms.CharField(
        label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The member sees it on their statement; it is kept in the audit log.")

    def __init__(self, *args, policy=None, role: str | None = None, **kwargs):
        kwargs.setdefault("auto_id", "adjust_%s")  # ids of their own on a page with other forms
        super().__init__(*args, **kwargs)
        if policy is not None:
            hint = (f"250 adds, -100 takes away. Up to {policy.approval_threshold:,} either way posts at once; "
                    "more waits for another manager.")
            if role == Role.AGENT:
                hint += f" You may adjust up to {policy.agent_adjustment_limit:,} at a time."
            self.fields["points"].help_text = hint

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("Give a number other than 0: positive adds, negative takes away.")
        return points


class DecisionForm(forms.Form):
    note = forms.CharField(label="Note", required=False, max_length=500,
                           help_text="Why you approve or reject it, for the audit log.")


class ExplanationForm(forms.Form):
    explanation = forms.CharField(label="Explanation", max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Why, in a sentence. It is kept in the audit log.")


class TierForm(ExplanationForm):
    tier = forms.ModelChoiceField(label="Tier", queryset=None, empty_label="Choose a tier…")
    keep_until = forms.DateField(
        label="Keep until", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Locks the tier: no recalculation moves the member before the end of this day. "
                  "Leave empty to let the next recalculation decide.")

    field_order = ["tier", "keep_until", "explanation"]

    def __init__(self, *args, tiers, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = tiers
        self.program = program

    def clean_keep_until(self):
        day = self.cleaned_data.get("keep_until")
        if day is None:
            return None
        zone = self.program.zone
        today = timezone.now().astimezone(zone).date()
        if day < today:
            raise forms.ValidationError("Choose today or a later day.")
        if day > today + timedelta(days=LONGEST_LOCK_DAYS):
            raise forms.ValidationError("A tier is kept for at most ten years; choose an earlier day.")
        return day

    def locked_until(self) -> datetime | None:
        """The end of the chosen day in the program's time zone."""
        day = self.cleaned_data.get("keep_until")
        if day is None:
            return None
        zone = self.program.zone
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


class AnonymiseForm(ExplanationForm):
    confirm = forms.BooleanField(
        label="The member asked for their personal data to be erased, and I checked it was them",
        error_messages={"required": "Confirm that the member asked for it."})

    field_order = ["explanation", "confirm"]


class ResendForm(TokenForm):
    pass


class BulkUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="One header row with card_number (or email, or member_id), points and reason; "
                  "category is optional (e.g. goodwill).")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; "
                                        "split it into several files.")
        return upload


class BulkPostForm(forms.Form):
    upload = forms.CharField(widget=forms.HiddenInput)
