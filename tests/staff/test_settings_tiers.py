"""Tiers: the ladder edited by managers (out-of-order ladders refused), the policy, read-only for analysts."""

from decimal import Decimal

import pytest

from staff.models import AuditEvent
from tests.tiers.conftest import ladder_define
from tiers.models import Tier, TierPolicy
from tiers.services import tier_define

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/tiers/"
NEW = "/staff/settings/tiers/new/"


@pytest.fixture
def ladder(program):
    return ladder_define(program)


def tier_data(tier, **changes):
    data = {"name": tier.name, "rank": tier.rank, "threshold": tier.threshold, "multiplier": tier.multiplier,
            "benefits": tier.benefits, "perks": "\n".join(tier.perks)}
    return {**data, **changes}


def test_manager_sees_the_ladder_with_thresholds_and_multipliers(manager_client, ladder):
    html = manager_client.get(LIST).content.decode()
    assert "Gold" in html and "2,000" in html and "×1.5" in html
    assert "Add a tier" in html and "Save tier policy" in html


def test_manager_adds_a_tier_and_it_is_audited(manager_client, manager, program, ladder):
    response = manager_client.post(NEW, {"code": "platinum", "name": "Platinum", "rank": 4, "threshold": "5000",
                                         "multiplier": "2", "perks": "Free upsizing\n\nLounge access\n"})

    assert response.status_code == 302 and response["Location"] == LIST
    tier = Tier.objects.get(program=program, code="platinum")
    assert tier.threshold == 5000 and tier.perks == ["Free upsizing", "Lounge access"]
    event = AuditEvent.objects.get(action="tier.create")
    assert event.actor == manager and event.after["code"] == "platinum" and event.after["threshold"] == "5000"


def test_manager_edits_a_tier_and_only_the_change_is_audited(manager_client, ladder):
    silver = ladder["silver"]
    response = manager_client.post(f"{LIST}{silver.pk}/", tier_data(silver, threshold="750", multiplier="1.3"))

    assert response.status_code == 302
    silver.refresh_from_db()
    assert silver.threshold == 750 and silver.multiplier == Decimal("1.3") and silver.code == "silver"
    event = AuditEvent.objects.get(action="tier.update")
    assert event.before == {"threshold": "500.00", "multiplier": "1.250"}
    assert event.after == {"threshold": "750", "multiplier": "1.3"}


def test_the_code_of_a_tier_stays_what_it_was(manager_client, ladder):
    silver = ladder["silver"]
    manager_client.post(f"{LIST}{silver.pk}/", tier_data(silver, code="argent", name="Argent"))
    silver.refresh_from_db()
    assert silver.code == "silver" and silver.name == "Argent"


@pytest.mark.parametrize(("tier", "changes", "message"), [
    ("silver", {"threshold": "2500"}, "below Gold"),
    ("silver", {"threshold": "0"}, "above Bronze"),
    ("gold", {"rank": "2"}, "Silver already has rank 2"),
    ("gold", {"multiplier": "-1"}, "greater than or equal to 0"),
    ("gold", {"threshold": "many"}, "Enter a number"),
])
def test_an_out_of_order_ladder_is_refused_and_nothing_changes(manager_client, ladder, tier, changes, message):
    target = ladder[tier]
    before = list(Tier.objects.order_by("rank").values())

    response = manager_client.post(f"{LIST}{target.pk}/", tier_data(target, **changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(Tier.objects.order_by("rank").values()) == before
    assert not AuditEvent.objects.exists()


def test_a_new_tier_with_a_code_in_use_is_refused(manager_client, ladder):
    response = manager_client.post(NEW, {"code": "gold", "name": "Gold 2", "rank": 9, "threshold": "9000",
                                         "multiplier": "2"})
    assert response.status_code == 200 and "already has a tier gold" in response.content.decode()
    assert Tier.objects.count() == 3


def test_manager_changes_the_tier_policy(manager_client, program, ladder):
    response = manager_client.post("/staff/settings/tiers/policy/", {
        "metric": "spend", "window": "calendar_year", "window_months": 12, "downgrade": "stepwise",
        "grace_days": 60})

    assert response.status_code == 302
    policy = TierPolicy.objects.get(program=program)
    assert (policy.metric, policy.window, policy.downgrade, policy.grace_days) == (
        "spend", "calendar_year", "stepwise", 60)
    event = AuditEvent.objects.get(action="tier_policy.update")
    assert event.before == {"metric": "points", "window": "rolling_months", "downgrade": "never", "grace_days": 30}


def test_a_bad_tier_policy_is_refused(manager_client, program, ladder):
    response = manager_client.post("/staff/settings/tiers/policy/", {
        "metric": "vibes", "window": "rolling_months", "window_months": 0, "downgrade": "never", "grace_days": 1})
    html = response.content.decode()
    assert response.status_code == 200 and "Select a valid choice" in html and "greater than or equal to 1" in html
    assert TierPolicy.objects.get(program=program).metric == "points"


def test_analyst_reads_tiers_but_cannot_change_them(analyst_client, ladder):
    gold = ladder["gold"]
    html = analyst_client.get(LIST).content.decode()
    assert "Gold" in html and "Add a tier" not in html and "Save tier policy" not in html and "disabled" in html
    page = analyst_client.get(f"{LIST}{gold.pk}/").content.decode()
    assert "Save tier" not in page and "disabled" in page
    assert analyst_client.get(NEW).status_code == 403
    assert analyst_client.post(f"{LIST}{gold.pk}/", tier_data(gold, name="Mine")).status_code == 403
    assert analyst_client.post("/staff/settings/tiers/policy/", {"metric": "spend"}).status_code == 403
    gold.refresh_from_db()
    assert gold.name == "Gold"


def test_agent_is_refused_the_tier_pages(agent_client, ladder):
    assert agent_client.get(LIST).status_code == 403
    assert agent_client.get(f"{LIST}{ladder['gold'].pk}/").status_code == 403


def test_another_programs_tier_is_a_404(manager_client, ladder, other_program):
    theirs = tier_define(program=other_program, code="vip", name="VIP", rank=1, threshold=0)
    assert manager_client.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert manager_client.post(f"{LIST}{theirs.pk}/", tier_data(theirs, name="Mine")).status_code == 404
    assert manager_client.get(f"{LIST}99999999999999999999/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "VIP"
