"""Redis (the cache and the broker) stopped and started again while tills post purchases and redemptions to a
production-like server: the tills carry on, no committed request answers an error, and the emails of the outage
are sent once the sweep runs."""

import time

import pytest
from django.core.management import call_command

from earning.models import Purchase
from notifications.models import Outbox
from notifications.services import outbox_send_due
from rewards.models import Redemption
from tests.jobs.test_broker import database_url_of_tests

from .support import PrivateRedis, Traffic, WebServer, enrol_tills, is_clean_503, post

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

KEY = "fault-test-pos-key-redis-0001"
CLIENTS = 4
OUTAGE_SECONDS = 4


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_tills_carry_on_through_a_redis_restart_and_the_emails_of_the_outage_go_out_after_it(redis_server, tmp_path):
    call_command("seed_demo", "--api-key", KEY)
    web = WebServer(tmp_path / "web.log", DATABASE_URL=database_url_of_tests(), CACHE_URL=redis_server.url + "/0",
                    CELERY_BROKER_URL=redis_server.url + "/1", POS_KEY_CACHE_SECONDS="10")
    try:
        cards = enrol_tills(web.url, key=KEY, count=CLIENTS)

        def call(client: int, n: int):
            member = {"card_number": cards[client]}
            if n % 2 == 0:
                return post(web.url, "/api/v1/pos/purchases/",
                            {"external_id": f"R-{client}-{n}", "member": member, "currency": "EUR", "total": "60.00"},
                            key=KEY)
            return post(web.url, "/api/v1/pos/redemptions/", {"member": member, "reward": "FREE-COFFEE"}, key=KEY,
                        headers={"Idempotency-Key": f"K-{client}-{n}"})

        traffic = Traffic().run(call, clients=CLIENTS, limit=400)
        time.sleep(1.5)
        redis_server.stop()
        stopped = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        redis_server.start()
        restarted = time.monotonic()
        time.sleep(2)
        traffic.stop()
    finally:
        web.stop()

    during = [a for a in traffic.answers if stopped <= a.at <= restarted]
    counts = traffic.counts()
    print(f"\nRedis outage of {restarted - stopped:.1f}s: {len(traffic.answers)} calls ({len(during)} during it), "
          f"answers {dict(counts)}")
    assert during, "no call was answered while Redis was down"
    assert "Traceback" not in (tmp_path / "web.log").read_text()  # nothing failed after its commit either
    assert all(a.status in (200, 201) or is_clean_503(a) for a in traffic.answers), [
        (a.status, a.json) for a in traffic.answers if a.status not in (200, 201)][:5]

    purchase_ids = {external_id: str(pk) for external_id, pk in
                    Purchase.objects.filter(external_id__startswith="R-").values_list("external_id", "pk")}
    answered_purchases = {a.body["external_id"]: a.json["id"] for a in traffic.answers
                          if a.path.endswith("/purchases/") and a.status == 201}
    assert purchase_ids == answered_purchases  # nothing committed answered an error, nothing answered was lost

    redeemed = {str(pk) for pk in Redemption.objects.values_list("pk", flat=True)}
    answered_redemptions = {a.json["id"] for a in traffic.answers if a.path.endswith("/redemptions/")
                            and a.status == 201}
    assert redeemed == answered_redemptions

    # The emails of every earn and redemption, queued in the outbox while nobody could be woken, go out
    # with the sweep (beat runs it every minute).
    queued = Outbox.objects.filter(kind__in=["points_earned", "reward_issued"])
    assert queued.count() == len(answered_purchases) + len(answered_redemptions)
    outbox_send_due(limit=500)
    assert not queued.exclude(status="sent").exists()
