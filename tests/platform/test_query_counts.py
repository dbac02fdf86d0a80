"""Queries per POS request, exactly: a change that adds one fails here (bench/README.md has the figures).

Each count is for the steady state of a busy till: the key already looked up once (and cached, as
with the shared cache of a deployment), the member already known to the tiers. When a count has to
change, change it here on purpose and say why in the commit; every query is a round trip inside a
transaction that holds the member's locks, so they add up under load (bench/pos_load.py).
"""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from programs.demo import demo_seed
from tests.conftest import pos_client
from tests.factories import MemberFactory

KEY = "query-count-key-0001"

# What each request costs, queries including savepoints. The ledger claims the key and reads the account's
# due (and, spending, spendable) lots in one statement and writes lot, entry, movements and balance in
# another (ledger/sql.py); an earn with no lot falling due is written by the claim's statement itself, and a
# purchase counts towards tiers in one (tiers/counting.py). Every other row (the purchase, its email in the
# outbox, a redemption's status log) is its owner's own insert.
# A purchase reads what its rules need of the member (purchases before, tier), each from the app that owns it.
PURCHASE_QUERIES = 12
LOOKUP_QUERIES = 1
REDEMPTION_QUERIES = 12
ENROL_QUERIES = 10
# A return: the purchase locked, its lots, the account locked, the ledger's claim (with the due lots), the
# own and the other spendable lots, the posting, the return, the tier activity, the purchase updated, the
# balance read back.
RETURN_QUERIES = 15
VOUCHER_USE_QUERIES = 6


@pytest.fixture(autouse=True)
def _key_cache_on():
    # Steady state: the key and the program's configuration (rules, tier ladder, webhook subscriptions,
    # notification settings) are memoised; 60 s so a slow machine does not see them expire between the
    # warm-up and the count.
    with override_settings(POS_KEY_CACHE_SECONDS=10, PROGRAM_CONFIG_CACHE_SECONDS=60):
        yield


@pytest.fixture
def demo(db):
    return demo_seed(program_slug="demo", store_code="DEMO-001", api_key=KEY)


@pytest.fixture
def till(demo):
    client = pos_client(KEY)
    assert client.get("/api/v1/pos/members/lookup/?email=nobody@example.com").status_code == 404  # key cached
    return client


@pytest.fixture
def shopper(demo, till):
    member = MemberFactory(program=demo.program, store=demo.store, email="shopper@example.com")
    assert purchase(till, member, "WARM-UP", "100.00").status_code == 201  # enough points, a tier status row
    return member


def purchase(till, member, external_id, total="42.50"):
    return till.post("/api/v1/pos/purchases/", {
        "external_id": external_id, "member": {"card_number": member.card_number}, "currency": "EUR",
        "total": total, "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}],
    }, format="json")


def test_a_purchase(till, shopper, django_assert_num_queries):
    with django_assert_num_queries(PURCHASE_QUERIES):
        response = purchase(till, shopper, "R-1001")

    assert response.status_code == 201
    assert response.json()["points_awarded"] == 42


def test_a_replayed_purchase_is_cheap(till, shopper, django_assert_num_queries):
    assert purchase(till, shopper, "R-1001").status_code == 201

    with django_assert_num_queries(4):  # claim (conflict), read the record, and the savepoint around them
        response = purchase(till, shopper, "R-1001")

    assert response.status_code == 200


def test_a_member_lookup(till, shopper, django_assert_num_queries):
    with django_assert_num_queries(LOOKUP_QUERIES):
        response = till.get(f"/api/v1/pos/members/lookup/?card_number={shopper.card_number}")

    assert response.status_code == 200
    assert response.json()["balance"]["available"] == 100
    assert response.json()["tier"]["code"] == "bronze"


def test_a_redemption(till, shopper, django_assert_num_queries):
    with django_assert_num_queries(REDEMPTION_QUERIES):
        response = till.post("/api/v1/pos/redemptions/", {"member": {"card_number": shopper.card_number},
                                                          "reward": "FREE-COFFEE"},
                             format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")

    assert response.status_code == 201
    assert response.json()["balance"]["available"] == 50


def test_an_enrolment(till, django_assert_num_queries):
    with django_assert_num_queries(ENROL_QUERIES):
        response = till.post("/api/v1/pos/members/", {"email": "new@example.com"}, format="json")

    assert response.status_code == 201


def test_an_uncached_key_costs_one_query_more(demo, shopper, django_assert_num_queries):
    with override_settings(POS_KEY_CACHE_SECONDS=0), django_assert_num_queries(LOOKUP_QUERIES + 1):
        response = pos_client(KEY).get(f"/api/v1/pos/members/lookup/?card_number={shopper.card_number}")

    assert response.status_code == 200


def test_notification_settings_saved_here_apply_to_the_next_purchase(demo, till, shopper):
    from notifications.models import NotificationSettings, Outbox

    assert purchase(till, shopper, "R-2001").status_code == 201  # the settings are memoised now
    emails = Outbox.objects.filter(member=shopper).count()
    NotificationSettings.objects.update_or_create(program=demo.program, defaults={"emails_enabled": False})

    assert purchase(till, shopper, "R-2002").status_code == 201
    assert Outbox.objects.filter(member=shopper).count() == emails


def test_a_busy_tills_statements_are_prepared_once(till, shopper):
    """From its fifth run on a connection a statement is prepared: PostgreSQL no longer parses and plans it."""
    for i in range(6):
        assert purchase(till, shopper, f"P-{i}").status_code == 201

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("INSERT INTO ledger_ledgertransaction" in statement for statement in prepared)  # the ledger's claim
    assert any('INSERT INTO "earning_purchase"' in statement for statement in prepared)


def test_purchases_and_redemptions_send_no_array(till, shopper):
    """A prepared statement is planned for its first five runs, then PostgreSQL keeps one generic plan unless
    that plan looks dearer than the custom ones, as it does with an array parameter (guessed at 100 elements)
    once the tables are large: such a statement is planned again at every request (0.13 ms of the server's
    CPU each, measured on the posting). A redemption's lots go in as a VALUES list."""
    assert purchase(till, shopper, "P-0").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert purchase(till, shopper, "P-1").status_code == 201
        response = till.post("/api/v1/pos/redemptions/", {"member": {"card_number": shopper.card_number},
                                                          "reward": "FREE-COFFEE"},
                             format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")
        assert response.status_code == 201

    assert any("INSERT INTO ledger_lotmovement" in query["sql"] for query in queries.captured_queries)
    assert [query["sql"][:80] for query in queries.captured_queries if "[]" in query["sql"]] == []


def test_an_earn_does_not_read_the_lots_a_spend_would_take(till, shopper):
    """The spendable lots come from a window over every lot the account holds: a member with a long history
    made each purchase slower (purchases for one member at 8 clients: 62 → 192 a second without it)."""
    with CaptureQueriesContext(connection) as queries:
        assert purchase(till, shopper, "P-1").status_code == 201

    claim = [query["sql"] for query in queries.captured_queries
             if "INSERT INTO ledger_ledgertransaction" in query["sql"]]
    assert len(claim) == 1 and "OVER (" not in claim[0]


def test_a_purchase_in_a_program_with_a_webhook_costs_two_queries_more(demo, till, shopper,
                                                                        django_assert_num_queries):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(program=demo.program, url="https://hooks.example.com/loyalty",
                                   events=["points.earned"])
    assert purchase(till, shopper, "R-2000").status_code == 201  # the program's subscriptions memoised again
    # The endpoints, read in the purchase's transaction, and the delivery's insert (no read before or after).
    with django_assert_num_queries(PURCHASE_QUERIES + 2):
        response = purchase(till, shopper, "R-2001")

    assert response.status_code == 201
    assert WebhookDelivery.objects.filter(event_type="points.earned").count() == 2


def test_a_purchase_earning_by_a_capped_rule_costs_two_queries_more(demo, till, shopper, django_assert_num_queries):
    from earning.models import RuleAward
    from earning.services import earning_rule_create

    earning_rule_create(program=demo.program, code="coffee-bonus", name="Coffee bonus",
                        effect={"kind": "fixed_bonus", "points": 5},
                        conditions=[{"kind": "category", "categories": ["coffee"]}],
                        cap_per_member=100, cap_period="month")
    assert purchase(till, shopper, "R-3000").status_code == 201  # the program's rules memoised again
    # What the rule gave this member this month (its cap), and the award.
    with django_assert_num_queries(PURCHASE_QUERIES + 2):
        response = purchase(till, shopper, "R-3001")

    assert response.json()["points_awarded"] == 47
    assert RuleAward.objects.filter(member=shopper).count() == 2


def test_a_return(till, shopper, django_assert_num_queries):
    assert purchase(till, shopper, "R-4000", "40.00").status_code == 201

    with django_assert_num_queries(RETURN_QUERIES):
        response = till.post("/api/v1/pos/returns/", {"external_id": "RET-4000", "purchase_external_id": "R-4000",
                                                      "amount": "10.00"}, format="json")

    assert response.status_code == 201
    assert response.json()["points_reversed"] == 10


def test_a_voucher_used_at_a_till(till, shopper, django_assert_num_queries):
    redeemed = till.post("/api/v1/pos/redemptions/", {"member": {"card_number": shopper.card_number},
                                                      "reward": "FREE-COFFEE"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="redeem-voucher")
    code = redeemed.json()["voucher_code"]

    # The voucher read, then locked; its status and the status change written. voucher.used emails nobody,
    # and without a subscribed endpoint its event needs nothing of the program.
    with django_assert_num_queries(VOUCHER_USE_QUERIES):
        response = till.post(f"/api/v1/pos/vouchers/{code}/use/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "used"


def test_a_members_tier_progress(till, shopper, django_assert_num_queries):
    # The member, their qualifying sum and their status row; the policy and ladder are memoised.
    with django_assert_num_queries(3):
        response = till.get(f"/api/v1/pos/members/{shopper.pk}/tier/")

    assert response.status_code == 200
    assert response.json()["tier"]["code"] == "bronze"
    assert response.json()["next_tier"]["code"] == "silver"
