"""Staff set each program's notification choices and read the outbox; messages are never edited."""

from django.contrib import admin

from .models import NotificationSettings, Outbox


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("program", "emails_enabled", "expiry_warning_days", "from_email")


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "category", "to", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "category", "program")
    search_fields = ("to", "dedupe_key", "subject")
    exclude = ("claim_token",)
    readonly_fields = ("program", "member", "channel", "kind", "category", "dedupe_key", "to", "from_email", "subject",
                       "text", "html", "headers", "status", "attempts", "next_attempt_at", "claimed_until",
                       "created_at", "sent_at", "last_error")
    raw_id_fields = ("member",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
