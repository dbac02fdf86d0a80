"""Tiers: the ladder (thresholds and multipliers) and the policy that decides who qualifies and who drops."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from tiers.models import Tier, TierPolicy
from tiers.services import tier_create, tier_policy_for, tier_policy_set, tier_update

from ..access import staff_object, staff_view
from .forms import SettingsForm, per_line, plain_number
from .pages import audited_change, redirect_to

TIER_FIELDS = ["code", "name", "rank", "threshold", "multiplier", "benefits", "perks"]
POLICY_FIELDS = ["metric", "window", "window_months", "downgrade", "grace_days"]
METRIC_UNITS = {TierPolicy.Metric.POINTS: "points earned", TierPolicy.Metric.SPEND: "spend",
                TierPolicy.Metric.CREDITS: "qualifying credits"}


class TierForm(SettingsForm):
    code = forms.SlugField(label="Code", max_length=32,
                           help_text="Short and lower-case, e.g. gold; the POS and webhooks name the tier by it. "
                                     "It cannot be changed later.")
    name = forms.CharField(label="Name", max_length=80)
    rank = forms.IntegerField(label="Rank", min_value=1, max_value=100,
                              help_text="Higher is better; each tier has its own rank.")
    threshold = forms.DecimalField(label="Threshold", min_value=0, max_digits=14, decimal_places=2)
    multiplier = forms.DecimalField(label="Points multiplier", min_value=0, max_value=100, max_digits=6,
                                    decimal_places=3, help_text="1 earns the base rate; 1.5 earns half as much again.")
    benefits = forms.CharField(label="Benefits", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text="What members of this tier get, in a sentence or two.")
    perks = forms.CharField(label="Perks", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="One short perk per line, e.g. Free upsizing.")

    def __init__(self, *args, tier: Tier | None = None, policy: TierPolicy, **kwargs):
        initial = {}
        if tier is not None:
            initial = {name: plain_number(getattr(tier, name)) for name in TIER_FIELDS}
            initial["perks"] = "\n".join(tier.perks or [])
        super().__init__(*args, initial=initial, **kwargs)
        if tier is not None:
            self.fields["code"].disabled = True  # shown, never sent back
        unit = METRIC_UNITS[policy.metric]
        window = ("this calendar year or the last" if policy.window == TierPolicy.Window.CALENDAR_YEAR
                  else f"the last {policy.window_months} months")
        self.fields["threshold"].help_text = f"The {unit} in {window} that reach this tier; 0 for the entry tier."

    def clean_perks(self):
        perks = per_line(self.cleaned_data["perks"])
        if any(len(perk) > 80 for perk in perks):
            raise ValidationError("Keep each perk to 80 characters.")
        return perks


class TierPolicyForm(SettingsForm):
    metric = forms.ChoiceField(label="Qualify on", choices=TierPolicy.Metric.choices)
    window = forms.ChoiceField(label="Qualifying window", choices=TierPolicy.Window.choices)
    window_months = forms.IntegerField(label="Window length (months)", min_value=1, max_value=60,
                                       help_text="For a rolling window.")
    downgrade = forms.ChoiceField(label="Downgrade", choices=TierPolicy.Downgrade.choices,
                                  help_text="What happens to members who no longer reach their tier.")
    grace_days = forms.IntegerField(label="Grace period (days)", min_value=0, max_value=730,
                                    help_text="For one-tier-at-a-time downgrades: days below the threshold first.")

    def __init__(self, *args, policy: TierPolicy, **kwargs):
        super().__init__(*args, initial={name: getattr(policy, name) for name in POLICY_FIELDS}, **kwargs)


def _tiers_page(request, *, policy_form=None, status: int = 200):
    program = request.staff.program
    may_change = request.staff.may("settings.change")
    policy = tier_policy_for(program=program)
    return render(request, "staff/configuration/tiers.html", {
        "tiers": Tier.objects.filter(program=program).order_by("rank"), "policy": policy,
        "unit": METRIC_UNITS[policy.metric], "may_change": may_change,
        "policy_form": policy_form or TierPolicyForm(policy=policy, read_only=not may_change),
    }, status=status)


@require_http_methods(["GET", "HEAD"])
@staff_view("settings.view")
def tier_list(request):
    return _tiers_page(request)


@require_POST
@staff_view("settings.change")
def tier_policy_change(request):
    program = request.staff.program
    policy = tier_policy_for(program=program)
    form = TierPolicyForm(request.POST, policy=policy)
    if form.submit(lambda: audited_change(request, action="tier_policy.update", before=policy, fields=POLICY_FIELDS,
                                          write=lambda: tier_policy_set(program=program, **form.cleaned_data))):
        messages.success(request, "Tier policy saved. Members move at their next purchase or tonight's "
                                  "recalculation.")
        return redirect_to(request, "settings-tiers")
    return _tiers_page(request, policy_form=form)


def _tier_form_page(request, form, tier=None):
    return render(request, "staff/configuration/tier_form.html", {
        "form": form, "tier": tier, "may_change": request.staff.may("settings.change"),
        "tiers": Tier.objects.filter(program=request.staff.program).order_by("rank"),
        "unit": METRIC_UNITS[tier_policy_for(program=request.staff.program).metric]})


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.change")
def tier_new(request):
    program = request.staff.program
    policy = tier_policy_for(program=program)
    if request.method != "POST":
        return _tier_form_page(request, TierForm(policy=policy))
    form = TierForm(request.POST, policy=policy)
    created = form.submit(lambda: audited_change(request, action="tier.create", fields=TIER_FIELDS,
                                                 write=lambda: tier_create(program=program, **form.cleaned_data)))
    if created:
        messages.success(request, f"Tier {created[0].name} added.")
        return redirect_to(request, "settings-tiers")
    return _tier_form_page(request, form)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def tier_edit(request, tier_id):
    tier = staff_object(request, Tier.objects.all(), "settings.view", pk=tier_id)
    staff = request.staff
    policy = tier_policy_for(program=staff.program)
    if request.method != "POST":
        return _tier_form_page(request, TierForm(tier=tier, policy=policy,
                                                 read_only=not staff.may("settings.change")), tier)
    staff.require("settings.change")
    form = TierForm(request.POST, tier=tier, policy=policy)
    saved = form.submit(lambda: audited_change(
        request, action="tier.update", before=tier, fields=TIER_FIELDS,
        write=lambda: tier_update(tier=tier, **form.changes([name for name in TIER_FIELDS if name != "code"]))))
    if saved:
        messages.success(request, f"Tier {saved[0].name} saved.")
        return redirect_to(request, "settings-tiers")
    return _tier_form_page(request, form, tier)
