"""Staff configure tiers and policies here; a member's tier is changed only through ``tier_assign``."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from loyalty.admin import ReadOnlyAdmin, titled
from loyalty.errors import DomainError

from .models import MemberTier, QualifyingActivity, Tier, TierChange, TierPolicy
from .services import tier_assign


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    list_display = ("program", "metric", "window", "window_months", "downgrade", "grace_days")
    list_select_related = ("program",)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("program", "rank", "code", "name", "threshold", "multiplier")
    list_filter = ("program",)
    list_select_related = ("program",)
    ordering = ("program", "rank")


class TierAssignForm(forms.Form):
    tier = forms.ModelChoiceField(queryset=Tier.objects.none())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    locked_until = forms.DateTimeField(required=False, help_text="Optional: no recalculation changes it before.")

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = Tier.objects.filter(program=program).order_by("rank")


@admin.register(MemberTier)
class MemberTierAdmin(ReadOnlyAdmin):
    list_display = ("member", "tier", "qualifying_value", "achieved_at", "valid_until", "locked_until")
    list_filter = ("program", "tier")
    search_fields = ("member__card_number", "member__email")
    list_select_related = ("member", "tier")

    def get_urls(self):
        return [path("<uuid:pk>/assign/", self.admin_site.admin_view(self.assign_view), name="tiers_membertier_assign"),
                *super().get_urls()]

    def has_assign_permission(self, request):
        return request.user.has_perm("tiers.change_membertier")

    def assign_view(self, request, pk):
        status = get_object_or_404(MemberTier.objects.select_related("member"), pk=pk)
        if not self.has_assign_permission(request):
            messages.error(request, "You may not change members' tiers.")
            return redirect(reverse("admin:tiers_membertier_change", args=[pk]))
        form = TierAssignForm(request.POST or None, program=status.program_id)
        if request.method == "POST" and form.is_valid():
            try:
                tier_assign(member=status.member, actor=f"user:{request.user.pk}", **form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                messages.success(request, "Tier set.")
                return redirect(reverse("admin:tiers_membertier_change", args=[pk]))
        context = {**self.admin_site.each_context(request), "title": f"Set the tier of {status.member}",
                   "form": form, "opts": self.model._meta, "original": status}
        return TemplateResponse(request, "admin/tiers/assign.html", context)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "from_tier", "to_tier", "cause", "actor")
    list_filter = ("program", "cause")
    search_fields = ("member__card_number", "member__email")
    list_select_related = ("member", "from_tier", "to_tier")


@admin.register(QualifyingActivity)
class QualifyingActivityAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "member", "source_type", "points", "spend", "credits")
    list_filter = ("program", ("source_type", titled("source")))
    search_fields = ("member__card_number", "member__email", "source_id")
    list_select_related = ("member",)
