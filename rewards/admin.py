from django.contrib import admin

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


class StatusChangeInline(admin.TabularInline):
    model = RedemptionStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "reason", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    list_display = ("voucher_code", "reward", "member", "points_spent", "status", "issued_at", "expires_at")
    list_filter = ("status", "reward__program", "reward")
    search_fields = ("voucher_code", "member__card_number", "member__email")
    inlines = [StatusChangeInline]

    def has_change_permission(self, request, obj=None):
        return False  # status changes go through the services (refunds, stock)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
