"""Webhook endpoints: added with a public URL only (the secret shown once), edited, disabled, their secret replaced,
a test event sent through the real delivery path, recent deliveries and failures shown; analysts read, agents
are refused, another program's endpoints do not exist."""

import pytest

from staff.models import AuditEvent
from tests.webhooks.conftest import receiver  # noqa: F401 - the local receiver fixture
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.signing import signature_verify

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/webhooks/"
PUBLIC_URL = "https://93.184.215.14/loyalty-hooks"  # an address, not a name: nothing is looked up
ALL = ["member.enrolled", "points.earned", "points.expired", "tier.changed", "reward.redeemed", "voucher.used"]


@pytest.fixture
def hook(program):
    return WebhookEndpoint.objects.create(program=program, url=PUBLIC_URL, events=["points.earned"],
                                          description="CRM sync")


@pytest.fixture
def live_hook(program, receiver):  # noqa: F811
    return WebhookEndpoint.objects.create(program=program, url=receiver.url, events=ALL)


def field_error(html: str, field: str) -> str:
    start = html.find(f'id="field-{field}"')
    block = html[start:html.find("</div>", start)] if start >= 0 else ""
    return block.split('class="field-error"', 1)[1].split("</p>", 1)[0] if 'class="field-error"' in block else ""


def test_manager_adds_an_endpoint_and_sees_its_secret_once(manager_client, manager, program):
    response = manager_client.post(LIST, {"url": PUBLIC_URL, "description": "CRM sync",
                                          "events": ["points.earned", "tier.changed"]})

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(program=program)
    assert (endpoint.url, endpoint.events, endpoint.active) == (PUBLIC_URL, ["points.earned", "tier.changed"], True)
    html = response.content.decode()
    assert endpoint.secret in html and "shown only this once" in html
    page = manager_client.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert endpoint.secret not in page and endpoint.secret[:10] in page
    event = AuditEvent.objects.get(action="webhook.create")
    assert event.actor == manager and event.after["url"] == PUBLIC_URL
    assert endpoint.secret not in str(event.after) and event.after["secret"] == endpoint.secret[:10] + "…"


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"url": "http://127.0.0.1:8000/hooks"}, "url", "a loopback address"),
    ({"url": "http://10.0.0.5/hooks"}, "url", "a private address"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "a link-local address"),
    ({"url": "http://[::1]/hooks"}, "url", "a loopback address"),
    ({"url": "http://no-such-host.invalid/hooks"}, "url", "could not be resolved"),
    ({"url": "ftp://93.184.215.14/"}, "url", "Enter a valid URL"),
    ({"url": "not a url"}, "url", "Enter a valid URL"),
    ({"url": ""}, "url", "This field is required"),
    ({"events": []}, "events", "Choose at least one event"),
    ({"events": ["points.stolen"]}, "events", "Select a valid choice"),
    ({"description": "x" * 201}, "description", "at most 200 characters"),
])
def test_a_bad_endpoint_is_refused_beside_its_field(manager_client, program, data, field, message):
    response = manager_client.post(LIST, {"url": PUBLIC_URL, "events": ["points.earned"], **data})

    assert response.status_code == 200
    assert message in field_error(response.content.decode(), field)
    assert not WebhookEndpoint.objects.exists() and not AuditEvent.objects.exists()


def test_manager_edits_an_endpoint_and_only_the_change_is_audited(manager_client, hook):
    response = manager_client.post(f"{LIST}{hook.pk}/", {"url": PUBLIC_URL, "description": "CRM sync",
                                                         "events": ["points.earned", "voucher.used"]})
    assert response.status_code == 302 and response["Location"] == f"{LIST}{hook.pk}/"
    hook.refresh_from_db()
    assert hook.events == ["points.earned", "voucher.used"]
    event = AuditEvent.objects.get(action="webhook.update")
    assert event.before == {"events": ["points.earned"]} and event.after == {"events": ["points.earned",
                                                                                      "voucher.used"]}


def test_a_private_url_is_refused_on_edit_too(manager_client, hook):
    response = manager_client.post(f"{LIST}{hook.pk}/", {"url": "http://192.168.1.10/x", "events": ["points.earned"]})
    assert response.status_code == 200 and "a private address" in field_error(response.content.decode(), "url")
    hook.refresh_from_db()
    assert hook.url == PUBLIC_URL and not AuditEvent.objects.exists()


def test_a_disabled_endpoint_is_audited_and_refuses_a_test(manager_client, hook):
    assert manager_client.post(f"{LIST}{hook.pk}/disable/").status_code == 302
    hook.refresh_from_db()
    assert not hook.active
    response = manager_client.post(f"{LIST}{hook.pk}/test/", follow=True)
    assert "enable it to send a test event" in response.content.decode()
    assert not WebhookDelivery.objects.exists()
    manager_client.post(f"{LIST}{hook.pk}/enable/")
    hook.refresh_from_db()
    assert hook.active
    assert [e.action for e in AuditEvent.objects.order_by("created_at")] == ["webhook.disable", "webhook.enable"]


def test_a_new_secret_is_shown_once_and_replaces_the_old(manager_client, hook):
    old = hook.secret
    response = manager_client.post(f"{LIST}{hook.pk}/secret/")

    hook.refresh_from_db()
    assert hook.secret != old and hook.secret.startswith("whsec_")
    assert hook.secret in response.content.decode() and response["Cache-Control"] == "no-store"
    assert hook.secret not in manager_client.get(f"{LIST}{hook.pk}/").content.decode()
    event = AuditEvent.objects.get(action="webhook.secret_rotate")
    assert event.before == {"secret": old[:10] + "…"} and event.after == {"secret": hook.secret[:10] + "…"}


@pytest.mark.django_db(transaction=True)  # the test goes out as the view's transaction really commits
def test_send_test_delivers_a_signed_test_event_through_the_delivery_path(manager_client, live_hook,
                                                                          receiver):  # noqa: F811
    response = manager_client.post(f"{LIST}{live_hook.pk}/test/", follow=True)

    (request,) = receiver.requests
    assert request.json["type"] == "webhook.test" and request.json["program"] == "coffee"
    assert signature_verify(secret=live_hook.secret, body=request.body, header=request.headers["X-Loyalty-Signature"])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.status, delivery.attempts, delivery.response_code) == (
        "webhook.test", "succeeded", 1, 200)
    assert delivery.attempt_log.count() == 1
    html = response.content.decode()
    assert "Test event delivered: the endpoint answered HTTP 200" in html and "Test event" in html
    assert AuditEvent.objects.get(action="webhook.test").after["delivery"] == delivery.pk


@pytest.mark.django_db(transaction=True)
def test_a_failed_test_is_shown_at_once_and_not_retried(manager_client, live_hook, receiver):  # noqa: F811
    receiver.statuses = [503]
    response = manager_client.post(f"{LIST}{live_hook.pk}/test/", follow=True)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 503)
    html = response.content.decode()
    assert "The test event was not delivered: HTTP 503. It answered: receiver says no" in html
    assert "Send again" in html


def test_recent_deliveries_and_failures_are_listed_and_filtered(manager_client, hook):
    for index, status in enumerate(["succeeded", "failed", "pending", "failed"]):
        WebhookDelivery.objects.create(endpoint=hook, program_id=hook.program_id, event_type="points.earned",
                                       event_id=f"00000000-0000-0000-0000-00000000000{index}", payload={},
                                       status=status, attempts=1 if status != "pending" else 2,
                                       response_code=200 if status == "succeeded" else 500,
                                       last_error="" if status == "succeeded" else f"HTTP 500 number {index}")
    html = manager_client.get(f"{LIST}{hook.pk}/").content.decode()
    assert "4 sent, 1 delivered, 2 failed" in html and html.count("Send again") == 2
    assert "HTTP 500 number 1" in html and "Retrying" in html

    failed = manager_client.get(f"{LIST}{hook.pk}/?status=failed").content.decode()
    assert "HTTP 500 number 3" in failed and "HTTP 500 number 1" in failed and "number 2" not in failed
    assert manager_client.get(f"{LIST}{hook.pk}/?status=%00;drop").status_code == 200

    listing = manager_client.get(LIST).content.decode()
    assert "Failing" in listing


def test_a_failed_delivery_is_sent_again_as_a_new_delivery(manager_client, hook):
    failed = WebhookDelivery.objects.create(endpoint=hook, program_id=hook.program_id, event_type="points.earned",
                                            event_id="00000000-0000-0000-0000-000000000001", payload={"a": 1},
                                            status="failed", attempts=6)
    response = manager_client.post(f"{LIST}{hook.pk}/deliveries/{failed.pk}/replay/")

    assert response.status_code == 302
    replay = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert replay.replay_of == failed and str(replay.event_id) == failed.event_id
    assert AuditEvent.objects.get(action="webhook.replay").after["replay_of"] == failed.pk


def test_analyst_reads_webhooks_but_cannot_change_them(analyst_client, hook):
    html = analyst_client.get(LIST).content.decode()
    assert PUBLIC_URL in html and "Add endpoint" not in html
    page = analyst_client.get(f"{LIST}{hook.pk}/").content.decode()
    assert "Save endpoint" not in page and "Send test event" not in page and "disabled" in page
    assert hook.secret not in page
    for url in (LIST, f"{LIST}{hook.pk}/", f"{LIST}{hook.pk}/disable/", f"{LIST}{hook.pk}/secret/",
                f"{LIST}{hook.pk}/test/"):
        assert analyst_client.post(url, {"url": PUBLIC_URL, "events": ["points.earned"]}).status_code == 403
    assert WebhookEndpoint.objects.count() == 1 and not WebhookDelivery.objects.exists()
    assert not AuditEvent.objects.exists()


def test_agent_is_refused_the_webhook_pages(agent_client, hook):
    assert agent_client.get(LIST).status_code == 403
    assert agent_client.get(f"{LIST}{hook.pk}/").status_code == 403
    assert agent_client.post(f"{LIST}{hook.pk}/test/").status_code == 403


def test_another_programs_endpoint_is_a_404(manager_client, hook, other_program):
    theirs = WebhookEndpoint.objects.create(program=other_program, url=PUBLIC_URL, events=["points.earned"])
    theirs_delivery = WebhookDelivery.objects.create(endpoint=theirs, program=other_program, payload={},
                                                     event_type="points.earned", status="failed",
                                                     event_id="00000000-0000-0000-0000-000000000009")
    assert manager_client.get(f"{LIST}{theirs.pk}/").status_code == 404
    for path in ("", "disable/", "secret/", "test/", f"deliveries/{theirs_delivery.pk}/replay/"):
        assert manager_client.post(f"{LIST}{theirs.pk}/{path}", {"url": PUBLIC_URL}).status_code == 404
    # Their delivery through one of our endpoints is no more ours.
    assert manager_client.post(f"{LIST}{hook.pk}/deliveries/{theirs_delivery.pk}/replay/").status_code == 404
    assert manager_client.get(f"{LIST}99999999999999999999/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and WebhookDelivery.objects.count() == 1 and not AuditEvent.objects.exists()
