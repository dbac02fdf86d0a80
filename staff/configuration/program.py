"""The program's settings page at /staff/settings/: earning and expiry, branding, and the staff policy."""

import zoneinfo
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_safe

from loyalty.images import image_response
from programs.services import program_update

from ..access import staff_view
from ..models import StaffPolicy
from ..services import staff_policy_update
from .forms import SettingsForm, plain_number
from .images import UploadedImageField
from .pages import audited_change, redirect_to

PROGRAM_FIELDS = ["name", "points_per_unit", "pending_days", "expiry_days", "claim_window_days", "time_zone",
                  "value_per_point", "accent_color", "redemption_undo_minutes", "transfer_daily_limit"]
POLICY_FIELDS = ["approval_threshold", "agent_adjustment_limit", "manager_mfa_required"]
TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


class ProgramSettingsForm(SettingsForm):
    name = forms.CharField(label="Program name", max_length=120,
                           help_text="As members see it in the portal, emails and on their card.")
    points_per_unit = forms.DecimalField(
        label="Earn rate", min_value=0, max_digits=9, decimal_places=4,
        help_text="Points for each 1.00 of purchase total, before earning rules and tier multipliers.")
    pending_days = forms.IntegerField(
        label="Pending days", min_value=0, max_value=365,
        help_text="Points wait this many days (the return window) before they can be spent; 0 releases them at once.")
    expiry_days = forms.IntegerField(
        label="Points expire after (days)", required=False, min_value=0, max_value=3650,
        help_text="Counted from the purchase. Leave empty for points that never expire.")
    claim_window_days = forms.IntegerField(
        label="Claim window (days)", min_value=0, max_value=365,
        help_text="How long a purchase made without a card can still be claimed by a member.")
    value_per_point = forms.DecimalField(
        label="Value per point", min_value=0, max_digits=12, decimal_places=6,
        help_text="What one point is worth in the program's currency: the rate of the liability report.")
    time_zone = forms.ChoiceField(
        label="Time zone", choices=[(z, z.replace("_", " ")) for z in TIME_ZONES],
        help_text="Local dates of reports, rule dates and times of day, and birthdays are read in it.")
    accent_color = forms.RegexField(
        label="Accent colour", regex=r"^#[0-9a-fA-F]{6}$", max_length=7,
        error_messages={"invalid": "Choose a colour such as #4a3fe0."},
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="The portal's buttons and the member card; white text must stay readable on it.")
    redemption_undo_minutes = forms.IntegerField(
        label="Undo window (minutes)", min_value=0, max_value=1440,
        help_text="For how long after redeeming a member may undo it in the portal, while the voucher is unused: "
                  "the points come back. 0 turns undo off.")
    transfer_daily_limit = forms.IntegerField(
        label="Daily transfer limit (points)", required=False, min_value=0, max_value=10_000_000,
        help_text="The most points a member may transfer to other members in a day. Leave empty for no limit; "
                  "0 turns transfers off.")
    logo = UploadedImageField(label="Logo", help_text="PNG, JPEG or WebP, up to 2 MB; a square image looks best.")
    logo_remove = forms.BooleanField(label="Remove the logo", required=False)
    approval_threshold = forms.IntegerField(
        label="Approval threshold (points)", min_value=0, max_value=10_000_000,
        help_text="An adjustment of more points than this, either way, waits for a second manager.")
    agent_adjustment_limit = forms.IntegerField(
        label="Agent adjustment limit (points)", min_value=0, max_value=10_000_000,
        help_text="The most points a support agent may adjust at one time.")
    manager_mfa_required = forms.BooleanField(
        label="Managers must sign in with a one-time code (two-factor)", required=False)

    def __init__(self, *args, program, policy: StaffPolicy, **kwargs):
        initial = {name: plain_number(getattr(program, name)) for name in PROGRAM_FIELDS}
        initial.update({name: getattr(policy, name) for name in POLICY_FIELDS})
        super().__init__(*args, initial=initial, **kwargs)
        self.program = program
        self.fields["points_per_unit"].help_text = (
            f"Points for each 1.00 {program.currency} of purchase total, before earning rules and tier multipliers.")
        self.fields["value_per_point"].help_text = (
            f"What one point is worth in {program.currency}: the rate of the liability report.")
        if not program.logo:
            del self.fields["logo_remove"]

    def program_changes(self) -> dict:
        changes = self.changes(PROGRAM_FIELDS)
        if self.cleaned_data.get("logo"):
            changes["logo"] = self.cleaned_data["logo"]
        elif self.cleaned_data.get("logo_remove"):
            changes["logo"] = ""
        return changes

    def policy_changes(self) -> dict:
        return self.changes(POLICY_FIELDS)


def _policy_of(program) -> StaffPolicy:
    """The program's staff policy, or the defaults it would have (shown until it is first saved)."""
    return StaffPolicy.objects.filter(program=program).first() or StaffPolicy(program=program)


def _explained(program) -> list[str]:
    """The settings as one plain sentence each, as a manager would check them."""
    money = Decimal(10)
    points = (money * program.points_per_unit).normalize()
    lines = [f"A purchase of {money:.2f} {program.currency} earns {points:,f} points before rules and tiers."]
    lines.append("Points can be spent at once." if not program.pending_days else
                 f"Points are pending for {program.pending_days} days, then available.")
    lines.append("Points never expire." if program.expiry_days is None else
                 f"Points expire {program.expiry_days} days after the purchase.")
    worth = Decimal(1000) * program.value_per_point
    lines.append(f"1,000 points are worth {worth:,.2f} {program.currency}.")
    lines.append("Members cannot undo a redemption." if not program.redemption_undo_minutes else
                 f"Members may undo a redemption within {program.redemption_undo_minutes} minutes, while the "
                 "voucher is unused.")
    limit = program.transfer_daily_limit
    lines.append("Members may transfer any number of points." if limit is None else
                 "Members cannot transfer points." if limit == 0 else
                 f"Members may transfer up to {limit:,} points a day.")
    return lines


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view")
def program_settings(request):
    staff = request.staff
    program = staff.program
    policy = _policy_of(program)
    may_change = staff.may("settings.change")
    if request.method == "POST":
        staff.require("settings.change")
        form = ProgramSettingsForm(request.POST, request.FILES, program=program, policy=policy)

        @transaction.atomic
        def save():
            audited_change(request, action="program.update", before=program, fields=[*PROGRAM_FIELDS, "logo"],
                           write=lambda: program_update(program=program, **form.program_changes()))
            audited_change(request, action="staff_policy.update", before=policy, fields=POLICY_FIELDS,
                           write=lambda: staff_policy_update(program=program, **form.policy_changes()))
            return True

        if form.submit(save):
            messages.success(request, "Settings saved.")
            return redirect_to(request, "settings")
    else:
        form = ProgramSettingsForm(program=program, policy=policy, read_only=not may_change)
    return render(request, "staff/configuration/program.html", {
        "form": form, "program": program, "may_change": may_change, "explained": _explained(program),
    })


@require_safe
@staff_view("settings.view")
def program_logo(request):
    return image_response(request.staff.program.logo)
