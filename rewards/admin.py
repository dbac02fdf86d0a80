from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import Redemption, RedemptionStatusChange, Reward, RewardCategory


@admin.register(RewardCategory)
class RewardCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "program", "position")
    list_filter = ("program",)


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "program", "type", "points_cost", "stock_remaining", "min_tier", "is_active")
    list_filter = ("program", "type", "is_active")
    search_fields = ("code", "name")
    filter_horizontal = ("categories",)


class StatusChangeInline(ReadOnlyInline):
    model = RedemptionStatusChange
    fields = ("from_status", "to_status", "actor", "reason", "created_at")


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    """Status changes go through the services (refunds, stock), never through a form."""

    list_display = ("voucher_code", "reward", "member", "points_spent", "status", "issued_at", "expires_at")
    list_filter = ("status", "reward__program", "reward")
    search_fields = ("voucher_code", "member__card_number", "member__email")
    inlines = [StatusChangeInline]
