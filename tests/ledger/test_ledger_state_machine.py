"""Random sequences of every ledger operation, with a clock that moves, checked after every step.

A small model keeps each member's expected total (available + pending - debt); the
ledger itself must agree with its entries and lots (``ledger_verify_report``: no lot
below 0 or above its amount, movements that explain every lot),
never overdraw, change nothing when it refuses, and expire exactly what was left.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ledger import services
from ledger.models import Kind, LedgerEntry, LedgerTransaction, PointsAccount, PointsLot
from ledger.selectors import ledger_verify_report
from loyalty.errors import DomainError
from tests.factories import MemberFactory, ProgramFactory

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MEMBERS = 3

member_index = st.integers(0, MEMBERS - 1)
points = st.integers(1, 400)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()  # each example runs in a savepoint rolled back at teardown
        self._atomic.__enter__()
        self._clock = time_machine.travel(START, tick=False)
        self.traveller = self._clock.start()
        program = ProgramFactory()
        self.members = [MemberFactory(program=program) for _ in range(MEMBERS)]
        member_ids = [member.pk for member in self.members]
        self.index_of = {account_id: member_ids.index(member_id)  # account id -> member index
                         for account_id, member_id in PointsAccount.objects.filter(member_id__in=member_ids)
                         .values_list("pk", "member_id")}
        self.account_ids = sorted(self.index_of)
        self.accounts = PointsAccount.objects.filter(pk__in=self.account_ids)
        self.expected = [0] * MEMBERS  # available + pending - debt, per the model
        self.purchases = []  # [member index, lot id, points not yet returned]
        self.spends = []  # (member index, spend transaction) not yet refunded
        self.keys = 0

    def teardown(self):
        self._clock.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------------

    def key(self, prefix):
        self.keys += 1
        return f"{prefix}:{self.keys}"

    def account(self, index) -> PointsAccount:
        return PointsAccount.objects.get(member=self.members[index])

    def total(self, index) -> int:
        account = self.account(index)
        return account.available + account.pending - account.debt

    def snapshot(self):
        return (
            list(self.accounts.order_by("pk").values_list("available", "pending", "debt")),
            list(PointsLot.objects.filter(account_id__in=self.account_ids).order_by("pk")
                 .values_list("remaining", "released", "expired")),
            self.last_entry_id(),  # a refused operation rolls back: no new entry survives
        )

    def last_entry_id(self) -> int:
        return LedgerEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def apply(self, operation, deltas: dict[int, int]):
        """Run ``operation``; on success the model moves by ``deltas`` plus whatever expired meanwhile.

        On a refusal nothing at all may have changed. Returns the result, or the refusal.
        """
        before = self.snapshot()
        mark = before[-1]
        try:
            result = operation()
        except DomainError as refusal:
            assert refusal.code == "insufficient_points"
            assert self.snapshot() == before, "a refused operation changed the ledger"
            return refusal
        for index, delta in deltas.items():
            self.expected[index] += delta
        expired = LedgerEntry.objects.filter(pk__gt=mark, kind=Kind.EXPIRE).values_list("account_id", "points")
        for account_id, taken in expired:
            self.expected[self.index_of[account_id]] += taken
        return result

    def assert_refusal_was_right(self, index, wanted):
        self.apply(lambda: services.account_release(member=self.members[index]), {})  # catch up, then look
        assert self.account(index).spendable < wanted

    # --- rules -----------------------------------------------------------------------------

    @rule(who=member_index, amount=points, pending_days=st.sampled_from([0, 0, 3, 10]),
          expiry_days=st.sampled_from([None, 5, 20, 60]))
    def earn(self, who, amount, pending_days, expiry_days):
        now = timezone.now()
        txn = self.apply(lambda: services.points_earn(
            member=self.members[who], points=amount, idempotency_key=self.key("earn"), source_type="purchase",
            actor="test", available_at=now + timedelta(days=pending_days),
            expires_at=now + timedelta(days=expiry_days) if expiry_days else None,
        ), {who: amount})
        self.purchases.append([who, txn.entries.get().lot_id, amount])

    @rule(who=member_index, amount=points)
    def spend(self, who, amount):
        result = self.apply(lambda: services.points_spend(
            member=self.members[who], points=amount, idempotency_key=self.key("spend"), source_type="redemption",
            actor="test"), {who: -amount})
        if isinstance(result, DomainError):
            self.assert_refusal_was_right(who, amount)
        else:
            assert self.account(who).spendable >= 0, "a spend overdrew the account"
            self.spends.append((who, result))

    @precondition(lambda self: any(left > 0 for _, _, left in self.purchases))
    @rule(data=st.data())
    def return_purchase(self, data):
        purchase = data.draw(st.sampled_from([p for p in self.purchases if p[2] > 0]))
        who, lot_id, left = purchase
        amount = data.draw(st.integers(1, left))
        self.apply(lambda: services.points_reverse_return(
            member=self.members[who], points=amount, idempotency_key=self.key("return"), source_type="return",
            actor="test", from_lots=[lot_id]), {who: -amount})
        purchase[2] -= amount

    @rule(who=member_index, amount=st.integers(-300, 300).filter(bool), expires=st.booleans())
    def adjust(self, who, amount, expires):
        result = self.apply(lambda: services.points_adjust(
            member=self.members[who], points=amount, reason="model", actor="user:1",
            idempotency_key=self.key("adjust"), expires_in=timedelta(days=15) if expires else None,
        ), {who: amount})
        if isinstance(result, DomainError):
            self.assert_refusal_was_right(who, -amount)

    @rule(sender=member_index, offset=st.integers(1, MEMBERS - 1), amount=points)
    def transfer(self, sender, offset, amount):
        recipient = (sender + offset) % MEMBERS
        result = self.apply(lambda: services.points_transfer(
            sender=self.members[sender], recipient=self.members[recipient], points=amount,
            idempotency_key=self.key("transfer"), actor="test"), {sender: -amount, recipient: amount})
        if isinstance(result, DomainError):
            self.assert_refusal_was_right(sender, amount)

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def refund(self, data):
        who, spend = data.draw(st.sampled_from(self.spends))
        refunded = -spend.entries.get().points
        self.apply(lambda: services.points_refund(spend=spend, idempotency_key=self.key("refund"), actor="test",
                                                  source_type="redemption"), {who: refunded})
        self.spends.remove((who, spend))
        again = services.points_refund(spend=spend, idempotency_key=self.key("refund"), actor="test",
                                       source_type="redemption")
        assert again.replayed, "a spend was refunded twice"

    @rule(who=member_index)
    def release(self, who):
        self.apply(lambda: services.account_release(member=self.members[who]), {})
        assert not PointsLot.objects.filter(account__member=self.members[who], released=False,
                                            available_at__lte=timezone.now()).exists()

    @rule(who=member_index)
    def expire(self, who):
        now = timezone.now()
        lots = PointsLot.objects.filter(account__member=self.members[who])
        due = {lot.pk: lot.remaining for lot in lots.filter(expired=False, remaining__gt=0, expires_at__lte=now)}
        had_debt = self.account(who).debt > 0
        mark = self.last_entry_id()

        self.apply(lambda: services.account_expire(member=self.members[who]), {})

        assert not lots.filter(expires_at__lte=now, remaining__gt=0).exists()
        expired = {entry.movements.get().lot_id: -entry.points
                   for entry in LedgerEntry.objects.filter(pk__gt=mark, kind=Kind.EXPIRE)}
        assert set(expired) == set(due)
        if not had_debt:  # with debt, a release that fell due first may pay some of it from the lot
            assert expired == due, "expiry took something other than what was left"
        assert LedgerTransaction.objects.filter(kind=Kind.EXPIRE, source_id__in=[str(pk) for pk in due]).count() \
            == len(due)

    @rule(days=st.integers(0, 25), hours=st.integers(0, 23))
    def time_passes(self, days, hours):
        self.traveller.shift(timedelta(days=days, hours=hours))

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def ledger_agrees_with_itself_and_the_model(self):
        # Cached balances equal the entries and the lots; no lot below 0 or above its amount;
        # a lot's movements explain its remaining; expired lots are empty.
        report = ledger_verify_report(accounts=self.accounts)
        assert report.ok, (report.accounts, report.lots)
        for account_id, available, pending, debt in self.accounts.values_list("pk", "available", "pending", "debt"):
            assert available >= 0 and pending >= 0 and debt >= 0, "overdrawn"
            assert debt == 0 or available == 0, "debt while points are available"
            assert available + pending - debt == self.expected[self.index_of[account_id]], "model disagrees"


@pytest.mark.django_db
def test_the_ledger_stays_consistent_under_random_operations():
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=40, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ))
