"""The rewards catalogue: what members can take for points, with its image, stock, window, limits and tier."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from loyalty.images import image_response
from rewards.models import Reward, RewardCategory
from rewards.services import reward_category_create, reward_create, reward_update
from tiers.models import Tier

from ..access import staff_object, staff_view
from ..services import snapshot
from .forms import DATETIME_INPUT, SettingsForm, plain_number
from .images import UploadedImageField
from .pages import audited_change, in_program_time, redirect_to

REWARD_FIELDS = ["name", "description", "type", "points_cost", "discount_value", "points_min", "points_max",
                 "points_step", "money_per_point", "is_active", "available_from", "available_until",
                 "stock_remaining", "restock_on", "limit_per_member", "limit_period", "min_tier", "voucher_valid_days",
                 "refund_on_expiry"]


def _number(label: str, help_text: str = "", **kwargs) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=2_000_000_000,
                              help_text=help_text, **kwargs)


class RewardForm(SettingsForm):
    code = forms.RegexField(
        label="Code", max_length=32, regex=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        error_messages={"invalid": "Use letters, digits, - and _, e.g. FREE-COFFEE."},
        help_text="What tills send to redeem it, e.g. FREE-COFFEE (kept in capitals). It cannot be changed later.")
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What the member gets, as the portal shows it.")
    type = forms.ChoiceField(label="Type", choices=Reward.Type.choices)
    categories = forms.ModelMultipleChoiceField(label="Categories", queryset=RewardCategory.objects.none(),
                                                required=False, widget=forms.CheckboxSelectMultiple)
    new_category = forms.CharField(label="New category", max_length=80, required=False,
                                   help_text="Adds a category to the program and puts this reward in it.")
    points_cost = _number("Cost (points)", "Points per redemption.")  # required unless paid with points
    discount_value = forms.DecimalField(label="Discount", required=False, min_value=0, max_digits=10,
                                        decimal_places=2, help_text="Percent (up to 100) or an amount of money.")
    points_min = _number("Fewest points")
    points_max = _number("Most points")
    points_step = _number("In steps of (points)")
    money_per_point = forms.DecimalField(label="Money per point", required=False, min_value=0, max_digits=8,
                                         decimal_places=4, help_text="What one point takes off the bill, e.g. 0.01.")
    is_active = forms.BooleanField(label="Offered to members", required=False)
    available_from = forms.DateTimeField(label="Available from", required=False, widget=DATETIME_INPUT)
    available_until = forms.DateTimeField(label="Available until", required=False, widget=DATETIME_INPUT)
    # The stock a page showed travels with the form: a redemption meanwhile is not undone by a save
    # that left the stock alone.
    stock_remaining = _number("Stock", "Units left. Leave empty for unlimited.", show_hidden_initial=True)
    restock_on = forms.DateField(label="Back in stock on", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                 help_text="While it is out of stock the portal tells members this date. Optional.")
    limit_per_member = _number("Limit per member", "Leave empty for no limit.")
    limit_period = forms.ChoiceField(label="Limit period", choices=Reward.Period.choices)
    min_tier = forms.ModelChoiceField(label="Lowest tier", queryset=Tier.objects.none(), required=False,
                                      empty_label="Every member",
                                      help_text="Members below this tier cannot redeem it.")
    voucher_valid_days = _number("Voucher valid for (days)", "Leave empty for vouchers that never expire.")
    refund_on_expiry = forms.BooleanField(label="Give the points back when a voucher expires unused", required=False)
    image = UploadedImageField(label="Image", help_text="PNG, JPEG or WebP, up to 2 MB; shown in the portal.")
    image_remove = forms.BooleanField(label="Remove the image", required=False)

    def __init__(self, *args, program, reward: Reward | None = None, **kwargs):
        initial = {"is_active": True, "limit_period": Reward.Period.EVER, "type": Reward.Type.PRODUCT_VOUCHER}
        if reward is not None:
            initial = {name: plain_number(getattr(reward, name)) for name in REWARD_FIELDS}
            initial["code"] = reward.code
            initial["categories"] = list(reward.categories.all())
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["categories"].queryset = RewardCategory.objects.filter(program=program)
        self.fields["min_tier"].queryset = Tier.objects.filter(program=program).order_by("rank")
        zone = program.time_zone.replace("_", " ")
        self.fields["available_from"].help_text = f"In {zone} time. Leave empty to offer it from now on."
        self.fields["available_until"].help_text = f"In {zone} time. Leave empty to offer it with no end."
        # Every reward has a price in points, except those where the member chooses how many to pay.
        self.fields["points_cost"].required = self.data.get("type") != Reward.Type.PAY_WITH_POINTS
        if reward is not None:
            self.fields["code"].disabled = True
        if reward is None or not reward.image:
            del self.fields["image_remove"]

    def clean_code(self):
        return self.cleaned_data["code"].upper()

    def reward_changes(self) -> dict:
        changes = self.changes(REWARD_FIELDS)
        if self.cleaned_data.get("image"):
            changes["image"] = self.cleaned_data["image"]
        elif self.cleaned_data.get("image_remove"):
            changes["image"] = ""
        return changes

    def categories_changed(self) -> bool:
        return "categories" in self.changed_data or bool(self.cleaned_data.get("new_category"))


def _audited(reward: Reward) -> dict:
    return {**snapshot(reward, ["code", *REWARD_FIELDS, "image"]),
            "categories": sorted(c.name for c in reward.categories.all())}


def _categories(program, form: RewardForm) -> list | None:
    """The categories chosen, with the new one created (inside the caller's transaction); None: unchanged."""
    if not form.categories_changed():
        return None
    chosen = list(form.cleaned_data["categories"])
    if form.cleaned_data.get("new_category"):
        try:
            chosen.append(reward_category_create(program=program, name=form.cleaned_data["new_category"]))
        except ValidationError as refusal:
            raise ValidationError({"new_category": refusal.messages}) from refusal
    return chosen


def _status(reward: Reward, now) -> tuple[str, str]:
    """A reward's state as members meet it: (label, badge class)."""
    if not reward.is_active:
        return "Hidden", "badge"
    if reward.available_until and reward.available_until <= now:
        return "Ended", "badge"
    if reward.available_from and reward.available_from > now:
        return "Scheduled", "badge-info"
    if reward.stock_remaining == 0:
        return "Out of stock", "badge-warning"
    return "Live", "badge-success"


@require_safe
@staff_view("settings.view")
@in_program_time
def reward_list(request):
    program = request.staff.program
    now = timezone.now()
    rewards = (Reward.objects.filter(program=program).select_related("min_tier").prefetch_related("categories")
               .order_by("-is_active", "points_cost", "name"))
    rows = [(reward, *_status(reward, now)) for reward in rewards]
    return render(request, "staff/configuration/rewards.html", {
        "rows": rows, "may_change": request.staff.may("settings.change"), "program": program})


def _form_page(request, form, reward=None):
    return render(request, "staff/configuration/reward_form.html", {
        "form": form, "reward": reward, "may_change": request.staff.may("settings.change"),
        "program": request.staff.program})


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.change")
@in_program_time
def reward_new(request):
    program = request.staff.program
    if request.method != "POST":
        return _form_page(request, RewardForm(program=program))
    form = RewardForm(request.POST, request.FILES, program=program)

    @transaction.atomic
    def create():
        categories = _categories(program, form)
        return audited_change(request, action="reward.create", fields=_audited, write=lambda: reward_create(
            program=program, code=form.cleaned_data["code"], categories=categories, **form.reward_changes()))[0]

    if reward := form.submit(create):
        messages.success(request, f"Reward {reward.name} added.")
        return redirect_to(request, "settings-rewards")
    return _form_page(request, form)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def reward_edit(request, reward_id):
    reward = staff_object(request, Reward.objects.select_related("min_tier"), "settings.view", pk=reward_id)
    return in_program_time(_reward_edit)(request, reward)


def _reward_edit(request, reward):
    staff, program = request.staff, request.staff.program
    if request.method != "POST":
        return _form_page(request, RewardForm(program=program, reward=reward,
                                              read_only=not staff.may("settings.change")), reward)
    staff.require("settings.change")
    form = RewardForm(request.POST, request.FILES, program=program, reward=reward)

    @transaction.atomic
    def update():
        categories = _categories(program, form)
        return audited_change(request, action="reward.update", before=reward, fields=_audited, write=lambda: (
            reward_update(reward=reward, categories=categories, **form.reward_changes())))[0]

    if saved := form.submit(update):
        messages.success(request, f"Reward {saved.name} saved.")
        return redirect_to(request, "settings-rewards")
    return _form_page(request, form, reward)


@require_safe
@staff_view("settings.view", record=True)
def reward_image(request, reward_id):
    reward = staff_object(request, Reward.objects.all(), "settings.view", pk=reward_id)
    return image_response(reward.image)
