"""The forms of the staff survey pages: a survey's definition, the page's dates, a case's work and goodwill, a
campaign's segment."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from analytics.health import BANDS
from programs.models import Store
from surveys.models import DEFAULT_FOLLOW_UP, FollowUpCase, Kind, Survey
from tiers.models import Tier

from ..adjustments.forms import TokenForm
from ..data.reports import EARLIEST, LATEST, IsoDateField, RangeForm, day_bounds

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A moment as the browser's date-and-time picker writes it, in the program's time zone (the view's)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)
    input_formats = [DATETIME_FORMAT, "%Y-%m-%d %H:%M"]
    default_error_messages = {"invalid": "Give a date and time, e.g. 2026-05-01T09:00."}


class SurveyForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=[("", "Choose…"), *Kind.choices],
                             help_text="The answer scale; it cannot change once the survey exists.")
    code = forms.SlugField(label="Code", max_length=32,
                           help_text="Letters, digits, - and _, e.g. nps. The tills name the survey by it; "
                                     "it cannot change later.")
    name = forms.CharField(label="Name", max_length=120, required=False,
                           help_text="What staff and the invitation email call it. Empty: the kind's name.")
    question_en = forms.CharField(label="Question in English", max_length=300, required=False,
                                  help_text="{program} stands for the program's name. Empty: the kind's usual "
                                            "question.")
    question_de = forms.CharField(label="Question in German", max_length=300, required=False,
                                  help_text="{program} stands for the program's name.")
    follow_up_en = forms.CharField(label="Follow-up question in English", max_length=300, required=False,
                                   help_text="The free-text question after the score. Empty: none.")
    follow_up_de = forms.CharField(label="Follow-up question in German", max_length=300, required=False)
    active = forms.BooleanField(label="Active: takes answers and sends invitations", required=False)
    starts_at = LocalDateTimeField(label="Starts", required=False, help_text="Empty: from now on.")
    ends_at = LocalDateTimeField(label="Ends", required=False, help_text="Empty: open-ended.")
    on_purchase = forms.BooleanField(label="Invite after a purchase", required=False)
    on_redemption = forms.BooleanField(label="Invite after a redemption", required=False)
    on_tier_change = forms.BooleanField(label="Invite after a tier change", required=False)
    sampling_percent = forms.DecimalField(
        label="Sampling (% of events that invite)", min_value=Decimal("0"), max_value=Decimal("100"),
        max_digits=5, decimal_places=2, help_text="100 invites after every event, 10 after one in ten.")
    delay_minutes = forms.IntegerField(label="Delay (minutes after the event)", min_value=0, max_value=60 * 24 * 30)
    cooldown_days = forms.IntegerField(
        label="Cool-down (days)", min_value=0, max_value=3650,
        help_text="No invitation to a member invited to any survey of the program within this many days.")
    invitation_days = forms.IntegerField(label="Link works for (days)", min_value=1, max_value=365)
    reply_target_business_days = forms.IntegerField(
        label="Reply target (business days)", min_value=1, max_value=30,
        help_text="A follow-up case of an unhappy answer is due this many business days after it.")
    bonus_points = forms.IntegerField(
        label="Bonus points for answering", min_value=0, max_value=100_000,
        help_text="Once per member and survey; 0: no bonus. Answers given for a bonus are reported apart.")

    def __init__(self, *args, survey: Survey | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.survey = survey
        if survey is not None:  # code and kind are fixed once the survey exists
            del self.fields["kind"]
            del self.fields["code"]

    @classmethod
    def initial_for(cls, survey: Survey | None) -> dict:
        if survey is None:
            return {"active": True, "follow_up_en": DEFAULT_FOLLOW_UP[0], "follow_up_de": DEFAULT_FOLLOW_UP[1],
                    "sampling_percent": Decimal("100"), "delay_minutes": 60, "cooldown_days": 90,
                    "invitation_days": 14, "reply_target_business_days": 2, "bonus_points": 0}
        names = [name for name in cls.base_fields if name not in ("kind", "code", "sampling_percent")]
        initial = {name: getattr(survey, name) for name in names}
        initial["sampling_percent"] = (survey.sampling_rate * 100).normalize()
        return initial

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The survey must end after it starts.")
        return data

    def definition(self) -> dict:
        """The survey's fields as the services take them."""
        data = dict(self.cleaned_data)
        data["sampling_rate"] = (data.pop("sampling_percent") / 100).quantize(Decimal("0.0001"))
        data.pop("kind", None)
        data.pop("code", None)
        return data


class SurveyRangeForm(RangeForm):
    """The page's dates, and how the enrolment cohorts are cut."""

    cohort = forms.ChoiceField(label="Cohorts by", required=False, initial="quarter",
                               choices=[("quarter", "Quarter joined"), ("month", "Month joined")])


STATUS_CHOICES = FollowUpCase.Status.choices


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False,
                               choices=[("", "Open and in progress"), ("overdue", "Overdue"), *STATUS_CHOICES,
                                        ("all", "All")])
    assignee = forms.ChoiceField(label="Assignee", required=False)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Anyone"), ("none", "Nobody yet"),
                                           *((str(user.pk), user.get_username()) for user in people)]


class CaseForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES)
    assignee = forms.ChoiceField(label="Assignee", required=False)
    root_cause = forms.CharField(label="Root cause", max_length=200, required=False,
                                 help_text="What made the member unhappy; needed to close the case.")
    note = forms.CharField(label="Note", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="What you did or found out; kept in the case's history.")
    ask_member = forms.BooleanField(
        label="When resolving, ask the member how we handled it (one question by email)", required=False)
    # how many changes the case had when the form was shown: a second submission, or someone else's change in
    # between, changes nothing (``case_update``'s ``seen_changes``)
    seen_changes = forms.IntegerField(
        label="Form", widget=forms.HiddenInput, min_value=0, max_value=1_000_000,
        error_messages=dict.fromkeys(("required", "invalid", "min_value", "max_value"),
                                     "This form has expired. Reload the page and try again."))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Nobody"), *((str(user.pk), user.get_username()) for user in people)]


class GoodwillForm(TokenForm):
    points = forms.IntegerField(label="Goodwill points", min_value=1, max_value=1_000_000,
                                widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}))
    message = forms.CharField(label="Message on the member's statement", max_length=500,
                              help_text="Why the member gets the points; kept in the audit log.")


class TopicsForm(forms.Form):
    topics = forms.CharField(label="Topics", required=False, max_length=700,
                             help_text="What the answer is about, separated by commas, e.g. “queue, friendly staff”.")

    def names(self) -> list[str]:
        return [name for name in self.cleaned_data["topics"].split(",") if name.strip()]


class CampaignForm(TokenForm):
    """A segment of the program's members (what ``surveys.selectors.campaign_members`` takes), in local dates;
    the token names one sending, so a second submission sends nothing."""

    tier = forms.ChoiceField(label="Tier", required=False,
                             error_messages={"invalid_choice": "Choose one of the program's tiers."})
    store = forms.ChoiceField(label="Store joined at", required=False,
                              error_messages={"invalid_choice": "Choose one of the program's stores."})
    enrolled_from = IsoDateField(label="Joined from", required=False, help_text="Empty: any time.")
    enrolled_to = IsoDateField(label="Joined up to (inclusive)", required=False, help_text="Empty: up to today.")
    purchased_since = IsoDateField(label="Last purchase on or after", required=False,
                                   help_text="Members who bought something on this date or later.")
    not_purchased_since = IsoDateField(label="Last purchase before (or none)", required=False,
                                       help_text="Members who have bought nothing on this date or later.")
    health_band = forms.ChoiceField(label="Health band", required=False,
                                    choices=[("", "Any band"), *((slug, name) for slug, name, _ in BANDS)],
                                    help_text="As today's health scores place them (Analytics, At risk).",
                                    error_messages={"invalid_choice": "Choose one of the health bands."})
    lagging_only = forms.BooleanField(label="Lagging members only", required=False,
                                      help_text="More days since their last purchase than their usual gap.")

    DATE_FIELDS = ("enrolled_from", "enrolled_to", "purchased_since", "not_purchased_since")

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "Any tier"), *((tier.code, tier.name) for tier in
                                                            Tier.objects.filter(program=program).order_by("rank"))]
        self.fields["store"].choices = [("", "Any store"), *((store.code, f"{store.name} ({store.code})") for store
                                                             in Store.objects.filter(program=program)
                                                             .order_by("code"))]

    def clean(self):
        data = super().clean()
        for name in self.DATE_FIELDS:
            value = data.get(name)
            if value is not None and not EARLIEST <= value <= LATEST:
                self.add_error(name, f"Give a date from {EARLIEST:%Y} to {LATEST:%Y}.")
        start, end = data.get("enrolled_from"), data.get("enrolled_to")
        if start and end and end < start:
            self.add_error("enrolled_to", "This date comes before “Joined from”.")
        bought, not_since = data.get("purchased_since"), data.get("not_purchased_since")
        if bought and not_since and not_since <= bought:
            self.add_error("not_purchased_since",
                           "This date must come after “Last purchase on or after”, or no member can match.")
        return data

    def criteria(self, program) -> dict:
        """The segment as ``campaign_members`` takes it: local dates become the moments their days begin (an
        inclusive last date, the next day's)."""
        data = self.cleaned_data
        criteria = {"tier_code": data.get("tier") or "", "store_code": data.get("store") or ""}
        for name, key in (("enrolled_from", "enrolled_from"), ("purchased_since", "purchased_since"),
                          ("not_purchased_since", "not_purchased_since")):
            if data.get(name):
                criteria[key] = day_bounds(program, data[name], data[name])[0]
        if data.get("enrolled_to"):
            criteria["enrolled_to"] = day_bounds(program, data["enrolled_to"], data["enrolled_to"])[1]
        return criteria

    def health(self) -> dict:
        """The health part of the segment, as ``analytics.health.health_segment_ids`` takes it ({} when none)."""
        band, lagging = self.cleaned_data.get("health_band") or "", bool(self.cleaned_data.get("lagging_only"))
        return {"band": band, "lagging_only": lagging} if band or lagging else {}

    def segment(self) -> dict:
        """The segment in words and ISO dates, for the audit log."""
        return {name: (value.isoformat() if hasattr(value, "isoformat") else value)
                for name, value in self.cleaned_data.items() if name != "token" and value}
