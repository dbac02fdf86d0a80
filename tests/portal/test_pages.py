"""The member's pages: home, activity, rewards, redeeming, vouchers — and nobody else's vouchers."""

import re
import uuid

from django.test import Client

from rewards.models import Redemption
from rewards.services import reward_create, reward_redeem
from tests.ledger.support import earn

from .conftest import signed_in


def test_home_shows_the_pos_balance_pending_tier_and_card(rich_member, member_client, pos):
    earn(rich_member, 40, pending_days=14)
    text = member_client.get(f"/portal/{rich_member.program.slug}/").text
    balance = pos.get("/api/v1/pos/members/lookup/", {"card_number": rich_member.card_number}).json()["balance"]
    assert re.search(rf'data-testid="available">{balance["available"]}<', text)
    assert "40</strong> pending points" in text and "40 available on" in text
    assert rich_member.card_number in text
    assert re.search(r'<svg role="img" aria-label="QR code of your card', text)


def test_home_lists_what_expires_when(member_with_login, member_client, django_assert_max_num_queries):
    earn(member_with_login, 120, expires_in_days=30)
    earn(member_with_login, 40, expires_in_days=60)
    with django_assert_max_num_queries(12):
        text = member_client.get(f"/portal/{member_with_login.program.slug}/").text
    assert "Points expiring" in text and "120 on" in text and "40 on" in text


def test_home_with_nothing_yet(member_client, program):
    response = member_client.get(f"/portal/{program.slug}/")
    assert response.status_code == 200 and "No pending points" in response.text


def test_brand_css_carries_the_programs_accent(program):
    program.accent_color = "#ffdd00"
    program.save(update_fields=["accent_color"])
    css = Client().get(f"/portal/{program.slug}/brand.css").text
    assert "--portal-accent: #ffdd00" in css and "--portal-accent-ink: #101828" in css


def test_activity_is_newest_first_and_paginated(rich_member, member_client):
    for points in range(1, 25):
        earn(rich_member, points, description=f"Visit number {points}")
    slug = rich_member.program.slug
    first = member_client.get(f"/portal/{slug}/activity/").text
    assert first.index("Visit number 24") < first.index("Visit number 23")
    assert "?page=2" in first
    second = member_client.get(f"/portal/{slug}/activity/?page=2").text
    assert "Visit number 24" not in second and "Newer" in second


def test_rewards_show_cost_and_why_one_is_out_of_reach(rich_member, member_client, coffee):
    reward_create(program=rich_member.program, code="MUG", name="Mug", points_cost=1000)
    text = member_client.get(f"/portal/{rich_member.program.slug}/rewards/").text
    assert "Free coffee" in text and "100 points" in text
    assert f'action="/portal/{rich_member.program.slug}/rewards/COFFEE/redeem/"' in text
    assert text.count(">Redeem</button>") == 1
    assert "750 more points needed" in text
    assert "/rewards/MUG/redeem/" not in text


def test_redeem_confirm_shows_the_voucher_the_till_finds_issued(rich_member, member_client, coffee, pos):
    slug = rich_member.program.slug
    page = member_client.get(f"/portal/{slug}/rewards/COFFEE/redeem/").text
    assert ">Confirm</button>" in page
    token = re.search(r'name="redemption" value="([0-9a-f-]+)"', page).group(1)
    response = member_client.post(f"/portal/{slug}/rewards/COFFEE/redeem/", {"redemption": token})
    assert response.status_code == 302
    code = response["Location"].split("/vouchers/")[1].split("/")[0]
    voucher = member_client.get(response["Location"]).text
    assert code in voucher and 'aria-label="QR code of voucher' in voucher
    assert pos.get(f"/api/v1/pos/vouchers/{code}/").json()["status"] == "issued"
    # The same form sent again redeems nothing more and lands on the same voucher.
    again = member_client.post(f"/portal/{slug}/rewards/COFFEE/redeem/", {"redemption": token})
    assert again["Location"] == response["Location"]
    assert Redemption.objects.filter(member=rich_member).count() == 1
    balance = pos.get("/api/v1/pos/members/lookup/", {"card_number": rich_member.card_number}).json()["balance"]
    assert balance["available"] == 150


def test_redeem_out_of_reach_says_why_and_changes_nothing(member_with_login, member_client, coffee):
    slug = member_with_login.program.slug
    response = member_client.post(f"/portal/{slug}/rewards/COFFEE/redeem/", {"redemption": str(uuid.uuid4())})
    assert response.status_code == 400 and "more points needed" in response.text
    assert not Redemption.objects.filter(member=member_with_login).exists()


def test_redeem_with_a_junk_form_changes_nothing(rich_member, member_client, coffee):
    slug = rich_member.program.slug
    response = member_client.post(f"/portal/{slug}/rewards/COFFEE/redeem/", {"redemption": "junk"})
    assert response.status_code == 400 and "confirm again" in response.text
    assert not Redemption.objects.filter(member=rich_member).exists()
    assert member_client.get(f"/portal/{slug}/rewards/NOPE/redeem/").status_code == 404


def test_another_members_redemption_id_is_not_taken_over(rich_member, member_client, coffee, other_member):
    earn(other_member, 200)
    theirs = reward_redeem(member=other_member, reward=coffee, actor="test")
    slug = rich_member.program.slug
    response = member_client.post(f"/portal/{slug}/rewards/COFFEE/redeem/", {"redemption": str(theirs.pk)})
    assert response.status_code == 404
    assert not Redemption.objects.filter(member=rich_member).exists()


def test_another_members_voucher_is_404(rich_member, member_client, coffee, other_member, foreign_member):
    earn(other_member, 200)
    theirs = reward_redeem(member=other_member, reward=coffee, actor="test")
    slug = rich_member.program.slug
    assert member_client.get(f"/portal/{slug}/vouchers/{theirs.voucher_code}/").status_code == 404
    assert member_client.get(f"/portal/{slug}/vouchers/NOSUCHCODE/").status_code == 404
    # Its owner sees it.
    owner = signed_in(Client(), other_member)
    assert owner.get(f"/portal/{slug}/vouchers/{theirs.voucher_code}/").status_code == 200


def test_language_follows_the_browser_and_is_announced(member_client, program):
    response = member_client.get(f"/portal/{program.slug}/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert response["Content-Language"] == "de" and '<html lang="de">' in response.text
    assert "Accept-Language" in response["Vary"]
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert Client().get(f"/portal/{program.slug}/login/", HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "en"


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_the_logo_and_reward_pictures_are_served_by_the_portal(program, member_client, coffee, settings, tmp_path):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path
    program.logo.save("logo.png", ContentFile(_png()))
    coffee.image.save("coffee.png", ContentFile(_png()))
    assert f'src="/portal/{program.slug}/logo"' in Client().get(f"/portal/{program.slug}/login/").text
    assert Client().get(f"/portal/{program.slug}/logo")["Content-Type"] == "image/png"
    assert f'src="/portal/{program.slug}/rewards/COFFEE/image"' in member_client.get(
        f"/portal/{program.slug}/rewards/").text
    assert member_client.get(f"/portal/{program.slug}/rewards/COFFEE/image")["Content-Type"] == "image/png"
    assert Client().get(f"/portal/{program.slug}/rewards/COFFEE/image").status_code == 302
    assert member_client.get(f"/portal/{program.slug}/rewards/NOPE/image").status_code == 404


def test_a_member_who_chose_german_gets_german_whatever_the_browser(member_with_login, member_client, program):
    member_with_login.language = "de"
    member_with_login.save(update_fields=["language"])
    response = member_client.get(f"/portal/{program.slug}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "de"
