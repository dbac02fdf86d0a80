"""Staff manage endpoints, read the delivery log and replay deliveries; deliveries are never edited."""

from django import forms
from django.contrib import admin, messages

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline, flag_filter

from .models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import webhook_delivery_replay


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_TYPES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ("program", "url", "description", "events", "active", "secret")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "program", "active", "event_list", "created_at")
    list_filter = ("program", flag_filter("active", "status", "Active", "Paused"))
    list_select_related = ("program",)
    search_fields = ("url", "description")

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("attempted_at", "response_code", "duration_ms", "error", "response_body")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "endpoint", "status", "attempts", "response_code")
    list_filter = ("status", "event_type", "endpoint__program")
    search_fields = ("event_id", "endpoint__url")
    list_select_related = ("endpoint",)
    readonly_fields = ("endpoint", "program", "event_id", "event_type", "payload", "status", "attempts",
                       "next_attempt_at", "claimed_until", "response_code", "response_body", "last_error",
                       "replay_of", "replayed_by", "created_at", "delivered_at")
    exclude = ("claim_token",)
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_replay_permission(self, request):
        return request.user.has_perm("webhooks.replay_webhookdelivery")

    @admin.action(description="Replay selected deliveries (send the event again)", permissions=["replay"])
    def replay(self, request, queryset):
        actor = f"user:{request.user.pk}"
        replays = [webhook_delivery_replay(delivery=delivery, actor=actor) for delivery in queryset]
        self.message_user(request, f"Queued {len(replays)} replay(s).", messages.SUCCESS)
