from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline, flag_filter, titled

from .conditions import CONDITIONS
from .effects import EFFECTS
from .models import EarningRule, Event, Purchase, Return


class ReturnInline(ReadOnlyInline):
    model = Return
    fk_name = "purchase"
    fields = ("external_id", "store", "amount", "points_reversed", "created_at")


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    """Receipts are facts; corrections go through returns and adjustments."""

    list_display = ("external_id", "member", "store", "amount", "points_awarded", "occurred_at")
    list_filter = ("program", "store")
    list_select_related = ("member", "store")
    search_fields = ("external_id", "member__card_number", "member__email")
    raw_id_fields = ("member",)
    inlines = [ReturnInline]

    @admin.display(description="total", ordering="total")
    def amount(self, purchase: Purchase) -> str:
        return f"{purchase.total} {purchase.currency}"


def _kinds_help(registry) -> str:
    return format_html_join("", "<br><code>{}</code>", ((cls.help,) for cls in registry.values()))


class EarningRuleForm(forms.ModelForm):
    class Meta:
        model = EarningRule
        fields = ("program", "code", "name", "description", "active", "applies_to", "conditions", "effect",
                  "priority", "group", "stacking", "cap_per_purchase", "cap_per_member", "cap_period",
                  "valid_from", "valid_until")
        widgets = {"conditions": forms.Textarea(attrs={"rows": 6, "cols": 100}),
                   "effect": forms.Textarea(attrs={"rows": 2, "cols": 100})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["conditions"].help_text = "All must match. Kinds:" + _kinds_help(CONDITIONS)
        self.fields["effect"].help_text = "One of:" + _kinds_help(EFFECTS)


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    """Staff configure rules here without code; ``EarningRule.clean`` refuses a definition that cannot run."""

    form = EarningRuleForm
    list_display = ("code", "name", "program", "applies_to", "active", "priority")
    list_filter = ("program", ("applies_to", titled("rule type")),
                   flag_filter("active", "status", "Active", "Inactive"))
    list_select_related = ("program",)
    search_fields = ("code", "name")
    ordering = ("program", "applies_to", "priority", "code")
    fieldsets = (
        (None, {"fields": ("program", "code", "name", "description", "active", "applies_to")}),
        ("Definition", {"fields": ("conditions", "effect")}),
        ("Order and stacking", {"fields": ("priority", "group", "stacking")}),
        ("Caps and validity", {"fields": ("cap_per_purchase", "cap_per_member", "cap_period", "valid_from",
                                          "valid_until")}),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # awards point at rules; retire a rule by deactivating it


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "type", "member", "store", "points_awarded", "occurred_at")
    list_filter = ("program", "store", "type")
    list_select_related = ("member", "store")
    search_fields = ("external_id", "member__card_number", "member__email")
    raw_id_fields = ("member",)
