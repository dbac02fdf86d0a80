"""``loyalty.rows`` writes and reads the same rows and instances as the ORM."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from earning.models import Purchase
from loyalty import rows
from loyalty.models import IdempotencyRecord
from loyalty.rows import prep, row_insert, row_update, rows_exist, rows_insert, rows_select, rows_select_one
from members.models import Member

LINES = [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]


def a_purchase(program, store, member, external_id):
    return Purchase(program=program, store=store, external_id=external_id, member=member, currency="EUR",
                    total=Decimal("42.50"), occurred_at=timezone.now(), lines=LINES, points_awarded=42,
                    breakdown=[{"rule": "base", "points": 42}], actor="test")


def columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_an_inserted_row_reads_back_as_the_orm_saves_it(program, store, member):
    by_orm = a_purchase(program, store, member, "ORM-1")
    by_orm.save(force_insert=True)
    by_rows = a_purchase(program, store, member, "ROWS-1")

    row_insert(by_rows)

    read = Purchase.objects.get(pk=by_rows.pk)
    assert by_rows.created_at is not None  # auto_now_add applied, as save() does
    expected = {**columns(Purchase.objects.get(pk=by_orm.pk)), "id": by_rows.pk, "external_id": "ROWS-1",
                "created_at": read.created_at, "occurred_at": read.occurred_at}
    assert columns(read) == expected
    assert read.lines == LINES and read.total == Decimal("42.50")


def test_an_auto_increment_key_is_read_back(store):
    record = IdempotencyRecord(store=store, scope="test", key="k-1", request_hash="h", response_status=0,
                               response_body={}, created_at=timezone.now())

    row_insert(record)

    assert IdempotencyRecord.objects.get(pk=record.pk).key == "k-1"
    assert row_update(IdempotencyRecord, record.pk, response_status=201, response_body={"points": 42}) == 1
    assert IdempotencyRecord.objects.values_list("response_status", "response_body").get(pk=record.pk) == (
        201, {"points": 42})


def test_a_uuid_key_read_back_from_an_insert_is_the_uuid_the_orm_reads(program, store, member):
    purchase = a_purchase(program, store, member, "KEY-1")

    assert row_insert(purchase, unless_exists=("store", "external_id"))  # the key comes back through RETURNING

    assert isinstance(purchase.pk, uuid.UUID)
    assert purchase.pk == Purchase.objects.get(external_id="KEY-1").pk


def test_a_selected_row_is_the_instance_the_orm_builds(program, member):
    Member.objects.filter(pk=member.pk).update(birth_date=date(1990, 2, 28))
    by_orm = Member.objects.get(pk=member.pk)

    by_rows = rows_select_one(Member, '"program_id" = %s AND "card_number" = %s',
                              [prep(Member, "program", program.pk), member.card_number])

    assert columns(by_rows) == columns(by_orm)  # UUIDs, dates, datetimes typed as the ORM types them
    assert model_to_dict(by_rows) == model_to_dict(by_orm)
    assert rows_select_one(Member, '"card_number" = %s', ["0000"]) is None


def test_exists(program, store, member):
    where, params = '"member_id" = %s', [prep(Purchase, "member", member.pk)]
    assert not rows_exist(Purchase, where, params)

    a_purchase(program, store, member, "E-1").save()

    assert rows_exist(Purchase, where, params)


def test_a_failed_insert_marks_the_transaction_for_rollback_like_save(program, store, member):
    a_purchase(program, store, member, "DUP-1").save()

    with pytest.raises(IntegrityError), transaction.atomic():
        try:
            row_insert(a_purchase(program, store, member, "DUP-1"))
        except IntegrityError:
            assert transaction.get_rollback()
            raise


def test_related_rows_are_cached_as_select_related_caches_them(program, store, member, django_assert_num_queries):
    from ledger.services import points_adjust
    from tiers.models import MemberTier, Tier

    points_adjust(member=member, points=25, actor="staff:test", reason="test", idempotency_key="rows-1")
    gold = Tier.objects.create(program=program, code="gold", name="Gold", rank=2, threshold=100)
    MemberTier.objects.update_or_create(member=member, defaults={"program": program, "tier": gold,
                                                                 "achieved_at": timezone.now()})
    where, params = '"members_member"."id" = %s', [prep(Member, "id", member.pk)]

    with django_assert_num_queries(1):
        read = rows_select_one(Member, where, params, related=("account", "tier_status__tier"))
        assert (read.account.available, read.tier_status.tier.code) == (25, "gold")
        assert read.account.member is read and read.tier_status.member is read

    by_orm = Member.objects.select_related("account", "tier_status__tier").get(pk=member.pk)
    assert columns(read.account) == columns(by_orm.account)
    assert columns(read.tier_status) == columns(by_orm.tier_status)
    assert columns(read.tier_status.tier) == columns(by_orm.tier_status.tier)


def test_a_missing_related_row_is_cached_as_none(program, store, member, django_assert_num_queries):
    from tiers.models import MemberTier

    MemberTier.objects.filter(member=member).delete()
    where, params = '"members_member"."id" = %s', [prep(Member, "id", member.pk)]

    read = rows_select_one(Member, where, params, related=("tier_status__tier",))

    with django_assert_num_queries(0), pytest.raises(MemberTier.DoesNotExist):
        read.tier_status  # noqa: B018 - the access is the test


def _deliveries(endpoint, event_ids):
    from webhooks.models import WebhookDelivery

    return [WebhookDelivery(endpoint_id=endpoint.pk, program_id=endpoint.program_id, event_id=event_id,
                            event_type="points.earned", payload={"n": index})
            for index, event_id in enumerate(event_ids)]


def test_many_rows_go_in_and_only_the_new_ones_keys_come_back(program, monkeypatch):
    import uuid

    from webhooks.models import WebhookDelivery, WebhookEndpoint

    monkeypatch.setattr(rows, "_ROWS_PER_INSERT", 3)  # several statements
    endpoint = WebhookEndpoint.objects.create(program=program, url="https://hooks.example.com/x",
                                              events=["points.earned"])
    events = [uuid.uuid4() for _ in range(7)]
    kept = WebhookDelivery.objects.create(endpoint=endpoint, program=program, event_id=events[2],
                                          event_type="points.earned", payload={"first": True})
    where = '"replay_of_id" IS NULL'

    keys = rows_insert(_deliveries(endpoint, events), unless_exists=("endpoint", "event_id"),
                       unless_exists_where=where)

    assert len(keys) == 6 and kept.pk not in keys
    assert set(WebhookDelivery.objects.exclude(pk=kept.pk).values_list("pk", flat=True)) == set(keys)
    assert WebhookDelivery.objects.get(pk=kept.pk).payload == {"first": True}  # the row already there wins
    new = WebhookDelivery.objects.get(event_id=events[0])
    assert (new.status, new.attempts, new.replayed_by) == ("pending", 0, "")  # the model's defaults
    assert rows_insert(_deliveries(endpoint, events), unless_exists=("endpoint", "event_id"),
                       unless_exists_where=where) == []
    assert rows_insert([]) == []


def test_selected_rows_are_the_instances_the_orm_builds(program):
    from webhooks.models import WebhookEndpoint

    for path in ("b", "a"):
        WebhookEndpoint.objects.create(program=program, url=f"https://hooks.example.com/{path}",
                                       events=["points.earned"])

    found = rows_select(WebhookEndpoint, "program_id = %s", [prep(WebhookEndpoint, "program", program.pk)],
                        order_by="url")

    assert [columns(endpoint) for endpoint in found] == [
        columns(endpoint) for endpoint in WebhookEndpoint.objects.filter(program=program).order_by("url")]


def statement(sql):
    with rows.statement_cursor() as cursor:
        cursor.execute(sql)
        return cursor, cursor.fetchone()


def test_statements_share_the_connections_kept_cursor(db):
    first, one = statement("SELECT 1")
    second, two = statement("SELECT 2")

    assert (one, two) == ((1,), (2,))
    assert second.cursor is first.cursor  # one driver cursor, still open after the block


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_gets_a_new_kept_cursor():
    from django.db import connection

    first, _ = statement("SELECT 1")
    connection.close()  # as at the end of a request when the connection is not kept
    after, three = statement("SELECT 3")

    assert three == (3,)
    assert after.cursor is not first.cursor and after.cursor.connection is connection.connection


def test_statements_through_the_kept_cursor_are_counted_and_their_errors_translated(
        program, store, member, django_assert_num_queries):
    purchase = a_purchase(program, store, member, "KEPT-1")
    with django_assert_num_queries(2):
        row_insert(purchase)
        assert rows_exist(Purchase, "external_id = %s", ["KEPT-1"])

    with pytest.raises(IntegrityError), transaction.atomic():  # Django's error, as from connection.cursor()
        row_insert(a_purchase(program, store, member, "KEPT-1"))
    assert rows_exist(Purchase, "external_id = %s", ["KEPT-1"])  # the cursor goes on after the error


def test_a_writer_that_sends_no_signals_refuses_a_model_that_has_receivers(program, store, member):
    from django.db.models.signals import post_save

    from loyalty.rows import ModelHasReceivers

    def receiver(**kwargs):
        pass

    post_save.connect(receiver, sender=Purchase, weak=False)
    try:
        with pytest.raises(ModelHasReceivers):
            row_insert(Purchase(program=program, store=store, member=member, external_id="SIGNAL-1",
                                total=Decimal("5.00"), occurred_at=timezone.now()))
        with pytest.raises(ModelHasReceivers):
            row_update(Purchase, 1, total=Decimal("1.00"))
    finally:
        post_save.disconnect(receiver, sender=Purchase)
    assert not Purchase.objects.filter(external_id="SIGNAL-1").exists()
