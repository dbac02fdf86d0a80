"""Rewards and vouchers in the portal: browsing by category, why a reward is out of reach, paying with a chosen
amount of points, undoing a redemption, and the member's vouchers — never another member's."""

import re
import uuid
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format

from ledger.models import LedgerEntry
from rewards.models import Redemption, Reward
from rewards.services import (
    period_end,
    reward_category_create,
    reward_create,
    reward_redeem,
    reward_update,
    voucher_use,
)
from tests.ledger.support import earn
from tiers.services import tier_define

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def rewards_page(client, program, query="", **headers):
    return client.get(f"/portal/{program.slug}/rewards/{query}", **headers)


def token_of(page: str) -> str:
    return re.search(r'name="redemption" value="([0-9a-f-]+)"', page).group(1)


def available(member) -> int:
    member.account.refresh_from_db()
    return member.account.available


@pytest.fixture
def catalogue(program, coffee):
    hot, merch = (reward_category_create(program=program, name=name) for name in ("Hot drinks", "Merchandise"))
    reward_category_create(program=program, name="Nothing here yet")  # no active reward: not offered
    reward_update(reward=coffee, categories=[hot], description="Any size, any milk.")
    mug = reward_create(program=program, code="MUG", name="Enamel mug", points_cost=370, categories=[merch])
    return {"hot": hot, "merch": merch, "mug": mug}


@pytest.fixture
def points_off(program):
    return Reward.objects.create(program=program, code="POINTS-OFF", name="Points off your bill",
                                 type="pay_with_points", points_min=100, points_max=1000, points_step=50,
                                 money_per_point=Decimal("0.01"))


# ------------------------------------------------------------------------------------------ browsing

def test_categories_are_links_and_filter_the_list(rich_member, member_client, program, catalogue):
    everything = rewards_page(member_client, program).text
    assert "Free coffee" in everything and "Enamel mug" in everything
    nav = re.search(r'<nav class="portal-categories".*?</nav>', everything, re.S).group(0)
    assert re.findall(r">([^<]+)</a>", nav) == ["All", "Hot drinks", "Merchandise"]
    assert 'aria-current="page">All<' in nav

    hot = rewards_page(member_client, program, "?category=hot-drinks").text
    assert "Free coffee" in hot and "Any size, any milk." in hot and "Enamel mug" not in hot
    assert 'aria-current="page">Hot drinks<' in hot
    merch = rewards_page(member_client, program, "?category=merchandise").text
    assert "Enamel mug" in merch and "Free coffee" not in merch
    assert "120 more points needed" in merch


@pytest.mark.parametrize("junk", ["nope", "", "nothing-here-yet", "x" * 500, "hot drinks", "%00", "../etc",
                                  "hot-drinks%00", "%F0%9F%8D%95"])
def test_an_unknown_or_junk_category_is_404(member_client, program, catalogue, junk):
    assert rewards_page(member_client, program, f"?category={junk}").status_code == 404


def test_another_programs_category_is_404_here(member_client, program, other_program, catalogue):
    reward_category_create(program=other_program, name="Spa days")
    reward_create(program=other_program, code="SPA", name="Spa day", points_cost=10,
                  categories=[reward_category_create(program=other_program, name="Spa days")])
    assert rewards_page(member_client, program, "?category=spa-days").status_code == 404


def test_each_card_has_its_picture_or_a_placeholder(member_client, program, catalogue, settings, tmp_path):
    from django.core.files.base import ContentFile

    from .test_pages import _png

    settings.MEDIA_ROOT = tmp_path
    catalogue["mug"].image.save("mug.png", ContentFile(_png()))
    text = rewards_page(member_client, program).text
    assert re.search(rf'<img class="portal-reward-img" src="/portal/{program.slug}/rewards/MUG/image" alt=""', text)
    assert 'class="portal-reward-img portal-reward-noimg" aria-hidden="true">F<' in text  # coffee has none


# ------------------------------------------------------------------------------------------ reasons in words

def test_every_reward_out_of_reach_says_why(program, member_with_login, member_client, coffee):
    earn(member_with_login, 80)
    tier_define(program=program, code="silver", name="Silver", rank=1, threshold=500)
    tier_define(program=program, code="gold", name="Gold", rank=2, threshold=2000)
    from tiers.models import Tier

    gold, silver = Tier.objects.get(code="gold"), Tier.objects.get(code="silver")
    reward_create(program=program, code="LOUNGE", name="Lounge", points_cost=10, min_tier=gold)
    reward_create(program=program, code="CAKE", name="Cake", points_cost=10, min_tier=silver)
    reward_create(program=program, code="TOTE", name="Tote", points_cost=10, stock_remaining=0)
    daily = reward_create(program=program, code="DAILY", name="Daily treat", points_cost=10, limit_per_member=1,
                          limit_period="day")
    once = reward_create(program=program, code="ONCE", name="Welcome gift", points_cost=10, limit_per_member=1)
    now = timezone.now()
    reward_create(program=program, code="SOON", name="Summer ice", points_cost=10,
                  available_from=now + timedelta(days=3))
    reward_create(program=program, code="GONE", name="Winter tea", points_cost=10,
                  available_from=now - timedelta(days=30), available_until=now - timedelta(days=1))
    reward_redeem(member=member_with_login, reward=daily, actor="test")
    reward_redeem(member=member_with_login, reward=once, actor="test")

    text = rewards_page(member_client, program).text

    assert "40 more points needed" in text  # 80 - 20 spent = 60; coffee costs 100
    assert "Gold members only" in text
    assert "For Silver members and above" in text
    assert "Out of stock" in text
    with translation.override("en"):
        tomorrow = date_format(period_end("day", now), "DATE_FORMAT")
        soon = date_format(timezone.localtime(now + timedelta(days=3), UTC), "DATE_FORMAT")
    assert f"Limit reached until {tomorrow}" in text
    assert "You have had this reward as often as it allows" in text
    assert f"Available from {soon}" in text
    assert "No longer available" in text
    assert text.count(">Redeem</button>") == 0


def test_reasons_are_in_german_with_german_numbers(program, member_with_login, member_client):
    reward_create(program=program, code="BIKE", name="Fahrrad", points_cost=12500)
    text = rewards_page(member_client, program, HTTP_ACCEPT_LANGUAGE="de").text
    assert "Noch 12.500 Punkte nötig" in text and "Prämienkategorien" not in text
    assert "Sie haben 0 Punkte zum Einlösen." in text


# ------------------------------------------------------------------------------------------ pay with points

def test_pay_with_points_states_its_range_and_redeems_the_chosen_amount(
        program, member_with_login, member_client, points_off, pos):
    earn(member_with_login, 700)
    slug = program.slug
    listed = rewards_page(member_client, program).text
    assert "100 to 1,000 points, as you choose" in listed
    assert f'action="/portal/{slug}/rewards/POINTS-OFF/redeem/"' in listed

    page = member_client.get(f"/portal/{slug}/rewards/POINTS-OFF/redeem/").text
    assert '<label for="id_points">Points to use</label>' in page
    assert "Between 100 and 1,000, in steps of 50. You have 700 points." in page
    assert re.search(r'<input type="number" name="points" value="100"[^>]*min="100"', page)
    assert "100 points are worth" in page and "€1.00" in page
    german = member_client.get(f"/portal/{slug}/rewards/POINTS-OFF/redeem/", HTTP_ACCEPT_LANGUAGE="de").text
    assert "Wert von 100 Punkten" in german and re.search(r"1,00\s€", german)
    assert "Zwischen 100 und 1.000, in Schritten von 50. Sie haben 700 Punkte." in german

    response = member_client.post(f"/portal/{slug}/rewards/POINTS-OFF/redeem/",
                                  {"redemption": token_of(page), "points": "350"})
    assert response.status_code == 302
    voucher = member_client.get(response["Location"]).text
    assert "€3.50 off your bill" in voucher
    assert available(member_with_login) == 350
    code = response["Location"].split("/vouchers/")[1].split("/")[0]
    assert pos.get(f"/api/v1/pos/vouchers/{code}/").json()["status"] == "issued"


@pytest.mark.parametrize(("points", "message"), [
    ("", "Say how many points to use."),
    ("lots", "Enter a whole number of points."),
    ("1e3", "Enter a whole number of points."),
    ("-100", "Choose an amount the reward takes"),
    ("0", "Choose an amount the reward takes"),
    ("50", "Choose an amount the reward takes"),
    ("125", "Choose an amount the reward takes"),
    ("1050", "Choose an amount the reward takes"),
    ("9" * 40, "Choose an amount the reward takes"),
    ("9" * 5000, "Enter a whole number of points."),
    ("650", "You have 600 points: choose fewer."),
])
def test_a_bad_amount_is_answered_beside_the_field_and_nothing_is_redeemed(
        program, member_with_login, member_client, points_off, points, message):
    earn(member_with_login, 600)
    response = member_client.post(f"/portal/{program.slug}/rewards/POINTS-OFF/redeem/",
                                  {"redemption": str(uuid.uuid4()), "points": points})
    assert response.status_code == 400
    beside = re.search(r'<p class="field-error" id="id_points_error">(.*?)</p>', response.text, re.S)
    assert beside and message in beside.group(1)
    assert "There is a problem" in response.text
    assert not Redemption.objects.exists() and available(member_with_login) == 600


def test_pay_with_points_sent_twice_redeems_once(program, member_with_login, member_client, points_off):
    earn(member_with_login, 600)
    form = {"redemption": str(uuid.uuid4()), "points": "200"}
    first = member_client.post(f"/portal/{program.slug}/rewards/POINTS-OFF/redeem/", form)
    again = member_client.post(f"/portal/{program.slug}/rewards/POINTS-OFF/redeem/", form)
    assert first["Location"] == again["Location"]
    assert Redemption.objects.count() == 1 and available(member_with_login) == 400


def test_a_points_amount_sent_for_a_fixed_price_reward_is_ignored(rich_member, member_client, program, coffee):
    response = member_client.post(f"/portal/{program.slug}/rewards/COFFEE/redeem/",
                                  {"redemption": str(uuid.uuid4()), "points": "1"})
    assert response.status_code == 302
    assert Redemption.objects.get().points_spent == 100


# ------------------------------------------------------------------------------------------ undo

def redeem_through_the_page(client, program, code="COFFEE") -> str:
    page = client.get(f"/portal/{program.slug}/rewards/{code}/redeem/").text
    response = client.post(f"/portal/{program.slug}/rewards/{code}/redeem/", {"redemption": token_of(page)})
    return response["Location"].split("/vouchers/")[1].split("/")[0]


def test_a_fresh_voucher_offers_undo_with_the_time_left_and_undo_gives_the_points_back(
        rich_member, member_client, program, coffee, pos):
    code = redeem_through_the_page(member_client, program)
    assert available(rich_member) == 150
    page = member_client.get(f"/portal/{program.slug}/vouchers/{code}/?new=1").text
    assert ">Undo redemption</button>" in page
    assert "You can undo this redemption for 15 more minutes (until " in page
    assert f'action="/portal/{program.slug}/vouchers/{code}/undo/"' in page

    response = member_client.post(f"/portal/{program.slug}/vouchers/{code}/undo/")

    assert response.status_code == 302 and response["Location"].endswith(f"/vouchers/{code}/?undone=1")
    after = member_client.get(response["Location"]).text
    assert "Redemption undone: 100 points are back in your account." in after
    assert "Undo redemption" not in after and "QR code of voucher" not in after
    assert available(rich_member) == 250
    assert pos.get(f"/api/v1/pos/vouchers/{code}/").json()["status"] == "cancelled"

    # The button pressed again: nothing more is given back, the page says what happened.
    again = member_client.post(f"/portal/{program.slug}/vouchers/{code}/undo/")
    assert again.status_code == 302 and "undone" not in again["Location"]
    assert "Cancelled: the 100 points were given back." in member_client.get(again["Location"]).text
    assert available(rich_member) == 250 and LedgerEntry.objects.filter(kind="refund").count() == 1


def test_after_the_window_the_button_is_gone_and_a_forced_undo_is_refused(
        rich_member, member_client, program, coffee):
    code = redeem_through_the_page(member_client, program)
    Redemption.objects.filter(voucher_code=code).update(issued_at=timezone.now() - timedelta(minutes=15))
    page = member_client.get(f"/portal/{program.slug}/vouchers/{code}/").text
    assert "Undo redemption" not in page and "QR code of voucher" in page

    response = member_client.post(f"/portal/{program.slug}/vouchers/{code}/undo/")

    assert response.status_code == 400
    assert "The time to undo this redemption has passed." in response.text
    assert Redemption.objects.get(voucher_code=code).status == "issued" and available(rich_member) == 150


def test_a_used_voucher_cannot_be_undone(rich_member, member_client, program, coffee):
    code = redeem_through_the_page(member_client, program)
    voucher_use(redemption=Redemption.objects.get(voucher_code=code), actor="api_key:1")
    page = member_client.get(f"/portal/{program.slug}/vouchers/{code}/").text
    assert "Undo redemption" not in page and "Used on " in page and "QR code of voucher" not in page

    response = member_client.post(f"/portal/{program.slug}/vouchers/{code}/undo/")

    assert response.status_code == 400 and "has been used" in response.text
    assert Redemption.objects.get(voucher_code=code).status == "used" and available(rich_member) == 150


def test_a_program_without_undo_shows_no_button(rich_member, member_client, program, coffee):
    program.redemption_undo_minutes = 0
    program.save(update_fields=["redemption_undo_minutes"])
    code = redeem_through_the_page(member_client, program)
    assert "Undo redemption" not in member_client.get(f"/portal/{program.slug}/vouchers/{code}/").text
    assert member_client.post(f"/portal/{program.slug}/vouchers/{code}/undo/").status_code == 400
    assert available(rich_member) == 150


def test_another_members_voucher_cannot_be_undone_or_seen(rich_member, member_client, program, coffee,
                                                           other_member, foreign_member):
    earn(other_member, 200)
    theirs = reward_redeem(member=other_member, reward=coffee, actor="test")
    slug = program.slug
    assert member_client.post(f"/portal/{slug}/vouchers/{theirs.voucher_code}/undo/").status_code == 404
    assert member_client.get(f"/portal/{slug}/vouchers/{theirs.voucher_code}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "issued" and available(other_member) == 100
    # A member of another program, signed in there, finds nothing of this program's vouchers either.
    foreign = signed_in(Client(), foreign_member)
    assert foreign.post(f"/portal/{foreign_member.program.slug}/vouchers/{theirs.voucher_code}/undo/").status_code \
        == 404
    assert foreign.post(f"/portal/{slug}/vouchers/{theirs.voucher_code}/undo/").status_code == 302  # sign in first
    for junk in ("NOSUCHCODE", "x" * 300, "%00", "../../"):
        assert member_client.post(f"/portal/{slug}/vouchers/{junk}/undo/").status_code == 404


def test_undo_is_a_post_with_csrf(rich_member, member_client, program, coffee):
    client = Client(enforce_csrf_checks=True)
    client.cookies = member_client.cookies  # the same signed-in session, without a CSRF token
    code = reward_redeem(member=rich_member, reward=coffee, actor="test").voucher_code
    assert client.get(f"/portal/{program.slug}/vouchers/{code}/undo/").status_code == 405
    assert client.post(f"/portal/{program.slug}/vouchers/{code}/undo/").status_code == 403
    assert Redemption.objects.get(voucher_code=code).status == "issued"


# ------------------------------------------------------------------------------------------ my vouchers

def test_my_vouchers_lists_the_members_own_with_status_qr_and_date(
        rich_member, member_client, program, coffee, other_member):
    earn(rich_member, 1000)
    coffee.voucher_valid_days = 30
    coffee.save()
    ready = reward_redeem(member=rich_member, reward=coffee, actor="test")
    used = reward_redeem(member=rich_member, reward=coffee, actor="test")
    voucher_use(redemption=used, actor="api_key:1")
    stale = reward_redeem(member=rich_member, reward=coffee, actor="test")
    Redemption.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(days=1))
    earn(other_member, 200)
    theirs = reward_redeem(member=other_member, reward=coffee, actor="test")

    text = member_client.get(f"/portal/{program.slug}/vouchers/").text

    assert f'href="/portal/{program.slug}/vouchers/"' in text and ">Vouchers</a>" in text
    assert re.search(r'href="/portal/coffee/vouchers/" aria-current="page">Vouchers<', text)
    assert f'aria-label="QR code of voucher {ready.voucher_code}"' in text
    assert f'aria-label="QR code of voucher {used.voucher_code}"' not in text
    assert f'aria-label="QR code of voucher {stale.voucher_code}"' not in text
    for voucher in (ready, used, stale):
        assert f'href="/portal/{program.slug}/vouchers/{voucher.voucher_code}/"' in text
    assert theirs.voucher_code not in text
    assert "Valid until" in text and "Used on" in text and "Expired on" in text
    assert ">Used</p>" in text and ">Expired</p>" in text


def test_my_vouchers_with_none_yet_and_junk_pages(member_client, program):
    text = member_client.get(f"/portal/{program.slug}/vouchers/").text
    assert "No vouchers to use right now." in text
    for page in ("abc", "-1", "99999999999999999999", "0"):
        assert member_client.get(f"/portal/{program.slug}/vouchers/?page={page}").status_code == 200


def test_my_vouchers_pages_through_old_ones(rich_member, member_client, program, coffee):
    earn(rich_member, 5000)
    for _ in range(22):
        voucher_use(redemption=reward_redeem(member=rich_member, reward=coffee, actor="test"), actor="api_key:1")
    first = member_client.get(f"/portal/{program.slug}/vouchers/").text
    assert first.count("portal-status is-used") == 20 and "?page=2" in first
    second = member_client.get(f"/portal/{program.slug}/vouchers/?page=2").text
    assert second.count("portal-status is-used") == 2 and "Newer" in second


def test_my_vouchers_and_a_voucher_in_german(rich_member, member_client, program, coffee):
    code = redeem_through_the_page(member_client, program)
    listed = member_client.get(f"/portal/{program.slug}/vouchers/", HTTP_ACCEPT_LANGUAGE="de").text
    assert "Meine Gutscheine" in listed and "Einlösbar" in listed
    page = member_client.get(f"/portal/{program.slug}/vouchers/{code}/", HTTP_ACCEPT_LANGUAGE="de").text
    assert "Einlösung rückgängig machen" in page and "Gutscheine</a>" in page


def test_the_pages_need_a_signed_in_member(program, coffee):
    for path in ("vouchers/", "vouchers/ABCDEFGHJK/"):
        response = Client().get(f"/portal/{program.slug}/{path}")
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_rewards_picture_may_be_kept_privately_for_minutes_but_pages_are_not(
        member_client, program, coffee, settings, tmp_path):
    from django.core.files.base import ContentFile

    from .test_pages import _png

    settings.MEDIA_ROOT = tmp_path
    coffee.image.save("coffee.png", ContentFile(_png()))
    picture = member_client.get(f"/portal/{program.slug}/rewards/COFFEE/image")
    assert picture["Cache-Control"] == "private, max-age=300"
    page = member_client.get(f"/portal/{program.slug}/rewards/")
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]


def test_the_rewards_and_vouchers_pages_take_few_queries_whatever_their_length(
        rich_member, member_client, program, catalogue, django_assert_max_num_queries):
    gold = tier_define(program=program, code="gold", name="Gold", rank=1, threshold=2000)
    for number in range(15):
        reward_create(program=program, code=f"R{number}", name=f"Reward {number}", points_cost=10 + number,
                      categories=[catalogue["hot"]], limit_per_member=1, limit_period="week",
                      min_tier=gold if number % 3 == 0 else None)
    earn(rich_member, 1000)
    for number in range(1, 15, 3):
        reward_redeem(member=rich_member, reward=Reward.objects.get(code=f"R{number}"), actor="test")
    with django_assert_max_num_queries(12):
        assert rewards_page(member_client, program).status_code == 200
    with django_assert_max_num_queries(12):
        assert rewards_page(member_client, program, "?category=hot-drinks").status_code == 200
    with django_assert_max_num_queries(7):
        assert member_client.get(f"/portal/{program.slug}/vouchers/").status_code == 200


def test_a_forced_redeem_of_a_reward_for_a_higher_tier_says_why_and_changes_nothing(
        rich_member, member_client, program):
    gold = tier_define(program=program, code="gold", name="Gold", rank=1, threshold=2000)
    reward_create(program=program, code="LOUNGE", name="Lounge", points_cost=10, min_tier=gold)
    response = member_client.post(f"/portal/{program.slug}/rewards/LOUNGE/redeem/", {"redemption": str(uuid.uuid4())})
    assert response.status_code == 400 and "Gold members only" in response.text
    assert not Redemption.objects.exists() and available(rich_member) == 250
