"""Staff records in the admin: roles and policies are edited here; the audit log, adjustments and imports
are facts to read (the dashboard writes them through its services), and an authenticator app is only
ever removed here, never shown: its secret stays out of every page."""

from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin

from .mfa import totp_device_reset
from .models import Adjustment, AuditEvent, ImportJob, StaffPolicy, StaffRole, TotpDevice


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "program", "role", "created_at")
    list_filter = ("program", "role")
    list_select_related = ("user", "program")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)


@admin.register(StaffPolicy)
class StaffPolicyAdmin(admin.ModelAdmin):
    list_display = ("program", "approval_threshold", "agent_adjustment_limit", "two_factor_for_managers")
    list_select_related = ("program",)

    @admin.display(description="two-factor for managers", boolean=True, ordering="manager_mfa_required")
    def two_factor_for_managers(self, policy: StaffPolicy) -> bool:
        return policy.manager_mfa_required


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_name", "action", "target_label", "program")
    list_filter = ("program", "action")
    list_select_related = ("program",)
    search_fields = ("actor_name", "action", "target_label", "reason")
    date_hierarchy = "created_at"


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("requested_at", "member", "points", "reason_code", "status", "requested_by")
    list_filter = ("status", "program", "reason_code")
    list_select_related = ("member", "requested_by")
    search_fields = ("member__card_number", "member__email", "note")


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "file_name", "kind", "status", "processed_rows", "error_rows")
    list_filter = ("program", "kind", "status")
    search_fields = ("file_name",)
    exclude = ("content",)  # the uploaded file itself: kept for the job, not for reading here


@admin.register(TotpDevice)
class TotpDeviceAdmin(admin.ModelAdmin):
    """People set their app up on their account page; an administrator may only remove one (a lost phone)."""

    list_display = ("user", "state", "confirmed_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    fields = ("user", "confirmed_at")  # never the secret, nor the last step used
    readonly_fields = fields

    @admin.display(description="state")
    def state(self, device: TotpDevice) -> str:
        return "On" if device.confirmed_at else "Being set up"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        totp_device_reset(device=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            totp_device_reset(device=device, actor=request.user)
