"""Maker-checker: adjustments above the threshold wait at /staff/approvals/ for another manager."""

import uuid

import pytest

from ledger.models import Kind, LedgerTransaction
from ledger.selectors import account_balance_get
from ledger.services import points_earn
from loyalty.errors import DomainError
from staff.adjustments.services import adjustment_approve, adjustment_key_for_form, adjustment_request
from staff.models import Adjustment, AuditEvent, Role
from tests.concurrency import run_together

from .conftest import client_for

pytestmark = pytest.mark.django_db


def ask(member, points, by, *, note="Status match from a partner program"):
    return adjustment_request(member=member, points=points, reason_code="promotion", note=note, actor=by,
                              role=Role.MANAGER, idempotency_key=adjustment_key_for_form(uuid.uuid4().hex))


def available(member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


def approve(client, adjustment, note=""):
    return client.post(f"/staff/approvals/{adjustment.pk}/approve/", {"note": note})


def reject(client, adjustment, note=""):
    return client.post(f"/staff/approvals/{adjustment.pk}/reject/", {"note": note})


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def ledger_adjustments() -> int:
    return LedgerTransaction.objects.filter(kind=Kind.ADJUST).count()


def test_waiting_adjustments_are_listed_each_with_approve_and_reject(second_manager_client, manager, member):
    ask(member, 1500, manager, note="Partner status match")
    ask(member, 1200, manager, note="Lost card balance")

    html = second_manager_client.get("/staff/approvals/").content.decode()
    assert html.count(">Approve</button>") == 2 and html.count(">Reject</button>") == 2
    assert "+1,500" in html and "Partner status match" in html and "Lost card balance" in html
    assert "Asked by coffee-manager" in html


def test_another_manager_approves_and_the_points_move(second_manager_client, second_manager, manager, member, pos):
    adjustment = ask(member, 1500, manager)
    assert available(member) == 0

    response = approve(second_manager_client, adjustment, note="Checked the partner's letter")

    assert response.status_code == 302 and response["Location"] == "/staff/approvals/"
    assert available(member) == 1500
    assert pos.get(f"/api/v1/pos/members/{member.pk}/").json()["balance"]["available"] == 1500
    adjustment.refresh_from_db()
    assert adjustment.status == Adjustment.Status.POSTED and adjustment.decided_by == second_manager
    assert adjustment.decision_note == "Checked the partner's letter"
    txn = LedgerTransaction.objects.get(pk=adjustment.transaction_id)
    assert txn.idempotency_key == adjustment.idempotency_key and txn.actor == f"user:{second_manager.pk}"
    event = AuditEvent.objects.get(action="adjustment.approve")
    assert event.actor == second_manager and event.reason == "Checked the partner's letter"
    assert event.before == {"status": "pending", "available": 0}
    assert event.after["available"] == 1500 and event.after["requested_by"] == "coffee-manager"


def test_a_superuser_may_approve(superuser, manager, member):
    adjustment = ask(member, 2000, manager)
    approve(client_for(superuser), adjustment)
    assert available(member) == 2000


def test_the_requester_approving_their_own_is_refused_with_a_message(manager_client, manager, member):
    adjustment = ask(member, 1500, manager)

    response = approve(manager_client, adjustment)

    assert last_message(response) == "You asked for this adjustment: another manager must approve it."
    adjustment.refresh_from_db()
    assert adjustment.status == Adjustment.Status.PENDING and available(member) == 0
    assert not AuditEvent.objects.filter(action="adjustment.approve").exists()


def test_a_superuser_cannot_approve_their_own_either(superuser, member):
    adjustment = ask(member, 1500, superuser)
    approve(client_for(superuser), adjustment)
    assert Adjustment.objects.get().status == Adjustment.Status.PENDING


def test_the_requesters_approve_button_is_disabled_with_a_hint(manager_client, manager, member):
    ask(member, 1500, manager)
    html = manager_client.get("/staff/approvals/").content.decode()
    assert "disabled aria-describedby" in html and "another manager approves it" in html


def test_rejecting_moves_no_points_and_is_audited(second_manager_client, second_manager, manager, member):
    adjustment = ask(member, 1500, manager)

    response = reject(second_manager_client, adjustment, note="No proof of the partner status")

    assert last_message(response).endswith("rejected, no points moved.")
    adjustment.refresh_from_db()
    assert adjustment.status == Adjustment.Status.REJECTED and adjustment.decided_by == second_manager
    assert available(member) == 0 and ledger_adjustments() == 0
    event = AuditEvent.objects.get(action="adjustment.reject")
    assert event.reason == "No proof of the partner status" and event.after["status"] == "rejected"


def test_the_requester_may_withdraw_by_rejecting(manager_client, manager, member):
    adjustment = ask(member, 1500, manager)
    reject(manager_client, adjustment)
    assert Adjustment.objects.get(pk=adjustment.pk).status == Adjustment.Status.REJECTED


def test_a_decided_adjustment_leaves_the_queue(second_manager_client, manager, member):
    adjustment = ask(member, 1500, manager)
    approve(second_manager_client, adjustment)

    html = second_manager_client.get("/staff/approvals/").content.decode()
    assert "Nothing waiting" in html
    assert "Recently decided" in html and "Approved" in html


def test_approving_twice_posts_once(second_manager_client, superuser, manager, member):
    adjustment = ask(member, 1500, manager)
    approve(second_manager_client, adjustment)

    response = approve(client_for(superuser), adjustment)

    assert last_message(response) == "This adjustment was already posted by coffee-manager-2."
    assert available(member) == 1500 and ledger_adjustments() == 1


def test_a_rejected_adjustment_cannot_be_approved(second_manager_client, superuser, manager, member):
    adjustment = ask(member, 1500, manager)
    reject(second_manager_client, adjustment)
    approve(client_for(superuser), adjustment)
    assert available(member) == 0 and ledger_adjustments() == 0


@pytest.mark.django_db(transaction=True)
def test_two_approvers_racing_post_the_points_once(second_manager, superuser, manager, member):
    adjustment = ask(member, 1500, manager)
    approvers = [second_manager, superuser, second_manager, superuser]

    outcomes = run_together([lambda who=who: adjustment_approve(adjustment=adjustment, actor=who)
                             for who in approvers])

    assert [status for status, _ in outcomes].count("ok") == 1
    refused = [value for status, value in outcomes if status == "error"]
    assert all(isinstance(error, DomainError) and error.code == "adjustment_decided" for error in refused)
    assert available(member) == 1500 and ledger_adjustments() == 1
    assert AuditEvent.objects.filter(action="adjustment.approve").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_approve_posts_once(second_manager, manager, member):
    adjustment = ask(member, 1500, manager)
    clients = [client_for(second_manager), client_for(second_manager)]

    outcomes = run_together([lambda c=c: approve(c, adjustment).status_code for c in clients])

    assert [value for _, value in outcomes] == [302, 302]
    assert available(member) == 1500 and ledger_adjustments() == 1


def test_approving_a_debit_the_balance_no_longer_covers_is_refused_and_it_keeps_waiting(
        second_manager_client, manager, member):
    points_earn(member=member, points=2000, idempotency_key="grant", source_type="test", actor="test")
    debit = ask(member, -1500, manager)
    ask(member, -1000, manager)  # posts at once: 1,000 left

    response = approve(second_manager_client, debit)

    assert "Needs 1500 points; 1000 available" in last_message(response)
    assert Adjustment.objects.get(pk=debit.pk).status == Adjustment.Status.PENDING
    assert available(member) == 1000


def test_agents_and_analysts_cannot_open_or_use_approvals(agent_client, analyst_client, manager, member):
    adjustment = ask(member, 1500, manager)
    for client in (agent_client, analyst_client):
        assert client.get("/staff/approvals/").status_code == 403
        assert approve(client, adjustment).status_code == 403
        assert reject(client, adjustment).status_code == 403
    assert Adjustment.objects.get().status == Adjustment.Status.PENDING


def test_another_programs_adjustment_is_a_404(other_manager_client, manager, member):
    adjustment = ask(member, 1500, manager)
    assert approve(other_manager_client, adjustment).status_code == 404
    assert reject(other_manager_client, adjustment).status_code == 404
    assert "Nothing waiting" in other_manager_client.get("/staff/approvals/").content.decode()


@pytest.mark.parametrize("pk", ["0", "99999999999999999999999999", "abc"])
def test_an_adjustment_id_that_names_nothing_is_a_404(second_manager_client, pk):
    assert second_manager_client.post(f"/staff/approvals/{pk}/approve/").status_code == 404


def test_decisions_take_only_posts(second_manager_client, manager, member):
    adjustment = ask(member, 1500, manager)
    assert second_manager_client.get(f"/staff/approvals/{adjustment.pk}/approve/").status_code == 405
    assert Adjustment.objects.get().status == Adjustment.Status.PENDING
