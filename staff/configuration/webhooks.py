"""Webhooks: the program's endpoints (a public URL, the events it wants, a signing secret shown once), their recent
deliveries and failures, and a test event sent through the real delivery path."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
    webhook_test_send,
)

from ..access import staff_object, staff_view
from ..services import audit_record, staff_actor
from .forms import SettingsForm
from .pages import audited_change, redirect_to, settings_url

RECENT_DELIVERIES = 25
STATUS_FILTERS = {"failed": "Failed", "pending": "Waiting to retry", "succeeded": "Delivered"}


def secret_hint(secret: str) -> str:
    """What staff see of a secret after it was shown once: enough to tell two apart."""
    return f"{secret[:10]}…"


def _audited(endpoint: WebhookEndpoint) -> dict:
    # The secret itself is never written anywhere but its own column.
    return {"url": endpoint.url, "description": endpoint.description, "events": sorted(endpoint.events),
            "active": endpoint.active, "secret": secret_hint(endpoint.secret)}


class EndpointForm(SettingsForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="Where events are posted, e.g. https://crm.example.com/loyalty-hooks. Only public "
                                   "internet addresses: never a private network or this server.")
    description = forms.CharField(label="Description", max_length=200, required=False,
                                  help_text="Who receives it, e.g. CRM sync.")
    events = forms.MultipleChoiceField(label="Events", choices=EVENT_TYPES, widget=forms.CheckboxSelectMultiple,
                                       error_messages={"required": "Choose at least one event."})

    def __init__(self, *args, endpoint: WebhookEndpoint | None = None, **kwargs):
        initial = {"events": [name for name, _ in EVENT_TYPES]}
        if endpoint is not None:
            initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
        super().__init__(*args, initial=initial, **kwargs)

    def values(self) -> dict:
        data = self.cleaned_data
        return {"url": data["url"], "description": data["description"].strip(), "events": list(data["events"])}


def _endpoint_of(request, endpoint_id, action: str = "settings.view") -> WebhookEndpoint:
    return staff_object(request, WebhookEndpoint.objects.select_related("program"), action, pk=endpoint_id)


def _list_page(request, form, *, status: int = 200):
    program = request.staff.program
    since = timezone.now() - timedelta(days=7)
    endpoints = (WebhookEndpoint.objects.filter(program=program)
                 .annotate(recent=Count("deliveries", filter=Q(deliveries__created_at__gte=since)),
                           failed=Count("deliveries", filter=Q(deliveries__created_at__gte=since,
                                                               deliveries__status=WebhookDelivery.Status.FAILED)),
                           retrying=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.PENDING,
                                                                 deliveries__attempts__gt=0)),
                           last_delivered=Max("deliveries__delivered_at"))
                 .order_by("-active", "url"))
    return render(request, "staff/configuration/webhooks.html", {
        "endpoints": endpoints, "form": form, "may_change": request.staff.may("settings.change"),
        "event_names": dict(EVENT_TYPES), "program": program}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view")
def webhook_list(request):
    staff = request.staff
    if request.method != "POST":
        return _list_page(request, EndpointForm(read_only=not staff.may("settings.change")))
    staff.require("settings.change")
    form = EndpointForm(request.POST)
    created = form.submit(lambda: audited_change(
        request, action="webhook.create", fields=_audited,
        write=lambda: webhook_endpoint_create(program=staff.program, **form.values())))
    if not created:
        return _list_page(request, form)
    # Shown on this response only, like a POS key: the secret is in no URL, session or log.
    return _endpoint_page(request, created[0], new_secret=created[0].secret, created=True)


def _endpoint_page(request, endpoint: WebhookEndpoint, *, form=None, new_secret: str = "", created: bool = False):
    may_change = request.staff.may("settings.change")
    shown = request.GET.get("status")
    deliveries = endpoint.deliveries.order_by("-created_at", "-id")
    if shown in STATUS_FILTERS:
        deliveries = deliveries.filter(status=shown)
    since = timezone.now() - timedelta(days=7)
    counts = endpoint.deliveries.filter(created_at__gte=since).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(status=WebhookDelivery.Status.FAILED)),
        succeeded=Count("id", filter=Q(status=WebhookDelivery.Status.SUCCEEDED)))
    response = render(request, "staff/configuration/webhook.html", {
        "endpoint": endpoint, "may_change": may_change, "secret_hint": secret_hint(endpoint.secret),
        "form": form or EndpointForm(endpoint=endpoint, read_only=not may_change),
        "deliveries": list(deliveries[:RECENT_DELIVERIES]), "shown": shown if shown in STATUS_FILTERS else "",
        "filters": STATUS_FILTERS, "shown_label": STATUS_FILTERS.get(shown, ""), "counts": counts,
        "new_secret": new_secret, "created": created,
        "event_names": dict(EVENT_TYPES), "detail_url": settings_url(request, "settings-webhook", endpoint.pk),
    })
    if new_secret:
        response["Cache-Control"] = "no-store"  # the only copy of the secret: no cache, no back-button copy
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def webhook_detail(request, endpoint_id):
    endpoint = _endpoint_of(request, endpoint_id)
    if request.method != "POST":
        return _endpoint_page(request, endpoint)
    request.staff.require("settings.change")
    form = EndpointForm(request.POST, endpoint=endpoint)
    saved = form.submit(lambda: audited_change(
        request, action="webhook.update", before=endpoint, fields=_audited,
        write=lambda: webhook_endpoint_update(endpoint=endpoint, **{
            name: value for name, value in form.values().items() if value != getattr(endpoint, name)})))
    if saved:
        messages.success(request, "Endpoint saved.")
        return redirect_to(request, "settings-webhook", endpoint.pk)
    return _endpoint_page(request, endpoint, form=form)


@require_POST
@staff_view("settings.view", record=True)
def webhook_activation(request, endpoint_id, active: bool):
    endpoint = _endpoint_of(request, endpoint_id, "settings.change")
    audited_change(request, action="webhook.enable" if active else "webhook.disable", before=endpoint,
                   fields=_audited, write=lambda: webhook_endpoint_update(endpoint=endpoint, active=active))
    messages.success(request, "The endpoint receives events again from now on." if active else
                     "The endpoint is disabled: it receives nothing, and what was waiting for it is not sent.")
    return redirect_to(request, "settings-webhook", endpoint.pk)


@require_POST
@staff_view("settings.view", record=True)
def webhook_secret_rotate(request, endpoint_id):
    endpoint = _endpoint_of(request, endpoint_id, "settings.change")
    rotated, _ = audited_change(request, action="webhook.secret_rotate", before=endpoint, fields=_audited,
                                write=lambda: webhook_endpoint_secret_rotate(endpoint=endpoint))
    return _endpoint_page(request, rotated, new_secret=rotated.secret)


@require_POST
@staff_view("settings.view", record=True)
def webhook_test(request, endpoint_id):
    endpoint = _endpoint_of(request, endpoint_id, "settings.change")
    if not endpoint.active:
        messages.error(request, "The endpoint is disabled: enable it to send a test event.")
        return redirect_to(request, "settings-webhook", endpoint.pk)
    with transaction.atomic():
        delivery = webhook_test_send(endpoint=endpoint, actor=staff_actor(request.user))
        audit_record(actor=request.user, program=endpoint.program, action="webhook.test", target=endpoint,
                     after={"event": delivery.event_type, "delivery": delivery.pk})
    # Without a broker the test went out as the transaction committed: its outcome is known now.
    delivery.refresh_from_db()
    attempt = delivery.attempt_log.order_by("-attempted_at", "-id").first()
    took = f" in {attempt.duration_ms} ms" if attempt else ""
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        messages.success(request, f"Test event delivered: the endpoint answered HTTP {delivery.response_code}{took}.")
    elif delivery.status == WebhookDelivery.Status.FAILED:
        answered = f" It answered: {delivery.response_body}" if delivery.response_body else ""
        why = (delivery.last_error or "no answer").removeprefix("not sent: ")
        messages.error(request, f"The test event was not delivered: {why}.{answered}")
    else:
        messages.info(request, "Test event queued: a worker sends it within seconds; its result appears below.")
    return redirect_to(request, "settings-webhook", endpoint.pk)


@require_POST
@staff_view("settings.view", record=True)
def webhook_replay(request, endpoint_id, delivery_id):
    endpoint = _endpoint_of(request, endpoint_id, "settings.change")
    delivery = get_object_or_404(endpoint.deliveries.all(), pk=delivery_id)
    with transaction.atomic():
        replay = webhook_delivery_replay(delivery=delivery, actor=staff_actor(request.user))
        audit_record(actor=request.user, program=endpoint.program, action="webhook.replay", target=endpoint,
                     after={"event": delivery.event_type, "event_id": delivery.event_id, "delivery": replay.pk,
                            "replay_of": delivery.pk})
    messages.success(request, f"{delivery.get_event_type_display()} sent again as a new delivery.")
    return redirect_to(request, "settings-webhook", endpoint.pk)
