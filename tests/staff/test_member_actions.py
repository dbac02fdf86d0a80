"""The actions on a member page: its side column, a tier set by hand, suspension, cancelling and resending a
voucher, anonymising on request — each audited with before, after and why."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from ledger.models import LedgerEntry
from ledger.selectors import account_balance_get
from ledger.services import points_earn
from members.models import Member
from notifications.models import NotificationSettings, Outbox
from rewards.models import Redemption, Reward
from rewards.services import reward_redeem, voucher_use
from staff.access import staff_context, staff_object
from staff.models import Adjustment, AuditEvent
from tests.factories import MemberFactory
from tiers.models import MemberTier, TierChange
from tiers.services import tier_define

from .conftest import client_for

pytestmark = pytest.mark.django_db


def side_column(user, member, **context) -> str:
    """The member page's side column as ``user`` sees it (drawn without the page around it)."""
    request = RequestFactory().get(f"/staff/members/{member.pk}/")
    request.user, request.session = user, {}
    request.staff = staff_context(request)
    staff_object(request, Member.objects.all(), "member.view", pk=member.pk)
    return render_to_string("staff/members/_actions.html", {"member": member, "request": request, **context},
                            request=request)


def labels(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", text).strip() for text in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]


def error_beside(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="id_{field}_error">(.*?)</p>', html, re.S)
    assert found, f"no error beside {field}"
    return found.group(1)


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def available(member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


@pytest.fixture
def tiers(program):
    return {code: tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold)
            for code, rank, threshold in [("bronze", 1, 0), ("silver", 2, 500), ("gold", 3, 2000)]}


@pytest.fixture
def voucher(program, member):
    points_earn(member=member, points=300, idempotency_key="grant", source_type="test", actor="test")
    reward = Reward.objects.create(program=program, code="TOTE", name="Tote bag", points_cost=200, stock_remaining=3,
                                   voucher_valid_days=30)
    return reward_redeem(member=member, reward=reward, actor="test")


# --- the side column ---------------------------------------------------------------------------


def test_the_side_column_has_the_contracts_points_and_reason_and_no_other_label_with_those_words(agent, member):
    html = side_column(agent, member)

    assert ">Adjust points</button>" in html
    texts = labels(html)
    assert [t for t in texts if "points" in t.lower()] == ["Points"]
    assert [t for t in texts if "reason" in t.lower()] == ["Reason"]
    assert "Category" in texts
    assert not re.search(r'aria-label="[^"]*(points|reason)', html, re.I)
    assert re.search(r'<input type="hidden" name="token" value="[0-9a-f]{32}"', html)


def test_each_showing_of_the_form_carries_a_new_one_time_token(agent, member):
    token = re.compile(r'name="token" value="([0-9a-f]{32})"')
    assert token.search(side_column(agent, member)).group(1) != token.search(side_column(agent, member)).group(1)


def test_an_agent_sees_the_actions_an_agent_may_take(agent, member, voucher):
    html = side_column(agent, member)
    assert "Suspend" in html and ">Resend email" in html and f"/vouchers/{voucher.pk}/cancel/" in html
    assert "Set the tier" not in html and "Anonymise" not in html


def test_a_manager_sees_every_action(manager, member, voucher):
    html = side_column(manager, member)
    assert all(text in html for text in ("Adjust points", "Set the tier", "Suspend", "Anonymise", "Resend email"))


def test_what_waits_for_approval_is_shown_beside_the_form(manager_client, manager, member):
    manager_client.post(f"/staff/members/{member.pk}/adjust/", {
        "points": 2500, "reason": "Partner status match", "category": "promotion", "token": uuid.uuid4().hex})
    html = side_column(manager, member)
    assert "Waiting for approval" in html and "+2,500" in html and "Partner status match" in html


def test_the_adjustment_hint_names_the_threshold_and_an_agents_limit(agent, manager, member):
    assert "You may adjust up to 500 at a time." in side_column(agent, member)
    assert "You may adjust up to" not in side_column(manager, member)
    assert "Up to 1,000 either way posts at once" in side_column(manager, member)


# --- tier ----------------------------------------------------------------------------------------


def test_a_manager_sets_a_tier_locked_until_a_day_with_an_explanation(manager_client, manager, member, tiers):
    day = (timezone.now() + timedelta(days=90)).date()
    response = manager_client.post(f"/staff/members/{member.pk}/tier/", {
        "tier": tiers["gold"].pk, "keep_until": day.isoformat(), "explanation": "Status match from Air Example"})

    assert response.status_code == 302 and response["Location"] == f"/staff/members/{member.pk}/"
    status = MemberTier.objects.get(member=member)
    assert status.tier == tiers["gold"]
    assert status.locked_until == datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    change = TierChange.objects.get(member=member)
    assert change.cause == TierChange.Cause.MANUAL and change.reason == "Status match from Air Example"
    assert change.actor == f"user:{manager.pk}"
    event = AuditEvent.objects.get(action="member.tier_assign")
    assert event.before == {"tier": "Bronze", "locked_until": None}
    assert event.after["tier"] == "Gold" and event.after["locked_until"].startswith(str(day + timedelta(days=1)))
    assert event.reason == "Status match from Air Example"


def test_a_tier_without_a_lock(manager_client, member, tiers):
    manager_client.post(f"/staff/members/{member.pk}/tier/", {"tier": tiers["silver"].pk, "explanation": "Goodwill"})
    assert MemberTier.objects.get(member=member).locked_until is None


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"explanation": ""}, "explanation", "This field is required."),
    ({"keep_until": "2020-01-01"}, "keep_until", "Choose today or a later day."),
    ({"keep_until": "tomorrow"}, "keep_until", "Enter a valid date."),
    ({"keep_until": "9999-12-31"}, "keep_until", "A tier is kept for at most ten years"),
    ({"tier": "999999"}, "tier", "Select a valid choice."),
])
def test_a_bad_tier_form_is_shown_again_and_changes_nothing(manager_client, member, tiers, data, field, message):
    form = {"tier": tiers["gold"].pk, "explanation": "Status match", **data}
    response = manager_client.post(f"/staff/members/{member.pk}/tier/", form)

    assert response.status_code == 200
    assert message in error_beside(response.content.decode(), field)
    assert not MemberTier.objects.filter(member=member).exists() and not AuditEvent.objects.exists()


def test_another_programs_tier_cannot_be_chosen(manager_client, member, tiers, other_program):
    foreign = tier_define(program=other_program, code="vip", name="VIP", rank=1, threshold=0)
    response = manager_client.post(f"/staff/members/{member.pk}/tier/", {"tier": foreign.pk, "explanation": "x"})
    assert "Select a valid choice." in error_beside(response.content.decode(), "tier")


def test_the_tier_page_shows_the_tier_now(manager_client, member, tiers):
    html = manager_client.get(f"/staff/members/{member.pk}/tier/").content.decode()
    assert "Bronze" in html and "Not locked" in html and ">Set tier</button>" in html


def test_agents_and_analysts_cannot_set_a_tier(agent_client, analyst_client, member, tiers):
    for client in (agent_client, analyst_client):
        assert client.get(f"/staff/members/{member.pk}/tier/").status_code == 403
        assert client.post(f"/staff/members/{member.pk}/tier/", {
            "tier": tiers["gold"].pk, "explanation": "x"}).status_code == 403
    assert not MemberTier.objects.filter(member=member).exists()


# --- suspend and reactivate ----------------------------------------------------------------------


def test_an_agent_suspends_and_reactivates_a_member(agent_client, agent, member):
    url = f"/staff/members/{member.pk}/status/"
    assert ">Suspend member</button>" in agent_client.get(url).content.decode()

    response = agent_client.post(url, {"explanation": "Card reported stolen"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.is_suspended
    event = AuditEvent.objects.get(action="member.suspend")
    assert event.actor == agent and event.before == {"status": "active"} and event.after == {"status": "suspended"}
    assert event.reason == "Card reported stolen"

    assert ">Reactivate member</button>" in agent_client.get(url).content.decode()
    agent_client.post(url, {"explanation": "Card found again"})
    member.refresh_from_db()
    assert not member.is_suspended
    assert AuditEvent.objects.get(action="member.reactivate").reason == "Card found again"


def test_a_suspension_without_an_explanation_changes_nothing(agent_client, member):
    response = agent_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "  "})
    assert "This field is required." in error_beside(response.content.decode(), "explanation")
    member.refresh_from_db()
    assert not member.is_suspended and not AuditEvent.objects.exists()


def test_a_suspended_member_cannot_earn_at_the_till(agent_client, member, pos):
    agent_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "Fraud suspected"})
    response = pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "currency": "EUR", "total": "10.00",
                                                   "member": {"card_number": member.card_number}}, format="json")
    assert response.json()["code"] == "member_suspended"


def test_analysts_and_other_programs_cannot_suspend(analyst_client, other_manager_client, member):
    assert analyst_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "x"}).status_code == 403
    assert other_manager_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "x"}).status_code == 404
    member.refresh_from_db()
    assert not member.is_suspended


# --- cancel a redemption -------------------------------------------------------------------------


def test_an_agent_cancels_a_voucher_and_the_points_go_back(agent_client, agent, member, voucher):
    url = f"/staff/members/{member.pk}/vouchers/{voucher.pk}/cancel/"
    assert available(member) == 100
    assert ">Cancel voucher</button>" in agent_client.get(url).content.decode()

    response = agent_client.post(url, {"explanation": "Tote bag out of stock at the store"})

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.CANCELLED and available(member) == 300
    assert voucher.history.last().reason == "Tote bag out of stock at the store"
    event = AuditEvent.objects.get(action="redemption.cancel")
    assert event.actor == agent and event.before["available"] == 100 and event.after["available"] == 300
    assert event.after["status"] == "cancelled" and event.after["points_refunded"] == 200


def test_a_used_voucher_cannot_be_cancelled(agent_client, member, voucher):
    voucher_use(redemption=voucher, actor="test")
    url = f"/staff/members/{member.pk}/vouchers/{voucher.pk}/cancel/"
    assert "it cannot be cancelled any more" in agent_client.get(url).content.decode()
    agent_client.post(url, {"explanation": "Please"})
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.USED and not AuditEvent.objects.exists()


def test_a_voucher_under_another_members_address_is_a_404(agent_client, program, store, voucher):
    other = MemberFactory(program=program, store=store, email="other@example.com")
    assert agent_client.get(f"/staff/members/{other.pk}/vouchers/{voucher.pk}/cancel/").status_code == 404
    assert agent_client.get(f"/staff/members/{other.pk}/vouchers/{uuid.uuid4()}/cancel/").status_code == 404
    assert agent_client.get(f"/staff/members/{other.pk}/vouchers/nope/cancel/").status_code == 404


def test_analysts_cannot_cancel_a_voucher(analyst_client, member, voucher):
    assert analyst_client.post(f"/staff/members/{member.pk}/vouchers/{voucher.pk}/cancel/",
                               {"explanation": "x"}).status_code == 403


# --- resend a voucher email ----------------------------------------------------------------------


def resend(client, member, voucher, token=None):
    return client.post(f"/staff/members/{member.pk}/vouchers/{voucher.pk}/resend/",
                       {"token": token or uuid.uuid4().hex})


def test_an_agent_sends_the_voucher_email_again_once_per_click(agent_client, agent, member, voucher):
    token = uuid.uuid4().hex
    first = resend(agent_client, member, voucher, token)
    resend(agent_client, member, voucher, token)  # a double click

    assert first.status_code == 302 and first["Location"] == f"/staff/members/{member.pk}/"
    resent = Outbox.objects.filter(kind="reward_issued", dedupe_key__contains=":resend:")
    assert resent.count() == 1
    assert resent.get().context["data"]["voucher_code"] == voucher.voucher_code
    assert last_message(first) == f"The email with voucher {voucher.voucher_code} is on its way to ada@example.com."
    assert AuditEvent.objects.filter(action="voucher.resend", actor=agent).count() == 1


def test_a_voucher_email_cannot_go_when_the_program_sends_no_emails(agent_client, program, member, voucher):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    response = resend(agent_client, member, voucher)
    assert last_message(response) == "No email can be sent: program sends no emails."
    assert not AuditEvent.objects.filter(action="voucher.resend").exists()


def test_a_cancelled_voucher_is_not_sent_again(agent_client, member, voucher):
    agent_client.post(f"/staff/members/{member.pk}/vouchers/{voucher.pk}/cancel/", {"explanation": "Changed mind"})
    response = resend(agent_client, member, voucher)
    assert last_message(response) == "This voucher is cancelled: there is nothing to send."


def test_a_resend_without_its_token_sends_nothing(agent_client, member, voucher):
    response = agent_client.post(f"/staff/members/{member.pk}/vouchers/{voucher.pk}/resend/", {"token": "../x"})
    assert response.status_code == 302
    assert not Outbox.objects.filter(dedupe_key__contains=":resend:").exists()


def test_analysts_cannot_resend(analyst_client, member, voucher):
    assert resend(analyst_client, member, voucher).status_code == 403


# --- anonymise on request ------------------------------------------------------------------------


@pytest.fixture
def portal_member(member):
    member.user = get_user_model().objects.create_user(username="coffee:ada@example.com", email="ada@example.com")
    member.save(update_fields=["user"])
    return member


def test_anonymising_needs_a_confirmation(manager_client, member):
    url = f"/staff/members/{member.pk}/anonymise/"
    assert ">Anonymise member</button>" in manager_client.get(url).content.decode()

    response = manager_client.post(url, {"explanation": "Email of 3 March"})

    assert "Confirm that the member asked for it." in error_beside(response.content.decode(), "confirm")
    member.refresh_from_db()
    assert member.email == "ada@example.com" and not AuditEvent.objects.exists()


def test_a_manager_anonymises_a_member_whose_points_lapse_and_the_ledger_keeps_its_entries(
        manager_client, manager, portal_member, voucher, pos):
    member = portal_member
    card, user_id = member.card_number, member.user_id
    manager_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "Checking"})  # an earlier audit row
    entries = LedgerEntry.objects.filter(account__member=member).count()

    response = manager_client.post(f"/staff/members/{member.pk}/anonymise/",
                                   {"explanation": "Erasure request by email, 3 March", "confirm": "on"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.phone, member.birth_date) == ("", "", None, None)
    assert "ada" not in member.email and member.email.endswith("@anonymised.invalid")
    assert member.card_number != card and member.is_suspended and member.user is None
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert LedgerEntry.objects.filter(account__member=member).count() == entries + 1  # the points lapse
    assert available(member) == 0
    assert pos.get(f"/api/v1/pos/members/lookup/?card_number={card}").status_code == 404
    assert pos.get("/api/v1/pos/members/lookup/?email=ada@example.com").status_code == 404

    event = AuditEvent.objects.get(action="member.anonymise")
    assert event.actor == manager and event.reason == "Erasure request by email, 3 March"
    assert event.after == {"status": "suspended", "anonymised": True, "login": False}
    labels_kept = set(AuditEvent.objects.filter(target_id=str(member.pk)).values_list("target_label", flat=True))
    assert labels_kept == {"Anonymised member"}
    assert "Ada" not in str(list(AuditEvent.objects.values_list("before", "after", "target_label")))


def test_an_anonymised_member_takes_no_more_changes(manager_client, member):
    manager_client.post(f"/staff/members/{member.pk}/anonymise/", {"explanation": "Request", "confirm": "on"})
    member.refresh_from_db()

    response = manager_client.post(f"/staff/members/{member.pk}/adjust/", {
        "points": 10, "reason": "Hello", "category": "goodwill", "token": uuid.uuid4().hex})
    assert last_message(response).startswith("This member was anonymised") and not Adjustment.objects.exists()
    assert "they stay suspended for good" in manager_client.get(f"/staff/members/{member.pk}/status/").content.decode()
    manager_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "Reactivate"})
    member.refresh_from_db()
    assert member.is_suspended
    assert "anonymised already" in manager_client.get(f"/staff/members/{member.pk}/anonymise/").content.decode()
    assert "Anonymised on request" in side_column(get_user_model().objects.get(username="coffee-manager"), member)


def test_agents_cannot_anonymise(agent_client, member):
    assert agent_client.get(f"/staff/members/{member.pk}/anonymise/").status_code == 403
    assert agent_client.post(f"/staff/members/{member.pk}/anonymise/",
                             {"explanation": "x", "confirm": "on"}).status_code == 403
    member.refresh_from_db()
    assert member.email == "ada@example.com"


def test_a_superuser_may_take_every_action(superuser, member, tiers):
    client = client_for(superuser)
    assert client.get(f"/staff/members/{member.pk}/tier/").status_code == 200
    assert client.get(f"/staff/members/{member.pk}/anonymise/").status_code == 200
