"""Adjusting a member's points from the member page: at once up to the threshold, limits, refusals, once only."""

import re
import uuid

import pytest

from ledger.models import Kind, LedgerEntry, LedgerTransaction
from ledger.selectors import account_balance_get
from ledger.services import points_earn
from staff.models import Adjustment, AuditEvent
from tests.concurrency import run_together

from .conftest import client_for

pytestmark = pytest.mark.django_db


def adjust(client, member, points, *, reason="Coffee was cold", category="goodwill", token=None):
    return client.post(f"/staff/members/{member.pk}/adjust/", {
        "points": points, "reason": reason, "category": category, "token": token or uuid.uuid4().hex})


def available(member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


def grant(member, points):
    points_earn(member=member, points=points, idempotency_key=f"grant-{uuid.uuid4()}", source_type="test",
                actor="test")


def error_beside(html: str, field: str) -> str:
    """The message shown beside a field of the adjustment form."""
    found = re.search(rf'<p class="field-error" id="adjust_{field}_error">(.*?)</p>', html, re.S)
    assert found, f"no error beside {field}"
    return found.group(1)


def test_an_adjustment_up_to_the_threshold_moves_the_balance_at_once(manager_client, manager, member, pos):
    response = adjust(manager_client, member, 1000)

    assert response.status_code == 302 and response["Location"] == f"/staff/members/{member.pk}/"
    assert available(member) == 1000
    assert pos.get(f"/api/v1/pos/members/{member.pk}/").json()["balance"]["available"] == 1000
    adjustment = Adjustment.objects.get()
    assert adjustment.status == Adjustment.Status.POSTED and adjustment.requested_by == manager
    assert LedgerTransaction.objects.get(pk=adjustment.transaction_id).idempotency_key == adjustment.idempotency_key


def test_the_ledger_entry_carries_the_category_the_reason_and_who(manager_client, manager, member):
    adjust(manager_client, member, 50, reason="Coffee was cold", category="complaint")

    entry = LedgerEntry.objects.get(kind=Kind.ADJUST)
    assert entry.points == 50
    assert entry.description == "Complaint resolution: Coffee was cold"
    assert entry.transaction.actor == f"user:{manager.pk}"


def test_an_adjustment_is_audited_with_the_balance_before_and_after_and_why(manager_client, manager, member):
    grant(member, 20)
    adjust(manager_client, member, 30, reason="Missing stamp")

    event = AuditEvent.objects.get(action="points.adjust")
    assert event.actor == manager and event.program == member.program
    assert event.target_id == str(member.pk) and event.target_type == "member"
    assert event.before == {"available": 20}
    assert event.after["available"] == 50 and event.after["points"] == 30
    assert event.reason == "Missing stamp"


def test_more_than_the_threshold_waits_and_moves_nothing(manager_client, member, pos):
    response = adjust(manager_client, member, 1001)

    assert response.status_code == 302
    assert available(member) == 0
    assert pos.get(f"/api/v1/pos/members/{member.pk}/").json()["balance"]["available"] == 0
    adjustment = Adjustment.objects.get()
    assert adjustment.status == Adjustment.Status.PENDING and adjustment.transaction_id is None
    assert not LedgerTransaction.objects.filter(kind=Kind.ADJUST).exists()
    assert AuditEvent.objects.get(action="adjustment.request").after["points"] == 1001


def test_taking_more_than_the_threshold_waits_too(manager_client, member):
    grant(member, 2000)
    adjust(manager_client, member, -1500)

    assert Adjustment.objects.get().status == Adjustment.Status.PENDING
    assert available(member) == 2000


def test_the_waiting_message_is_shown_on_the_member_page(manager_client, member):
    response = adjust(manager_client, member, 1500)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["+1,500 points for Ada Lovelace wait for another manager's approval (more than 1,000). "
                        "Nothing moved yet."]


def test_an_agent_adjusts_up_to_the_limit(agent_client, member):
    assert adjust(agent_client, member, 500).status_code == 302
    assert adjust(agent_client, member, -500).status_code == 302
    assert available(member) == 0
    assert Adjustment.objects.filter(status=Adjustment.Status.POSTED).count() == 2


def test_an_agent_over_the_limit_is_refused_beside_the_points_field(agent_client, member):
    response = adjust(agent_client, member, 600)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Support agents may adjust at most 500 points at a time" in error_beside(html, "points")
    assert 'value="600"' in html and "Coffee was cold" in html  # what was typed is kept
    assert not Adjustment.objects.exists() and available(member) == 0
    assert not AuditEvent.objects.exists()


def test_taking_more_than_the_spendable_balance_is_refused_and_stores_nothing(manager_client, member):
    grant(member, 40)
    response = adjust(manager_client, member, -50)

    assert response.status_code == 200
    assert "only 40 points available" in error_beside(response.content.decode(), "points")
    assert not Adjustment.objects.exists() and not AuditEvent.objects.exists()
    assert available(member) == 40


def test_a_large_debit_beyond_the_balance_is_refused_before_it_waits(manager_client, member):
    response = adjust(manager_client, member, -5000)

    assert "only 0 points available" in error_beside(response.content.decode(), "points")
    assert not Adjustment.objects.exists()


@pytest.mark.parametrize(("points", "reason", "category", "field", "message"), [
    (0, "Coffee", "goodwill", "points", "other than 0"),
    ("ten", "Coffee", "goodwill", "points", "Enter a whole number"),
    (10, "   ", "goodwill", "reason", "This field is required"),
    (10, "Coffee", "", "category", "This field is required"),
    (10, "Coffee", "bribe", "category", "Select a valid choice"),
    (99_999_999, "Coffee", "goodwill", "points", "less than or equal to 10000000"),
    (10, "Coffee\x00", "goodwill", "reason", "Null characters are not allowed."),
])
def test_a_bad_value_is_shown_beside_its_field_and_changes_nothing(manager_client, member, points, reason, category,
                                                                   field, message):
    response = adjust(manager_client, member, points, reason=reason, category=category)

    assert response.status_code == 200
    assert message in error_beside(response.content.decode(), field)
    assert not Adjustment.objects.exists()


def test_the_error_summary_links_to_the_field(agent_client, member):
    html = adjust(agent_client, member, 600).content.decode()
    assert '<div class="form-errors" role="alert"' in html
    assert '<a href="#adjust_points">Points: Support agents may adjust' in html


def test_a_form_without_its_one_time_token_is_refused(manager_client, member):
    response = manager_client.post(f"/staff/members/{member.pk}/adjust/",
                                   {"points": 10, "reason": "Coffee", "category": "goodwill", "token": "x' OR 1=1"})
    assert response.status_code == 200
    assert "This form has expired" in response.content.decode()
    assert not Adjustment.objects.exists()


def test_the_same_form_submitted_twice_posts_once(manager_client, member):
    token = uuid.uuid4().hex
    first = adjust(manager_client, member, 50, token=token)
    second = adjust(manager_client, member, 50, token=token)

    assert first.status_code == second.status_code == 302
    assert available(member) == 50
    assert Adjustment.objects.count() == 1 and LedgerTransaction.objects.filter(kind=Kind.ADJUST).count() == 1
    assert AuditEvent.objects.filter(action="points.adjust").count() == 1
    # the first message was never shown (the test follows no redirect); the second says what happened
    assert [str(m) for m in second.wsgi_request._messages][-1] == (
        "This adjustment was recorded already; it was not made a second time.")


def test_each_showing_of_the_form_is_a_new_adjustment(manager_client, member):
    adjust(manager_client, member, 50)
    adjust(manager_client, member, 50)
    assert available(member) == 100


@pytest.mark.django_db(transaction=True)
def test_two_submissions_of_one_form_at_the_same_moment_post_once(manager, member):
    token = uuid.uuid4().hex
    clients = [client_for(manager), client_for(manager), client_for(manager)]
    outcomes = run_together([lambda c=c: adjust(c, member, 70, token=token).status_code for c in clients])

    assert [value for _, value in outcomes] == [302, 302, 302]
    assert available(member) == 70
    assert Adjustment.objects.count() == 1 and LedgerTransaction.objects.filter(kind=Kind.ADJUST).count() == 1


def test_an_analyst_posting_an_adjustment_gets_403(analyst_client, member):
    assert adjust(analyst_client, member, 10).status_code == 403
    assert not Adjustment.objects.exists() and available(member) == 0


def test_a_member_of_another_program_is_a_404(other_manager_client, member):
    assert adjust(other_manager_client, member, 10).status_code == 404
    assert not Adjustment.objects.exists()


def test_ids_of_the_wrong_shape_are_404(manager_client, member):
    assert manager_client.post("/staff/members/not-a-uuid/adjust/", {}).status_code == 404
    assert manager_client.post(f"/staff/members/{uuid.uuid4()}/adjust/", {}).status_code == 404


def test_the_adjust_address_takes_only_posts(manager_client, member):
    assert manager_client.get(f"/staff/members/{member.pk}/adjust/").status_code == 405


def test_signed_out_visitors_are_sent_to_sign_in(client, member):
    response = adjust(client, member, 10)
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    assert not Adjustment.objects.exists()


def test_a_program_without_a_staff_policy_uses_the_defaults(manager_client, member):
    from staff.models import StaffPolicy

    StaffPolicy.objects.all().delete()
    adjust(manager_client, member, 1000)
    adjust(manager_client, member, 1001)
    assert sorted(Adjustment.objects.values_list("status", flat=True)) == ["pending", "posted"]


def test_the_threshold_is_the_programs(manager_client, member, policy):
    policy.approval_threshold = 100
    policy.save()
    adjust(manager_client, member, 101)
    assert Adjustment.objects.get().status == Adjustment.Status.PENDING
