from datetime import timedelta

import time_machine
from django.utils import timezone

from ledger.models import LedgerEntry
from rewards.models import Redemption
from rewards.services import vouchers_expire_due

from .conftest import give_points, redeem


def issue(pos, member, code="FREE-COFFEE", key="k"):
    response = redeem(pos, member, code, key=key)
    assert response.status_code == 201, response.json()
    return response.json()


def test_voucher_can_be_looked_up_and_used_once(pos, member, coffee):
    give_points(member, 100)
    voucher = issue(pos, member)
    code = voucher["voucher_code"]

    looked_up = pos.get(f"/api/v1/pos/vouchers/{code}/")
    used = pos.post(f"/api/v1/pos/vouchers/{code}/use/")
    again = pos.post(f"/api/v1/pos/vouchers/{code}/use/")

    assert looked_up.status_code == 200
    assert looked_up.json()["status"] == "issued"
    assert looked_up.json()["member"] == {"id": str(member.id), "card_number": member.card_number}
    assert used.status_code == 200 and used.json()["status"] == "used"
    assert again.status_code == 409 and again.json()["code"] == "voucher_already_used"
    history = Redemption.objects.get(voucher_code=code).history.all()
    assert [(h.from_status, h.to_status, h.actor.startswith("api_key:")) for h in history] == [
        ("", "issued", True), ("issued", "used", True)]


def test_voucher_codes_are_read_forgivingly(pos, member, coffee):
    give_points(member, 100)
    code = issue(pos, member)["voucher_code"]

    assert pos.get(f"/api/v1/pos/vouchers/{code.lower()[:5]}-{code.lower()[5:]}/").status_code == 200


def test_unknown_voucher_is_404(pos, db):
    response = pos.get("/api/v1/pos/vouchers/ZZZZZZZZZZ/")

    assert response.status_code == 404 and response.json()["code"] == "voucher_not_found"


def test_another_programs_voucher_is_404(pos, other_pos, member, coffee):
    give_points(member, 100)
    code = issue(pos, member)["voucher_code"]

    assert other_pos.get(f"/api/v1/pos/vouchers/{code}/").status_code == 404
    assert other_pos.post(f"/api/v1/pos/vouchers/{code}/use/").status_code == 404


def test_cancelling_refunds_points_and_restores_stock(pos, member, tote):
    give_points(member, 500)
    voucher = issue(pos, member, "TOTE-BAG")

    response = pos.post(f"/api/v1/pos/redemptions/{voucher['id']}/cancel/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert response.json()["balance"]["available"] == 500
    assert LedgerEntry.objects.filter(kind="refund").get().points == 400
    tote.refresh_from_db()
    assert tote.stock_remaining == 5
    again = pos.post(f"/api/v1/pos/redemptions/{voucher['id']}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "voucher_not_usable"
    assert pos.post(f"/api/v1/pos/vouchers/{voucher['voucher_code']}/use/").json()["code"] == "voucher_not_usable"


def test_a_used_voucher_cannot_be_cancelled(pos, member, coffee):
    give_points(member, 100)
    voucher = issue(pos, member)
    pos.post(f"/api/v1/pos/vouchers/{voucher['voucher_code']}/use/")

    response = pos.post(f"/api/v1/pos/redemptions/{voucher['id']}/cancel/")

    assert response.status_code == 409 and response.json()["code"] == "voucher_already_used"
    member.account.refresh_from_db()
    assert member.account.available == 50


def test_unknown_redemption_is_404(pos, db):
    for ident in ("00000000-0000-0000-0000-000000000000", "nope"):
        response = pos.post(f"/api/v1/pos/redemptions/{ident}/cancel/")
        assert response.status_code == 404 and response.json()["code"] == "redemption_not_found"


def test_vouchers_expire_after_the_rewards_validity(pos, member, coffee):
    coffee.voucher_valid_days = 30
    coffee.save()
    give_points(member, 100)
    voucher = issue(pos, member)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert pos.post(f"/api/v1/pos/vouchers/{voucher['voucher_code']}/use/").json()["code"] \
            == "voucher_not_usable"
        assert vouchers_expire_due() == 1
        assert vouchers_expire_due() == 0  # a second run changes nothing

    assert Redemption.objects.get().status == "expired"
    member.account.refresh_from_db()
    assert member.account.available == 50  # this reward does not refund on expiry


def test_expiry_refunds_points_when_the_reward_says_so(pos, member, coffee):
    coffee.voucher_valid_days, coffee.refund_on_expiry = 30, True
    coffee.save()
    give_points(member, 100)
    issue(pos, member)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        vouchers_expire_due()

    member.account.refresh_from_db()
    assert member.account.available == 100


def test_malformed_voucher_codes_and_reward_codes_are_refused_cleanly(pos, member, coffee):
    give_points(member, 100)

    for code in ("%00", "A%00B", "x" * 200, "%F0%9F%92%A9"):
        assert pos.get(f"/api/v1/pos/vouchers/{code}/").status_code == 404
        assert pos.post(f"/api/v1/pos/vouchers/{code}/use/").status_code == 404
    bad_reward = redeem(pos, member, "FREE\x00COFFEE")
    assert bad_reward.status_code == 400 and bad_reward.json()["errors"][0]["field"] == "reward"
