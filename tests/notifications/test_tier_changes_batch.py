"""A batch of tier changes is announced with exactly the rows announcing each change on its own writes."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.events import announce
from members.models import Member
from notifications import services
from notifications.events import tier_changes_received as tier_change_emails_write
from notifications.models import NotificationSettings, Outbox
from tests.factories import MemberFactory
from tiers.events import tier_changed_payload
from tiers.models import TierChange
from tiers.services import tier_define
from tiers.signals import tier_changes_recorded
from webhooks.models import WebhookDelivery, WebhookEndpoint

# Written by the publisher's clock: equal to each other, and left out of the comparison.
MOMENTS = ("created_at", "next_attempt_at")


@pytest.fixture
def changes(program, store, member):
    """Tier changes of members the email rules treat differently, up and down, from and to no tier."""
    bean = tier_define(program=program, code="bean", name="Bean", rank=1, threshold=0)
    gold = tier_define(program=program, code="gold", name="Gold", rank=2, threshold=100)
    grete = MemberFactory(program=program, store=store, email="grete@example.com", first_name="Grete",
                          last_name='Müller "Gi"', language="de")
    pierre = MemberFactory(program=program, store=store, email="pierre@example.com", first_name="Pierre")
    Member.objects.filter(pk=pierre.pk).update(language="fr")  # a language the site does not offer
    silent = MemberFactory(program=program, store=store, email="")
    moves = [(member, bean, gold, "recalc"), (grete, gold, bean, "downgrade"), (pierre, None, bean, "recalc"),
             (silent, gold, bean, "downgrade"), (member, gold, None, "downgrade")]
    for someone, from_tier, to_tier, cause in moves:
        TierChange.objects.create(program=program, member=someone, from_tier=from_tier, to_tier=to_tier, cause=cause,
                                  reason="test", actor="task:tier_recalculate", qualifying_value=0,
                                  created_at="2026-03-02T09:00:00Z")
    return TierChange.objects.filter(program=program).order_by("pk")


def one_by_one(program, changes):
    """Each change as the per-member path announces it (``tiers.services``)."""
    for change in changes.select_related("member", "from_tier", "to_tier"):
        announce(program=program.pk, type="tier.changed", member=change.member, key=str(change.pk),
                 payload=tier_changed_payload(cause=change.cause, from_tier=change.from_tier, to_tier=change.to_tier))


def in_one_batch(program, changes):
    tier_changes_recorded.send(sender=TierChange, program=program, changes=changes)


def written_by(announce, program, changes) -> tuple[dict, list]:
    """The outbox rows and webhook deliveries there are after ``announce``, which is then undone."""
    with transaction.atomic():
        announce(program, changes)
        emails = {}
        for row in Outbox.objects.values():
            row.pop("id")
            assert row["created_at"] == row["next_attempt_at"]
            emails[row["dedupe_key"]] = {name: value for name, value in row.items() if name not in MOMENTS}
        deliveries = sorted(
            ((d.endpoint_id, str(d.event_id), d.event_type, d.status, {**d.payload, "created_at": None})
             for d in WebhookDelivery.objects.all()), key=str)
        transaction.set_rollback(True)
    return emails, deliveries


def test_a_batch_writes_the_emails_and_deliveries_of_its_changes_one_by_one(program, changes):
    WebhookEndpoint.objects.create(program=program, url="http://127.0.0.1:9/hooks", events=["tier.changed"])

    emails, deliveries = written_by(in_one_batch, program, changes)

    assert (emails, deliveries) == written_by(one_by_one, program, changes)
    assert len(deliveries) == 5
    assert sorted(row["to"] for row in emails.values()) == [
        "ada@example.com", "ada@example.com", "grete@example.com", "pierre@example.com"], "no address, no email"
    grete = next(row for row in emails.values() if row["to"] == "grete@example.com")
    assert (grete["kind"], grete["category"], grete["from_email"], grete["headers"]) == (
        "tier_changed", "transactional", "Loyalty <loyalty@localhost>", {})
    assert grete["context"]["language"] == "de"
    assert grete["context"]["member"]["last_name"] == 'Müller "Gi"'
    assert grete["context"]["data"]["to_tier"] == {"code": "bean", "name": "Bean"}
    pierre = next(row for row in emails.values() if row["to"] == "pierre@example.com")
    assert pierre["context"]["language"] == "en"
    assert pierre["context"]["data"]["from_tier"] is None


def test_a_batch_in_several_statements_writes_the_same_rows(program, changes, monkeypatch):
    monkeypatch.setattr(services, "OUTBOX_INSERT_ROWS", 2)

    assert written_by(in_one_batch, program, changes) == written_by(one_by_one, program, changes)


def test_a_program_without_emails_gets_none_from_a_batch_either(program, changes):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    WebhookEndpoint.objects.create(program=program, url="http://127.0.0.1:9/hooks", events=["tier.changed"])

    emails, deliveries = written_by(in_one_batch, program, changes)

    assert (emails, deliveries) == written_by(one_by_one, program, changes)
    assert emails == {} and len(deliveries) == 5


def test_the_programs_sender_is_the_batchs_too(program, changes):
    NotificationSettings.objects.create(program=program, from_email="Coffee Club <club@example.com>")

    emails, _ = written_by(in_one_batch, program, changes)

    assert emails == written_by(one_by_one, program, changes)[0]
    assert {row["from_email"] for row in emails.values()} == {"Coffee Club <club@example.com>"}


def test_an_email_already_queued_is_kept_as_it_was_by_a_batch_too(program, changes):
    first = changes.first()
    one_by_one(program, changes.filter(pk=first.pk))
    (queued,) = Outbox.objects.values()
    Member.objects.filter(pk=first.member_id).update(first_name="Changed")

    emails, _ = written_by(in_one_batch, program, changes)

    assert emails == written_by(one_by_one, program, changes)[0]
    assert len(emails) == 4
    assert Outbox.objects.values().get(pk=queued["id"]) == queued
    assert emails[queued["dedupe_key"]]["context"]["member"]["first_name"] == "Ada"


def test_a_batch_answers_what_it_wrote_and_wakes_the_sender_once(program, changes, monkeypatch):
    one_by_one(program, changes.filter(pk=changes.first().pk))
    wakes = []
    monkeypatch.setattr("notifications.events.outbox_sweep_schedule", lambda: wakes.append(None))

    assert tier_change_emails_write(TierChange, program=program, changes=changes) == 3
    assert wakes == [None]
    assert tier_change_emails_write(TierChange, program=program, changes=changes) == 0
    assert wakes == [None], "nothing new, nobody to wake"


def test_rows_written_together_read_back_as_they_were_built(program, member, clock):
    """Whatever differs between the rows of one insert (moments, headers) arrives intact, to the microsecond."""
    program_settings = NotificationSettings(program=program)
    built = [services.outbox_values(member=member, kind=kind, data={"n": n}, dedupe_key=f"k{n}",
                                     program_settings=program_settings,
                                     now=timezone.now() + timedelta(microseconds=n))
             for n, kind in enumerate(["points_earned", "survey_invitation", "points_earned"])]
    assert set(built[0]) == {field.name for field in Outbox._meta.concrete_fields if not field.primary_key}

    assert services.outbox_insert([*built, built[0]]) == 3
    assert services.outbox_insert(built) == 0, "queued already"

    for row in built:
        stored = Outbox.objects.get(dedupe_key=row["dedupe_key"])
        assert {name: getattr(stored, Outbox._meta.get_field(name).attname) for name in row} == row
    assert "List-Unsubscribe" in Outbox.objects.get(dedupe_key="k1").headers
