from django.contrib import admin

from .models import Purchase, Return


class ReturnInline(admin.TabularInline):
    model = Return
    fk_name = "purchase"
    extra = 0
    can_delete = False
    fields = ("external_id", "store", "amount", "points_reversed", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ("external_id", "store", "member", "total", "currency", "points_awarded", "occurred_at")
    list_filter = ("program", "store")
    search_fields = ("external_id", "member__card_number", "member__email")
    raw_id_fields = ("member",)
    inlines = [ReturnInline]

    def has_change_permission(self, request, obj=None):
        return False  # receipts are facts; corrections go through returns and adjustments

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
