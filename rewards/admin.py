from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline, flag_column, flag_filter

from .models import Cause, Donation, Redemption, RedemptionStatusChange, Reward, RewardCategory


@admin.register(RewardCategory)
class RewardCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "program", "position")
    list_filter = ("program",)
    list_select_related = ("program",)


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "program", "points_cost", "stock", flag_column("is_active", "active"))
    list_filter = ("program", "type", flag_filter("is_active", "status", "Active", "Inactive"))
    list_select_related = ("program",)
    search_fields = ("code", "name")
    filter_horizontal = ("categories",)

    @admin.display(description="stock", ordering="stock_remaining")
    def stock(self, reward: Reward):
        return "Unlimited" if reward.stock_remaining is None else reward.stock_remaining


class StatusChangeInline(ReadOnlyInline):
    model = RedemptionStatusChange
    fields = ("from_status", "to_status", "actor", "reason", "created_at")


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    """Status changes go through the services (refunds, stock), never through a form."""

    list_display = ("voucher_code", "reward", "member", "points_spent", "status", "issued_at")
    list_filter = ("status", "reward__program", "reward")
    list_select_related = ("reward", "member")
    search_fields = ("voucher_code", "member__card_number", "member__email")
    inlines = [StatusChangeInline]


@admin.register(Cause)
class CauseAdmin(admin.ModelAdmin):
    """Causes members give points to in the portal; a cause with donations is switched off, not deleted."""

    list_display = ("code", "name", "program", flag_column("active", "active"), "created_at")
    list_filter = ("program", flag_filter("active", "status", "Active", "Inactive"))
    list_select_related = ("program",)
    search_fields = ("code", "name")


@admin.register(Donation)
class DonationAdmin(ReadOnlyAdmin):
    """Donations are points spent through the ledger: never changed through a form."""

    list_display = ("cause", "member", "points", "created_at")
    list_filter = ("cause__program", "cause")
    list_select_related = ("cause", "member")
    search_fields = ("member__card_number", "member__email", "cause__code")
