"""Earning rules: when a rule applies (conditions) and what it earns (an effect), each built from its own form
fields, with a preview of what a sample purchase earns under the program's rules and the one being written."""

import copy
import re
from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from earning.conditions import CONDITIONS, WEEKDAYS
from earning.definitions import DefinitionError
from earning.models import EarningRule
from earning.services import (
    earning_rule_activate,
    earning_rule_create,
    earning_rule_update,
    earning_rule_validate,
    purchase_earnings_preview,
)
from loyalty.errors import DomainError
from programs.models import Store
from tiers.models import Tier

from ..access import staff_object, staff_view
from ..services import snapshot
from .forms import DATETIME_INPUT, SettingsForm, plain_number
from .pages import audited_change, in_program_time, redirect_to, settings_url

RULE_FIELDS = ["code", "name", "description", "active", "applies_to", "conditions", "effect", "priority", "group",
               "stacking", "cap_per_purchase", "cap_per_member", "cap_period", "valid_from", "valid_until"]
# The code names the rule in every breakdown already given; the type decides which conditions it may have.
FIXED_FIELDS = ("code", "applies_to")
DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
WITHIN_CHOICES = [("", "Any day"), ("day", "On the day itself"), ("month", "Any day of that month")]
EFFECT_CHOICES = [
    ("multiplier", "Multiply the points: the matching spend earns a multiple of the base rate"),
    ("fixed_bonus", "A fixed bonus: a number of points, once"),
    ("per_unit", "Points per unit: for each item bought, or each unit of an event (a night, a ticket)"),
]
# The form field showing an effect's amount, and the engine's name for it.
EFFECT_FIELDS = {"multiplier": ("factor", "factor"), "fixed_bonus": ("bonus_points", "points"),
                 "per_unit": ("unit_points", "points")}
# For each condition kind, the form field that shows a problem the engine finds with one of its keys
# ("" for the condition as a whole).
CONDITION_FIELDS = {
    "min_spend": {"": "min_spend"},
    "store": {"": "stores"},
    "sku": {"": "skus"},
    "category": {"": "categories"},
    "date_window": {"": "date_from", "until": "date_until"},
    "time_of_day": {"": "time_from", "until": "time_until"},
    "day_of_week": {"": "days"},
    "tier": {"": "tiers"},
    "first_purchase": {"": "first_purchase"},
    "birthday": {"": "birthday"},
    "enrolment_anniversary": {"": "anniversary"},
    "event_type": {"": "event_types"},
    "attribute": {"": "attribute_name", "values": "attribute_values"},
}
CONDITION_NAMES = {
    "min_spend": "the minimum spend", "store": "the store", "sku": "the products", "category": "the categories",
    "date_window": "the dates", "time_of_day": "the time of day", "day_of_week": "the day of the week",
    "tier": "the member's tier", "first_purchase": "first purchase only", "birthday": "the birthday",
    "enrolment_anniversary": "the enrolment anniversary", "event_type": "the event type",
    "attribute": "the event attribute",
}
# The conditions of the form, in sections, as (section, [(form field, condition kind)]).
CONDITION_SECTIONS = [
    ("The purchase", [("min_spend", "min_spend"), ("stores", "store"), ("skus", "sku"),
                      ("categories", "category")]),
    ("When", [("date_from", "date_window"), ("date_until", "date_window"), ("time_from", "time_of_day"),
              ("time_until", "time_of_day"), ("days", "day_of_week")]),
    ("The member", [("tiers", "tier"), ("first_purchase", "first_purchase"), ("birthday", "birthday"),
                    ("anniversary", "enrolment_anniversary")]),
    ("The event", [("event_types", "event_type"), ("attribute_name", "attribute"),
                   ("attribute_values", "attribute")]),
]
SAMPLE_LINES = 2


def _listed(text: str) -> list[str]:
    """Values typed one per line or separated by commas, in order, each once."""
    return list(dict.fromkeys(item.strip() for item in re.split(r"[,\n]", text or "") if item.strip()))


def _number(value) -> str:
    """A decimal as the engine reads it: a string, as people write it."""
    return format(plain_number(value), "f")


def _choices_with(choices: list[tuple[str, str]], kept) -> list[tuple[str, str]]:
    """``choices`` plus any value a saved rule names that is no longer among them, so saving keeps it."""
    known = {value for value, _ in choices}
    return choices + [(value, f"{value} (no longer in the program)") for value in sorted(kept) if value not in known]


def _multiple(label: str, choices=(), **kwargs) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(label=label, choices=choices, required=False,
                                     widget=forms.CheckboxSelectMultiple, **kwargs)


class RuleForm(SettingsForm):
    code = forms.SlugField(label="Code", max_length=50,
                           help_text="Lower-case, e.g. coffee-mornings: it names the rule in breakdowns, and "
                                     "cannot be changed later.")
    name = forms.CharField(label="Name", max_length=120,
                           help_text="What staff see in the rule list and in the breakdown of a purchase's points.")
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text="For staff: why the rule exists, who asked for it.")
    applies_to = forms.ChoiceField(label="Rule type", choices=EarningRule.AppliesTo.choices,
                                   help_text="What the rule rewards. It cannot be changed later.")
    active = forms.BooleanField(label="Active: the rule earns points from now on", required=False)

    min_spend = forms.DecimalField(label="Minimum spend", required=False, min_value=Decimal("0.01"),
                                   max_value=1_000_000, max_digits=9, decimal_places=2)
    stores = _multiple("Stores", help_text="Only at these stores. None ticked: at every store.")
    skus = forms.CharField(label="Products (SKUs)", required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="One per line or separated by commas, e.g. LATTE, MOCHA. The effect then works "
                                     "on those lines of the receipt only.")
    categories = forms.CharField(label="Product categories", required=False, max_length=5000,
                                 widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text="As tills send them, e.g. coffee. The effect then works on those lines "
                                           "only.")
    date_from = forms.DateField(label="From date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_until = forms.DateField(label="Until date", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="Included.")
    time_from = forms.TimeField(label="From time", required=False, widget=forms.TimeInput(
        attrs={"type": "time"}, format="%H:%M"))
    time_until = forms.TimeField(label="Until time", required=False, widget=forms.TimeInput(
        attrs={"type": "time"}, format="%H:%M"), help_text="Not included; 22:00 to 02:00 runs past midnight.")
    days = _multiple("Days of the week", [(day, DAY_NAMES[day]) for day in WEEKDAYS],
                     help_text="None ticked: every day.")
    tiers = _multiple("Member tiers", help_text="Only members in these tiers. None ticked: every member.")
    first_purchase = forms.BooleanField(label="Only the member's first purchase", required=False)
    birthday = forms.ChoiceField(label="Birthday", choices=WITHIN_CHOICES, required=False)
    anniversary = forms.ChoiceField(label="Anniversary of joining", choices=WITHIN_CHOICES, required=False,
                                    help_text="Yearly, from the first anniversary on.")
    event_types = forms.CharField(label="Event types", required=False, max_length=2000,
                                  help_text="As integrations send them, e.g. stay_night, review_written.")
    attribute_name = forms.CharField(label="Event attribute", required=False, max_length=64,
                                     help_text="An attribute the event carries, e.g. room.")
    attribute_values = forms.CharField(label="Attribute values", required=False, max_length=2000,
                                       help_text="Any of these, e.g. suite, deluxe.")

    effect_kind = forms.ChoiceField(label="Effect", choices=EFFECT_CHOICES, widget=forms.RadioSelect)
    factor = forms.DecimalField(label="Multiplier", required=False, max_digits=8, decimal_places=4,
                                help_text="2 earns double points on the matching spend, 1.5 half as much again.")
    bonus_points = forms.IntegerField(label="Bonus points", required=False, max_value=10_000_000)
    unit_points = forms.IntegerField(label="Points per unit", required=False, max_value=10_000_000)

    cap_per_purchase = forms.IntegerField(label="Cap per purchase", required=False, min_value=1,
                                          max_value=2_000_000_000,
                                          help_text="At most this many points from this rule per purchase or event.")
    cap_per_member = forms.IntegerField(label="Cap per member", required=False, min_value=1, max_value=2_000_000_000,
                                        help_text="At most this many points from this rule per member per period.")
    cap_period = forms.ChoiceField(label="Cap period", required=False,
                                   choices=[("", "No period"), *EarningRule.CapPeriod.choices])
    priority = forms.IntegerField(label="Priority", min_value=0, max_value=1_000_000,
                                  help_text="Lower runs first: the order of the breakdown, and the winner of a tie.")
    stacking = forms.ChoiceField(label="Stacking", choices=EarningRule.Stacking.choices)
    group = forms.SlugField(label="Group", required=False, max_length=50,
                            help_text="Best-of rules of one group compete; only the one earning most counts.")
    valid_from = forms.DateTimeField(label="Valid from", required=False, widget=DATETIME_INPUT)
    valid_until = forms.DateTimeField(label="Valid until", required=False, widget=DATETIME_INPUT,
                                      help_text="Not included. Leave empty to run with no end.")

    def __init__(self, *args, program, rule: EarningRule | None = None, read_only: bool = False, **kwargs):
        initial = _initial(rule) if rule is not None else {
            "active": True, "applies_to": EarningRule.AppliesTo.PURCHASE, "effect_kind": "multiplier",
            "priority": 100, "stacking": EarningRule.Stacking.STACK}
        super().__init__(*args, initial=initial, read_only=read_only, **kwargs)
        self.program = program
        self.rule = rule
        self.condition_kinds: list[str] = []  # the kind of each condition built, by its place in the list
        stores = [(s.code, f"{s.name} ({s.code})") for s in Store.objects.filter(program=program).order_by("code")]
        tiers = [(t.code, t.name) for t in Tier.objects.filter(program=program).order_by("rank")]
        self.fields["stores"].choices = _choices_with(stores, initial.get("stores", ()))
        self.fields["tiers"].choices = _choices_with(tiers, initial.get("tiers", ()))
        self.fields["min_spend"].label = f"Minimum spend ({program.currency})"
        self.fields["min_spend"].help_text = f"The purchase total is at least this many {program.currency}."
        zone = program.time_zone.replace("_", " ")
        self.fields["valid_from"].help_text = f"In {zone} time. Leave empty to start now."
        for name in ("date_from", "time_from", "days"):
            self.fields[name].help_text = (self.fields[name].help_text + f" In {zone} time.").strip()
        if rule is not None:
            for name in FIXED_FIELDS:
                self.fields[name].disabled = True  # shown, never sent back
        # The amount of the chosen effect is needed; the others are left as they are.
        chosen = self.data.get("effect_kind") if self.is_bound and not read_only else initial.get("effect_kind")
        if chosen in EFFECT_FIELDS:
            self.fields[EFFECT_FIELDS[chosen][0]].required = True

    # --- what the template lays out ---------------------------------------------------------------

    def condition_sections(self):
        """(section title, [(bound field, the rule types its condition applies to)]) for the template."""
        return [(title, [(self[name], " ".join(sorted(CONDITIONS[kind].rule_kinds))) for name, kind in fields])
                for title, fields in CONDITION_SECTIONS]

    def effect_fields(self):
        return [(self[field], kind) for kind, (field, _) in EFFECT_FIELDS.items()]

    # --- the rule the fields make -----------------------------------------------------------------

    def clean(self):
        data = super().clean()
        conditions: list[dict] = []
        self.condition_kinds = []

        def add(kind, **values):
            conditions.append({"kind": kind, **values})
            self.condition_kinds.append(kind)

        if data.get("min_spend") is not None:
            add("min_spend", amount=_number(data["min_spend"]))
        if data.get("stores"):
            add("store", stores=list(data["stores"]))
        if skus := _listed(data.get("skus")):
            add("sku", skus=skus)
        if categories := _listed(data.get("categories")):
            add("category", categories=categories)
        if data.get("date_from") or data.get("date_until"):
            add("date_window", **{key: data[name].isoformat() for key, name in (("from", "date_from"),
                                                                                ("until", "date_until"))
                                  if data.get(name)})
        if data.get("time_from") or data.get("time_until"):
            add("time_of_day", **{key: data[name].strftime("%H:%M") for key, name in (("from", "time_from"),
                                                                                      ("until", "time_until"))
                                  if data.get(name)})
        if data.get("days"):
            add("day_of_week", days=[day for day in WEEKDAYS if day in data["days"]])
        if data.get("tiers"):
            add("tier", tiers=list(data["tiers"]))
        if data.get("first_purchase"):
            add("first_purchase")
        if data.get("birthday"):
            add("birthday", within=data["birthday"])
        if data.get("anniversary"):
            add("enrolment_anniversary", within=data["anniversary"])
        if types := _listed(data.get("event_types")):
            add("event_type", types=types)
        values = _listed(data.get("attribute_values"))
        if data.get("attribute_name") or values:
            add("attribute", **{"name": data.get("attribute_name") or None, "values": values or None})
        data["conditions"] = conditions

        kind = data.get("effect_kind")
        if kind in EFFECT_FIELDS:
            field, key = EFFECT_FIELDS[kind]
            amount = data.get(field)
            effect = {"kind": kind}
            if amount is not None:
                effect[key] = _number(amount) if isinstance(amount, Decimal) else amount
            data["effect"] = effect
        for name in ("cap_period", "birthday", "anniversary"):
            data[name] = data.get(name) or ""
        return data

    def rule_values(self) -> dict:
        """The rule's fields as the services take them (after ``is_valid()``)."""
        data = self.cleaned_data
        values = {name: data[name] for name in RULE_FIELDS if name in data}
        values["description"] = values.get("description", "").strip()
        return values

    def rule_changes(self) -> dict:
        """What differs from the saved rule (conditions and an effect that read the same are no change)."""
        values = {name: value for name, value in self.rule_values().items() if name not in FIXED_FIELDS}
        rule = self.rule
        changes = {name: value for name, value in values.items() if getattr(rule, name) != value}
        if "conditions" in changes or "effect" in changes:
            draft = copy.copy(rule)
            draft.conditions, draft.effect = values["conditions"], values["effect"]
            try:
                same = draft.definition == rule.definition
            except DefinitionError:
                same = False  # the service says why
            if same:
                changes.pop("conditions", None)
                changes.pop("effect", None)
        return changes

    def draft(self) -> EarningRule:
        """The rule as written, not saved: a new rule, or the saved one with the fields' values."""
        values = self.rule_values()
        if self.rule is None:
            return EarningRule(program=self.program, **values)
        draft = copy.copy(self.rule)
        for name, value in values.items():
            if name not in FIXED_FIELDS:
                setattr(draft, name, value)
        return draft

    def field_for_refusal(self, name: str | None) -> str | None:
        """The engine names a problem by its place (``conditions.2.skus``, ``effect.factor``): shown beside the
        field it came from."""
        if name in (None, NON_FIELD_ERRORS, "conditions"):
            return None
        head, _, rest = name.partition(".")
        if head == "conditions":
            index, _, key = rest.partition(".")
            if not index.isdigit() or int(index) >= len(self.condition_kinds):
                return None
            places = CONDITION_FIELDS[self.condition_kinds[int(index)]]
            return places.get(key.split(".", 1)[0], places[""])
        if head == "effect":
            field = EFFECT_FIELDS.get(self.cleaned_data.get("effect_kind"), (None,))[0]
            return field if rest and rest != "kind" and field else "effect_kind"
        return name


def _initial(rule: EarningRule) -> dict:
    """The form's fields from a saved rule."""
    initial = {name: plain_number(getattr(rule, name)) for name in RULE_FIELDS if name not in ("conditions", "effect")}
    for condition in rule.conditions or []:
        kind = condition.get("kind")
        if kind == "min_spend":
            initial["min_spend"] = plain_number(Decimal(str(condition["amount"])))
        elif kind == "store":
            initial["stores"] = condition["stores"]
        elif kind == "sku":
            initial["skus"] = ", ".join(condition["skus"])
        elif kind == "category":
            initial["categories"] = ", ".join(condition["categories"])
        elif kind == "date_window":
            initial["date_from"], initial["date_until"] = condition.get("from"), condition.get("until")
        elif kind == "time_of_day":
            initial["time_from"], initial["time_until"] = condition.get("from"), condition.get("until")
        elif kind == "day_of_week":
            initial["days"] = condition["days"]
        elif kind == "tier":
            initial["tiers"] = condition["tiers"]
        elif kind == "first_purchase":
            initial["first_purchase"] = True
        elif kind == "birthday":
            initial["birthday"] = condition.get("within", "day")
        elif kind == "enrolment_anniversary":
            initial["anniversary"] = condition.get("within", "day")
        elif kind == "event_type":
            initial["event_types"] = ", ".join(condition["types"])
        elif kind == "attribute":
            initial["attribute_name"] = condition.get("name", "")
            initial["attribute_values"] = ", ".join(condition.get("values", []))
    effect = rule.effect or {}
    kind = effect.get("kind")
    if kind in EFFECT_FIELDS:
        field, key = EFFECT_FIELDS[kind]
        initial["effect_kind"] = kind
        initial[field] = plain_number(Decimal(str(effect[key]))) if kind == "multiplier" else effect.get(key)
    return initial


class SamplePurchaseForm(forms.Form):
    """A purchase to try the rules on: what a till would send, and what the rules may ask of the member."""

    total = forms.DecimalField(label="Purchase total", min_value=Decimal("0.01"), max_value=1_000_000,
                               max_digits=9, decimal_places=2)
    store = forms.ChoiceField(label="Store", required=False)
    occurred_at = forms.DateTimeField(label="Date and time", widget=DATETIME_INPUT)
    tier = forms.ChoiceField(label="Member's tier", required=False)
    first_purchase = forms.BooleanField(label="The member's first purchase", required=False)
    birthday = forms.BooleanField(label="On the member's birthday", required=False)

    def __init__(self, *args, program, **kwargs):
        kwargs.setdefault("prefix", "sample")
        super().__init__(*args, **kwargs)
        self.program = program
        self.stores = {s.code: s for s in Store.objects.filter(program=program).order_by("-is_active", "code")}
        self.tiers = {t.code: t for t in Tier.objects.filter(program=program).order_by("rank")}
        self.fields["store"].choices = [("", "No store"), *((code, s.name) for code, s in self.stores.items())]
        self.fields["tier"].choices = [("", "No tier"), *((code, t.name) for code, t in self.tiers.items())]
        self.fields["total"].label = f"Purchase total ({program.currency})"
        for index in range(1, SAMPLE_LINES + 1):
            self.fields[f"line{index}_sku"] = forms.CharField(label="SKU", required=False, max_length=64)
            self.fields[f"line{index}_category"] = forms.CharField(label="Category", required=False, max_length=64)
            self.fields[f"line{index}_quantity"] = forms.IntegerField(label="Quantity", required=False, min_value=1,
                                                                      max_value=100_000)
            self.fields[f"line{index}_unit_price"] = forms.DecimalField(
                label="Unit price", required=False, min_value=0, max_value=1_000_000, max_digits=9, decimal_places=2)

    @classmethod
    def starting(cls, *, program, rule: EarningRule | None = None) -> "SamplePurchaseForm":
        """The sample a page opens with, checked: 20.00 now, at the program's first store, by a member with no tier;
        for a saved rule, with the store, tier and an item its conditions name, so the first preview shows it at work.
        """
        stores = list(Store.objects.filter(program=program).order_by("-is_active", "code")
                      .values_list("code", flat=True))
        tiers = list(Tier.objects.filter(program=program).order_by("rank").values_list("code", flat=True))
        named = {c.get("kind"): c for c in (rule.conditions if rule is not None else []) if isinstance(c, dict)}
        values = {"total": "20.00", "store": stores[0] if stores else "",
                  "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
        if store := next((code for code in named.get("store", {}).get("stores", []) if code in stores), None):
            values["store"] = store
        if tier := next((code for code in named.get("tier", {}).get("tiers", []) if code in tiers), None):
            values["tier"] = tier
        if "sku" in named or "category" in named:
            values.update(line1_sku=(named.get("sku", {}).get("skus") or ["ITEM-1"])[0],
                          line1_category=(named.get("category", {}).get("categories") or [""])[0],
                          line1_quantity="2", line1_unit_price="4.50")
        form = cls({f"sample-{name}": value for name, value in values.items()}, program=program)
        form.is_valid()
        return form

    def line_fields(self):
        return [[self[f"line{index}_{part}"] for part in ("sku", "category", "quantity", "unit_price")]
                for index in range(1, SAMPLE_LINES + 1)]

    def clean(self):
        data = super().clean()
        lines = []
        for index in range(1, SAMPLE_LINES + 1):
            sku, category = data.get(f"line{index}_sku"), data.get(f"line{index}_category")
            quantity, price = data.get(f"line{index}_quantity"), data.get(f"line{index}_unit_price")
            if not any((sku, category, quantity, price is not None)):
                continue
            if not sku:
                self.add_error(f"line{index}_sku", "Give the item's SKU, or clear the item.")
                continue
            lines.append({"sku": sku, "category": category or "", "quantity": quantity or 1,
                          "unit_price": str(price if price is not None else data.get("total") or 0)})
        data["lines"] = lines
        return data

    def preview_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"total": data["total"], "occurred_at": data["occurred_at"], "store": self.stores.get(data["store"]),
                "lines": data["lines"], "tier": self.tiers.get(data["tier"]),
                "is_first_purchase": data["first_purchase"], "is_birthday": data["birthday"]}


# --- plain words ------------------------------------------------------------------------------------


def _money(amount, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _names(values) -> str:
    return ", ".join(sorted(values))


def rule_in_words(rule: EarningRule, *, currency: str) -> dict:
    """A rule as a manager would say it: what it earns, when, and its limits."""
    try:
        definition = rule.definition
    except DefinitionError:
        return {"effect": "Its definition cannot be read: open it and save it again.", "when": [], "limits": []}
    when = []
    for condition in definition.conditions:
        kind = condition.kind
        if kind == "min_spend":
            when.append(f"purchases of {_money(condition.amount, currency)} or more")
        elif kind == "store":
            when.append(f"at {_names(condition.stores)}")
        elif kind == "sku":
            when.append(f"on {_names(condition.skus)}")
        elif kind == "category":
            when.append(f"on {_names(condition.categories)}")
        elif kind == "date_window":
            start = f"from {condition.start.day} {condition.start:%b %Y}" if condition.start else ""
            end = f"until {condition.end.day} {condition.end:%b %Y}" if condition.end else ""
            when.append(" ".join(part for part in (start, end) if part))
        elif kind == "time_of_day":
            when.append(f"{condition.start:%H:%M}–{condition.end:%H:%M}")
        elif kind == "day_of_week":
            when.append(", ".join(DAY_NAMES[WEEKDAYS[day]] for day in sorted(condition.days)))
        elif kind == "tier":
            when.append(f"members in {_names(condition.tiers)}")
        elif kind == "first_purchase":
            when.append("the first purchase")
        elif kind == "birthday":
            when.append("on the member's birthday" if condition.within == "day" else "in the birthday month")
        elif kind == "enrolment_anniversary":
            when.append("on the joining anniversary" if condition.within == "day" else "in the anniversary month")
        elif kind == "event_type":
            when.append(f"events {_names(condition.types)}")
        elif kind == "attribute":
            when.append(f"{condition.name} is {' or '.join(sorted(condition.values))}")
    effect = definition.effect
    if effect.kind == "multiplier":
        said = f"×{plain_number(effect.factor)} points"
        said += " on the matching lines" if definition.line_conditions else ""
    elif effect.kind == "fixed_bonus":
        said = f"+{effect.bonus:,} points"
    else:
        said = f"{effect.per_unit:,} points per unit"
    limits = []
    if rule.cap_per_purchase is not None:
        limits.append(f"at most {rule.cap_per_purchase:,} per purchase")
    if rule.cap_per_member is not None:
        limits.append(f"at most {rule.cap_per_member:,} per member a {rule.cap_period}")
    if rule.is_best_of:
        limits.append(f"best of group {rule.group}")
    return {"effect": said, "when": when, "limits": limits}


def _status(rule: EarningRule, now: datetime) -> tuple[str, str]:
    if not rule.active:
        return "Off", "badge"
    if rule.valid_until and rule.valid_until <= now:
        return "Ended", "badge"
    if rule.valid_from and rule.valid_from > now:
        return "Scheduled", "badge-info"
    return "Active", "badge-success"


def _audited(rule: EarningRule) -> dict:
    return snapshot(rule, RULE_FIELDS)


# --- pages ------------------------------------------------------------------------------------------


@require_safe
@staff_view("settings.view")
@in_program_time
def rule_list(request):
    program = request.staff.program
    now = timezone.now()
    rules = EarningRule.objects.filter(program=program).order_by("-active", "applies_to", "priority", "code")
    rows = [(rule, rule_in_words(rule, currency=program.currency), *_status(rule, now)) for rule in rules]
    return render(request, "staff/configuration/rules.html", {
        "rows": rows, "may_change": request.staff.may("settings.change"), "program": program})


def _preview(form: RuleForm, sample: SamplePurchaseForm) -> dict | None:
    """What the sample purchase earns with the rule as written: None while either form has a problem (each
    then says which, beside its fields). Nothing is written."""
    if not (form.is_valid() and sample.is_valid()):
        return None
    draft = form.draft()
    try:
        earning_rule_validate(rule=draft)
    except DomainError as refusal:
        form.add_refusal(refusal)
        return None
    kwargs = sample.preview_kwargs()
    return _earned(form.program, draft, kwargs, sample=sample.cleaned_data)


def _earned(program, draft: EarningRule, kwargs: dict, *, sample: dict) -> dict:
    """The preview's breakdown, with each line named and a sentence on what the draft rule does here."""
    result = purchase_earnings_preview(program=program, draft=draft, **kwargs)
    names = dict(EarningRule.objects.filter(program=program).values_list("code", "name"))
    names[draft.code] = draft.name
    rows = [{"code": e.rule, "points": e.points, "draft": e.rule == draft.code, "base": e.rule_id is None,
             "name": "Base rate" if e.rule_id is None else names.get(e.rule, e.rule)} for e in result.earnings]
    draft_points = sum(row["points"] for row in rows if row["draft"])
    if draft.applies_to != EarningRule.AppliesTo.PURCHASE:
        verdict = "This is not a purchase rule: a purchase earns what the program's purchase rules give."
    elif not draft.active:
        verdict = "This rule is switched off, so it adds nothing."
    elif result.draft_unmet is None:
        verdict = "This rule is not valid at that date and time, so it adds nothing."
    elif result.draft_unmet:
        unmet = ", ".join(CONDITION_NAMES[kind] for kind in result.draft_unmet)
        verdict = f"This rule adds nothing: the purchase does not meet {unmet}."
    elif draft_points:
        verdict = f"This rule adds {draft_points:,} point{'s' if draft_points != 1 else ''}."
    elif draft.is_best_of:
        verdict = f"This rule's conditions are met, but another rule of group {draft.group} earns more."
    else:
        verdict = "This rule's conditions are met, but it earns nothing on this purchase (a cap, or no matching spend)."
    return {"rows": rows, "total": result.points, "verdict": verdict, "draft_points": draft_points,
            "sample": sample, "store": kwargs["store"], "tier": kwargs["tier"]}


def _form_page(request, form: RuleForm, *, sample=None, preview=None):
    program = request.staff.program
    rule = form.rule
    if rule is None:
        save_url = settings_url(request, "settings-rule-create")
        preview_url = settings_url(request, "settings-rule-preview-new")
    else:
        save_url = settings_url(request, "settings-rule", rule.pk)
        preview_url = settings_url(request, "settings-rule-preview", rule.pk)
    return render(request, "staff/configuration/rule_form.html", {
        "form": form, "rule": rule, "program": program, "preview": preview, "save_url": save_url,
        "preview_url": preview_url,
        "sample": sample or SamplePurchaseForm.starting(program=program),
        "may_change": request.staff.may("settings.change"),
        "in_words": rule_in_words(rule, currency=program.currency) if rule is not None else None,
        "status": _status(rule, timezone.now()) if rule is not None else None,
    })


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.change")
@in_program_time
def rule_new(request):
    program = request.staff.program
    if request.method != "POST":
        return _form_page(request, RuleForm(program=program))
    form = RuleForm(request.POST, program=program)
    created = form.submit(lambda: audited_change(request, action="earning_rule.create", fields=_audited,
                                                 write=lambda: earning_rule_create(program=program,
                                                                                   **form.rule_values())))
    if created:
        messages.success(request, f"Rule {created[0].name} added.")
        return redirect_to(request, "settings-rules")
    return _form_page(request, form, sample=SamplePurchaseForm(request.POST, program=program))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def rule_edit(request, rule_id):
    rule = staff_object(request, EarningRule.objects.all(), "settings.view", pk=rule_id)
    return in_program_time(_rule_edit)(request, rule)


def _rule_edit(request, rule):
    staff, program = request.staff, request.staff.program
    if request.method != "POST":
        form = RuleForm(program=program, rule=rule, read_only=not staff.may("settings.change"))
        # The page opens with what the starting sample earns under the rule as saved.
        sample = SamplePurchaseForm.starting(program=program, rule=rule)
        preview = _earned(program, rule, sample.preview_kwargs(), sample=sample.cleaned_data)
        return _form_page(request, form, sample=sample, preview=preview)
    staff.require("settings.change")
    form = RuleForm(request.POST, program=program, rule=rule)
    saved = form.submit(lambda: audited_change(request, action="earning_rule.update", before=rule, fields=_audited,
                                               write=lambda: earning_rule_update(rule=rule, **form.rule_changes())))
    if saved:
        messages.success(request, f"Rule {saved[0].name} saved.")
        return redirect_to(request, "settings-rules")
    return _form_page(request, form, sample=SamplePurchaseForm(request.POST, program=program))


@require_POST
@staff_view("settings.view", record=True)
def rule_activation(request, rule_id, active: bool):
    rule = staff_object(request, EarningRule.objects.all(), "settings.change", pk=rule_id)
    audited_change(request, action="earning_rule.activate" if active else "earning_rule.deactivate", before=rule,
                   fields=_audited, write=lambda: earning_rule_activate(rule=rule, active=active))
    messages.success(request, f"Rule {rule.name} earns again from now on." if active else
                     f"Rule {rule.name} is switched off: it earns nothing from now on. What it gave stays.")
    return redirect_to(request, "settings-rule", rule.pk)


def _preview_answer(request, form: RuleForm):
    program = request.staff.program
    sample = SamplePurchaseForm(request.POST, program=program)
    preview = _preview(form, sample)
    if request.headers.get("HX-Request") == "true":
        return render(request, "staff/configuration/_rule_preview.html", {
            "preview": preview, "form": form, "sample": sample, "program": program})
    # Without JavaScript: the whole page again, the rule as typed (not saved) and what it earns.
    return _form_page(request, form, sample=sample, preview=preview)


@require_POST
@staff_view("settings.change")
@in_program_time
def rule_preview_new(request):
    return _preview_answer(request, RuleForm(request.POST, program=request.staff.program))


@require_POST
@staff_view("settings.view", record=True)
def rule_preview(request, rule_id):
    rule = staff_object(request, EarningRule.objects.all(), "settings.view", pk=rule_id)

    def answer(request):
        # Those who may only look try purchases on the rule as saved: their fields are disabled, never sent.
        form = RuleForm(request.POST, program=request.staff.program, rule=rule,
                        read_only=not request.staff.may("settings.change"))
        return _preview_answer(request, form)

    return in_program_time(answer)(request)

