"""The rewards catalogue: list, create and edit with image, stock, window, limits, tier and categories."""

import io
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from rewards.models import Reward, RewardCategory
from rewards.services import reward_create
from staff.models import AuditEvent
from tests.tiers.conftest import ladder_define
from tiers.services import tier_define

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/rewards/"
NEW = "/staff/settings/rewards/new/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def coffee(program):
    return reward_create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50)


@pytest.fixture
def tote(program):
    return reward_create(program=program, code="TOTE-BAG", name="Tote bag", points_cost=400, stock_remaining=5)


def jpeg(size=(400, 250)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 90)).save(out, format="JPEG")
    return out.getvalue()


def reward_data(reward=None, **changes):
    data = {"code": "MUG", "name": "Mug", "description": "", "type": "product_voucher", "points_cost": 300,
            "limit_period": "ever", "is_active": "on"}
    if reward is not None:
        data = {"name": reward.name, "description": reward.description, "type": reward.type,
                "points_cost": reward.points_cost, "limit_period": reward.limit_period,
                "stock_remaining": "" if reward.stock_remaining is None else reward.stock_remaining,
                "initial-stock_remaining": "" if reward.stock_remaining is None else reward.stock_remaining}
        if reward.is_active:
            data["is_active"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_manager_sees_the_catalogue_with_cost_stock_and_status(manager_client, coffee, tote, program):
    Reward.objects.create(program=program, code="GONE", name="Old mug", points_cost=10, is_active=False)
    html = manager_client.get(LIST).content.decode()
    assert "Free coffee" in html and "Tote bag" in html and "Unlimited" in html
    assert "Live" in html and "Hidden" in html and "Add a reward" in html


def test_manager_creates_a_reward_with_everything_and_it_is_audited(manager_client, manager, program):
    tiers = ladder_define(program)
    RewardCategory.objects.create(program=program, slug="drinks", name="Drinks")
    drinks = RewardCategory.objects.get(slug="drinks")
    data = reward_data(code="gold-mug", name="Gold mug", description="A heavy mug.", stock_remaining=20,
                       available_from="2026-03-01T09:00", available_until="2026-04-01T18:30",
                       limit_per_member=2, limit_period="month", min_tier=tiers["gold"].pk,
                       voucher_valid_days=30, refund_on_expiry="on", categories=[drinks.pk],
                       new_category="Homeware", image=SimpleUploadedFile("mug.jpg", jpeg()))

    response = manager_client.post(NEW, data)

    assert response.status_code == 302 and response["Location"] == LIST
    reward = Reward.objects.get(program=program, code="GOLD-MUG")
    assert (reward.stock_remaining, reward.limit_per_member, reward.limit_period) == (20, 2, "month")
    assert reward.min_tier == tiers["gold"] and reward.voucher_valid_days == 30 and reward.refund_on_expiry
    assert reward.available_from == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert sorted(c.name for c in reward.categories.all()) == ["Drinks", "Homeware"]
    assert reward.image.name.startswith("rewards/") and reward.image.name.endswith(".jpg")
    assert manager_client.get(f"{LIST}{reward.pk}/image/")["Content-Type"] == "image/jpeg"
    event = AuditEvent.objects.get(action="reward.create")
    assert event.actor == manager and event.after["code"] == "GOLD-MUG"
    assert event.after["categories"] == ["Drinks", "Homeware"] and event.after["stock_remaining"] == 20


def test_dates_are_read_in_the_programs_time_zone(manager_client, program):
    program.time_zone = "Europe/Berlin"
    program.save()
    manager_client.post(NEW, reward_data(available_from="2026-07-01T10:00"))
    reward = Reward.objects.get(code="MUG")
    assert reward.available_from == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert 'value="2026-07-01T10:00"' in manager_client.get(f"{LIST}{reward.pk}/").content.decode()


def test_manager_edits_stock_and_only_the_change_is_audited(manager_client, tote):
    response = manager_client.post(f"{LIST}{tote.pk}/", reward_data(tote, stock_remaining=12))

    assert response.status_code == 302
    tote.refresh_from_db()
    assert tote.stock_remaining == 12
    event = AuditEvent.objects.get(action="reward.update")
    assert event.before == {"stock_remaining": 5} and event.after == {"stock_remaining": 12}


def test_a_save_that_left_the_stock_alone_keeps_redemptions_made_meanwhile(manager_client, tote):
    data = reward_data(tote, name="Canvas tote bag")  # the page showed stock 5
    Reward.objects.filter(pk=tote.pk).update(stock_remaining=3)  # two redeemed since

    manager_client.post(f"{LIST}{tote.pk}/", data)

    tote.refresh_from_db()
    assert tote.name == "Canvas tote bag" and tote.stock_remaining == 3


def test_replacing_and_removing_the_image(manager_client, coffee):
    manager_client.post(f"{LIST}{coffee.pk}/", {**reward_data(coffee), "image": SimpleUploadedFile("a.jpg", jpeg())})
    coffee.refresh_from_db()
    assert coffee.image
    assert manager_client.get(f"{LIST}{coffee.pk}/image/").status_code == 200

    manager_client.post(f"{LIST}{coffee.pk}/", {**reward_data(coffee), "image_remove": "on"})
    coffee.refresh_from_db()
    assert not coffee.image
    assert manager_client.get(f"{LIST}{coffee.pk}/image/").status_code == 404


@pytest.mark.parametrize(("changes", "message"), [
    ({"code": "FREE-COFFEE"}, "already has a reward FREE-COFFEE"),
    ({"code": "no good"}, "Use letters, digits"),
    ({"points_cost": 0}, "costs at least 1 point"),
    ({"type": "percent_discount"}, "Say how much the discount is"),
    ({"type": "percent_discount", "discount_value": "150"}, "at most 100"),
    ({"type": "pay_with_points", "points_min": 100, "points_max": 50, "points_step": 10, "money_per_point": "0.01"},
     "at least the fewest"),
    ({"type": "pay_with_points"}, "Pay-with-points rewards need this"),
    ({"available_from": "2026-05-01T10:00", "available_until": "2026-04-01T10:00"}, "must come after its start"),
    ({"available_from": "yesterday"}, "Enter a valid date/time"),
    ({"stock_remaining": -3}, "greater than or equal to 0"),
    ({"limit_per_member": 0}, "Leave it empty for no limit"),
    ({"image": SimpleUploadedFile("evil.jpg", b"<svg onload=alert(1)>")}, "not an image we can read"),
])
def test_an_invalid_reward_is_refused_beside_its_field_and_nothing_is_saved(manager_client, coffee, changes, message):
    response = manager_client.post(NEW, reward_data(**changes))

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "There is a problem" in html
    assert list(Reward.objects.values_list("code", flat=True)) == ["FREE-COFFEE"]
    assert not AuditEvent.objects.exists()


def test_an_edit_refused_changes_nothing(manager_client, tote):
    response = manager_client.post(f"{LIST}{tote.pk}/", reward_data(tote, name="Bag", points_cost=0))
    assert response.status_code == 200 and "costs at least 1 point" in response.content.decode()
    tote.refresh_from_db()
    assert tote.name == "Tote bag" and tote.points_cost == 400


def test_another_programs_tier_or_category_cannot_be_chosen(manager_client, program, other_program):
    theirs = tier_define(program=other_program, code="vip", name="VIP", rank=1, threshold=0)
    their_category = RewardCategory.objects.create(program=other_program, slug="x", name="X")
    response = manager_client.post(NEW, reward_data(min_tier=theirs.pk, categories=[their_category.pk]))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Reward.objects.exists()


def test_analyst_reads_rewards_but_cannot_change_them(analyst_client, coffee):
    assert "Add a reward" not in analyst_client.get(LIST).content.decode()
    page = analyst_client.get(f"{LIST}{coffee.pk}/").content.decode()
    assert "Save reward" not in page and "disabled" in page and "Read only." in page
    assert analyst_client.get(NEW).status_code == 403
    assert analyst_client.post(NEW, reward_data()).status_code == 403
    assert analyst_client.post(f"{LIST}{coffee.pk}/", reward_data(coffee, name="Mine")).status_code == 403
    coffee.refresh_from_db()
    assert coffee.name == "Free coffee" and Reward.objects.count() == 1


def test_agent_is_refused_the_reward_pages(agent_client, coffee):
    assert agent_client.get(LIST).status_code == 403
    assert agent_client.get(f"{LIST}{coffee.pk}/").status_code == 403
    assert agent_client.get(f"{LIST}{coffee.pk}/image/").status_code == 403


def test_another_programs_reward_is_a_404(manager_client, coffee, other_program):
    theirs = Reward.objects.create(program=other_program, code="THEIRS", name="Theirs", points_cost=5)
    assert manager_client.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert manager_client.post(f"{LIST}{theirs.pk}/", reward_data(theirs, name="Mine")).status_code == 404
    assert manager_client.get(f"{LIST}{theirs.pk}/image/").status_code == 404
    assert manager_client.get(f"{LIST}not-a-uuid/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_a_manager_sets_when_a_reward_is_back_in_stock(manager_client, tote):
    response = manager_client.post(f"{LIST}{tote.pk}/", reward_data(tote, stock_remaining=0, restock_on="2027-01-15"))

    assert response.status_code == 302
    tote.refresh_from_db()
    assert (tote.stock_remaining, tote.restock_on.isoformat()) == (0, "2027-01-15")
    refused = manager_client.post(f"{LIST}{tote.pk}/", reward_data(tote, restock_on="the 15th"))
    assert refused.status_code == 200 and "Enter a valid date." in refused.content.decode()
