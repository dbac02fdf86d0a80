"""Stored answers to redemption Idempotency-Keys go after the retention; purchases keep theirs for good."""

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from loyalty.idempotency import idempotency_keys_purge, idempotency_keys_purgeable
from loyalty.models import IdempotencyRecord
from loyalty.tasks import purge_idempotency_keys
from rewards.models import Redemption
from tests.rewards.conftest import coffee, give_points, redeem  # noqa: F401 - coffee is a fixture

from .test_settings import SETUP, environment, run


def _age(scope: str, key: str, hours: float) -> None:
    IdempotencyRecord.objects.filter(scope=scope, key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def _purchase(pos, member, external_id: str):
    return pos.post("/api/v1/pos/purchases/", {"external_id": external_id, "member": {
        "card_number": member.card_number}, "currency": "EUR", "total": "12.00"}, format="json")


def test_old_redemption_keys_go_and_the_rest_stays(pos, member, coffee):  # noqa: F811
    give_points(member, 500)
    assert redeem(pos, member, "FREE-COFFEE", key="old").status_code == 201
    assert redeem(pos, member, "FREE-COFFEE", key="recent").status_code == 201
    assert _purchase(pos, member, "P-OLD").status_code == 201
    retention = settings.IDEMPOTENCY_KEY_RETENTION_HOURS
    _age("redemption", "old", retention + 1)
    _age("redemption", "recent", retention - 1)
    _age("purchase", "P-OLD", retention * 50)

    assert idempotency_keys_purge() == 1

    assert set(IdempotencyRecord.objects.values_list("scope", "key")) == {("redemption", "recent"),
                                                                         ("purchase", "P-OLD")}
    # A key kept is still a replay; a purged key is free again; an old purchase still replays its answer.
    assert redeem(pos, member, "FREE-COFFEE", key="recent").status_code == 200
    assert redeem(pos, member, "FREE-COFFEE", key="old").status_code == 201
    assert Redemption.objects.filter(member=member).count() == 3
    replay = _purchase(pos, member, "P-OLD")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (200, "true")


def test_the_retention_is_the_setting(pos, member, coffee, settings):  # noqa: F811
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS = 24
    give_points(member, 500)
    for key in ("a", "b"):
        assert redeem(pos, member, "FREE-COFFEE", key=key).status_code == 201
    _age("redemption", "a", 25)
    _age("redemption", "b", 23)

    assert idempotency_keys_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]


def test_a_purge_runs_in_batches_until_done_and_a_rerun_finds_nothing(pos, member, coffee):  # noqa: F811
    give_points(member, 1000)
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        assert redeem(pos, member, "FREE-COFFEE", key=key).status_code == 201
        _age("redemption", key, settings.IDEMPOTENCY_KEY_RETENTION_HOURS + 2)

    assert idempotency_keys_purge(batch_size=2) == 5
    assert idempotency_keys_purge(batch_size=2) == 0
    assert not IdempotencyRecord.objects.exists()


def test_the_daily_task_and_the_command_purge(pos, member, coffee, capsys):  # noqa: F811
    give_points(member, 500)
    for key in ("x", "y"):
        assert redeem(pos, member, "FREE-COFFEE", key=key).status_code == 201
    _age("redemption", "x", settings.IDEMPOTENCY_KEY_RETENTION_HOURS + 1)
    assert purge_idempotency_keys.delay().get() == 1
    _age("redemption", "y", settings.IDEMPOTENCY_KEY_RETENTION_HOURS + 1)

    call_command("purge_idempotency_keys")

    assert "Purged 1 stored answer(s)" in capsys.readouterr().out
    assert not IdempotencyRecord.objects.exists()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "loyalty.tasks.purge_idempotency_keys" in scheduled


def test_a_retention_shorter_than_the_contracts_24_hours_refuses_to_start(tmp_path):
    result = run(SETUP, environment(tmp_path, DJANGO_DEBUG="true", IDEMPOTENCY_KEY_RETENTION_HOURS="12"))

    assert result.returncode != 0
    assert "IDEMPOTENCY_KEY_RETENTION_HOURS must be at least 24" in result.stderr


def test_the_purge_reads_only_the_partial_index_of_purgeable_rows(db):
    """The query's condition must imply the index's, or the purge would walk every purchase's record."""
    query = idempotency_keys_purgeable(timezone.now()).values_list("pk", flat=True)[:5000]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()
    assert "idempotency_purge_idx" in plan
