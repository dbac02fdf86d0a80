from django.contrib import admin

from loyalty.admin import flag_column, flag_filter

from .models import Program, Store, StoreApiKey


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "currency", "points_per_unit", "pending_days", "expiry_days")
    search_fields = ("name", "slug")
    inlines = [StoreInline]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "program", flag_column("is_active", "active"))
    list_filter = ("program", flag_filter("is_active", "status", "Active", "Inactive"))
    list_select_related = ("program",)
    search_fields = ("code", "name")


@admin.register(StoreApiKey)
class StoreApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "store", "created_at", "last_used_at", "revoked_at")
    list_filter = ("store__program",)
    list_select_related = ("store",)
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    fields = ("store", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request):
        # Keys are created with `manage.py create_api_key` (or the dashboard) so the
        # secret can be shown exactly once.
        return False
