"""Staff set each program's notification choices and read the outbox; messages are never edited."""

from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin

from .models import NotificationSettings, Outbox
from .services import outbox_message


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("program", "emails_enabled", "expiry_warning_days", "from_email")
    list_select_related = ("program",)


@admin.register(Outbox)
class OutboxAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "to", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "category", "program")
    search_fields = ("to", "dedupe_key", "rendered_subject")
    # subject, text and html: as sent, or as a message not yet sent would be sent now
    exclude = ("claim_token", "rendered_subject", "rendered_text", "rendered_html")
    readonly_fields = ("program", "member", "channel", "kind", "category", "dedupe_key", "to", "from_email", "subject",
                       "text", "html", "headers", "context", "status", "attempts", "next_attempt_at",
                       "claimed_until", "created_at", "sent_at", "last_error")
    raw_id_fields = ("member",)

    def _message(self, row: Outbox):
        if getattr(row, "_message", None) is None:  # rendered once per row shown
            row._message = outbox_message(row)
        return row._message

    @admin.display(description="subject")
    def subject(self, row: Outbox) -> str:
        return self._message(row).subject

    @admin.display(description="text")
    def text(self, row: Outbox) -> str:
        return self._message(row).text

    @admin.display(description="HTML")
    def html(self, row: Outbox) -> str:
        return self._message(row).html
