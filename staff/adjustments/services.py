"""What staff do to one member's account: adjust points (with a second person above the threshold),
adjust many members from a file, set a tier, suspend, cancel a redemption, resend a voucher, anonymise.

Each write is one transaction that goes through the owning app's service and records the action with
``audit_record`` in that same transaction, so the change and its audit row land together or not at all.
A refusal is a ``DomainError`` whose ``errors`` name the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.selectors import account_balance_get
from ledger.services import points_adjust
from loyalty.errors import DomainError
from members.models import Member
from members.services import member_anonymise, member_is_anonymised, member_status_set
from notifications.services import voucher_email_resend
from rewards.models import Redemption
from rewards.services import redemption_cancel
from tiers.selectors import member_tier_progress
from tiers.services import tier_assign

from ..models import Adjustment, AuditEvent, ReasonCode, Role, StaffPolicy
from ..services import audit_record, staff_actor

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_POINTS = 10_000_000  # far above any real adjustment; keeps a typo of extra digits from posting


def staff_policy_for(*, program) -> StaffPolicy:
    """The program's staff policy; a program without one gets the defaults (1,000 to approve, 500 for agents)."""
    return StaffPolicy.objects.filter(program=program).first() or StaffPolicy(program=program)


def adjustment_key_for_form(token: str) -> str:
    """The key of an adjustment asked for through a form: its one-time token, so a second submission of
    the same form finds the first adjustment instead of making another."""
    if not TOKEN.fullmatch(token or ""):
        raise DomainError.invalid("token", "This form has expired. Reload the page and try again.")
    return f"staff-adjustment:{token}"


def adjustment_key_for_file_line(*, file_sha256: str, line: int) -> str:
    """The key of one line of a bulk file: posting the same file again finds every line posted."""
    return f"staff-bulk:{file_sha256}:{line}"


def member_label(member: Member) -> str:
    """A member as lists and the audit log name them: name and card, or nothing that names them."""
    return "Anonymised member" if member_is_anonymised(member) else str(member)


def member_name(member: Member) -> str:
    """A member as a sentence about them names them."""
    return "the anonymised member" if member_is_anonymised(member) else (member.full_name or member.email)


def _available(member: Member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


def _ledger_reason(reason_code: str, note: str) -> str:
    return f"{ReasonCode(reason_code).label}: {note}"


def _not_anonymised(member: Member) -> None:
    if member_is_anonymised(member):
        raise DomainError("member_anonymised", "This member was anonymised: their account takes no more changes.",
                          title="Member anonymised")


def _explained(reason: str, field_name: str = "explanation") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError.invalid(field_name, "Say why, for the audit log.")
    return reason


# --- adjustments ----------------------------------------------------------------------------------


def _adjustment_checked(*, member: Member, points: int, reason_code: str, note: str, role: str | None,
                        policy: StaffPolicy) -> str:
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise DomainError.invalid("points", "Give a whole number of points other than 0, e.g. 250 or -100.")
    if abs(points) > MAX_POINTS:
        raise DomainError.invalid("points", f"An adjustment moves at most {MAX_POINTS:,} points.")
    if reason_code not in ReasonCode.values:
        raise DomainError.invalid("reason_code", "Choose the category that fits.")
    note = (note or "").strip()
    if not note:
        raise DomainError.invalid("note", "Say why the points change; the member sees it on their statement.")
    _not_anonymised(member)
    if role == Role.AGENT and abs(points) > policy.agent_adjustment_limit:
        raise DomainError.invalid("points", f"Support agents may adjust at most {policy.agent_adjustment_limit:,} "
                                            "points at a time. Ask a manager for more.")
    if points < 0 and -points > (available := _available(member)):
        raise DomainError("insufficient_points", f"The member has {available:,} points to take from; "
                          f"{-points:,} cannot be taken.", title="Insufficient points",
                          errors=[{"field": "points", "message": f"The member has only {available:,} points "
                                                                 f"available; {-points:,} cannot be taken."}])
    return note


@transaction.atomic
def adjustment_request(*, member: Member, points: int, reason_code: str, note: str, actor, role: str | None,
                       idempotency_key: str, batch: str = "") -> Adjustment:
    """Adjust a member's points: at most the program's approval threshold (either way) posts now, more waits
    for another manager (``adjustment_approve``) and moves nothing until then.

    ``idempotency_key`` is the adjustment's own key, and the key its ledger posting uses: asking again with
    the same key answers the first adjustment (``replayed``), also when two requests race.
    ``role`` is the asker's role in the member's program (agents are limited by the policy).
    """
    existing = Adjustment.objects.filter(program_id=member.program_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        existing.replayed = True
        return existing
    policy = staff_policy_for(program=member.program)
    note = _adjustment_checked(member=member, points=points, reason_code=reason_code, note=note, role=role,
                               policy=policy)
    waits = abs(points) > policy.approval_threshold
    now = timezone.now()
    adjustment = Adjustment(
        program_id=member.program_id, member=member, points=points, reason_code=reason_code, note=note,
        status=Adjustment.Status.PENDING if waits else Adjustment.Status.POSTED, requested_by=actor,
        requested_at=now, batch=batch, idempotency_key=idempotency_key)
    try:
        with transaction.atomic():
            adjustment.save(force_insert=True)
    except IntegrityError:
        # The same request, committed by a concurrent submission while this one checked: answer that one.
        adjustment = Adjustment.objects.get(program_id=member.program_id, idempotency_key=idempotency_key)
        adjustment.replayed = True
        return adjustment
    adjustment.replayed = False
    label = ReasonCode(reason_code).label
    if waits:
        audit_record(actor=actor, program=member.program, action="adjustment.request", target=member,
                     target_label=member_label(member), before=None,
                     after={"adjustment": adjustment.pk, "points": points, "category": label,
                            "status": adjustment.status, "approval_threshold": policy.approval_threshold},
                     reason=note)
        return adjustment
    before = _available(member)
    txn = points_adjust(member=member, points=points, reason=_ledger_reason(reason_code, note),
                        actor=staff_actor(actor), idempotency_key=idempotency_key)
    adjustment.transaction_id, adjustment.decided_at = txn.pk, now
    adjustment.save(update_fields=["transaction_id", "decided_at"])
    audit_record(actor=actor, program=member.program, action="points.adjust", target=member,
                 target_label=member_label(member), before={"available": before},
                 after={"available": _available(member), "points": points, "category": label,
                        "adjustment": adjustment.pk}, reason=note)
    return adjustment


def _locked_pending(adjustment: Adjustment) -> Adjustment:
    adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != Adjustment.Status.PENDING:
        who = adjustment.decided_by.get_username() if adjustment.decided_by else "someone else"
        raise DomainError("adjustment_decided", f"This adjustment was already {adjustment.get_status_display().lower()}"
                          f" by {who}.", title="Already decided")
    return adjustment


@transaction.atomic
def adjustment_approve(*, adjustment: Adjustment, actor, note: str = "") -> Adjustment:
    """A second person approves a waiting adjustment: its points move now, exactly once.

    The row lock makes approvals of one adjustment queue, so the second finds it decided; the posting's
    key is the adjustment's own, so even a posting retried after a failure moves the points once.
    """
    adjustment = _locked_pending(adjustment)
    if adjustment.requested_by_id == actor.pk:
        raise DomainError("own_adjustment", "You asked for this adjustment: another manager must approve it.",
                          title="Not your own")
    member = Member.objects.select_related("program").get(pk=adjustment.member_id)
    _not_anonymised(member)
    before = _available(member)
    txn = points_adjust(member=member, points=adjustment.points,
                        reason=_ledger_reason(adjustment.reason_code, adjustment.note),
                        actor=staff_actor(actor), idempotency_key=adjustment.idempotency_key)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = Adjustment.Status.POSTED, actor, timezone.now()
    adjustment.decision_note, adjustment.transaction_id = (note or "").strip(), txn.pk
    adjustment.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "transaction_id"])
    audit_record(actor=actor, program=member.program, action="adjustment.approve", target=member,
                 target_label=member_label(member),
                 before={"status": Adjustment.Status.PENDING, "available": before},
                 after={"status": adjustment.status, "available": _available(member), "adjustment": adjustment.pk,
                        "points": adjustment.points,
                        "requested_by": adjustment.requested_by.get_username() if adjustment.requested_by else ""},
                 reason=adjustment.decision_note or adjustment.note)
    return adjustment


@transaction.atomic
def adjustment_reject(*, adjustment: Adjustment, actor, note: str = "") -> Adjustment:
    """Turn a waiting adjustment down (the person who asked may withdraw it too); no point moves."""
    adjustment = _locked_pending(adjustment)
    member = Member.objects.select_related("program").get(pk=adjustment.member_id)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = (
        Adjustment.Status.REJECTED, actor, timezone.now())
    adjustment.decision_note = (note or "").strip()
    adjustment.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, program=member.program, action="adjustment.reject", target=member,
                 target_label=member_label(member), before={"status": Adjustment.Status.PENDING},
                 after={"status": adjustment.status, "adjustment": adjustment.pk, "points": adjustment.points},
                 reason=adjustment.decision_note or adjustment.note)
    return adjustment


# --- many at once ---------------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    """What posting a file did, line by line."""

    file_sha256: str
    posted: list[int] = field(default_factory=list)  # line numbers
    waiting: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)  # posted or asked for by an earlier upload of the file
    failed: list[dict] = field(default_factory=list)  # {"line", "message"}

    def summary(self) -> dict:
        return {"posted": len(self.posted), "waiting": len(self.waiting), "already": len(self.already),
                "failed": sorted(self.failed, key=lambda item: item["line"])}


def adjustments_bulk_post(*, program, file_name: str, file_sha256: str, lines, actor,
                          refused: list[dict] = ()) -> BulkOutcome:
    """Post the checked lines of a file (``staff.adjustments.bulk``), each as its own adjustment.

    Each line commits on its own, keyed by the file's hash and its line number: posting the same file
    again changes nothing, and a line refused now (the balance moved since the preview) can be fixed and
    sent in a new file without the others posting twice. Lines above the approval threshold wait.
    ``refused``: the lines the check refused (``{"line", "message"}``), recorded with the outcome.
    """
    outcome = BulkOutcome(file_sha256=file_sha256, failed=list(refused))
    for line in lines:
        try:
            adjustment = adjustment_request(
                member=line.member, points=line.points, reason_code=line.reason_code, note=line.note, actor=actor,
                role=Role.MANAGER, batch=file_sha256,
                idempotency_key=adjustment_key_for_file_line(file_sha256=file_sha256, line=line.number))
        except DomainError as error:
            outcome.failed.append({"line": line.number, "message": error.detail})
            continue
        if adjustment.replayed:
            outcome.already.append(line.number)
        elif adjustment.status == Adjustment.Status.PENDING:
            outcome.waiting.append(line.number)
        else:
            outcome.posted.append(line.number)
    audit_record(actor=actor, program=program, action="adjustment.bulk", target_type="adjustment_batch",
                 target_id=file_sha256, target_label=file_name, before=None,
                 after={"lines": len(lines) + len(refused), **outcome.summary()},
                 reason=f"Bulk adjustments from {file_name}")
    return outcome


def bulk_outcome_get(*, program, file_sha256: str) -> dict | None:
    """The last posting of a file in the program, as recorded in the audit log."""
    event = AuditEvent.objects.filter(program=program, action="adjustment.bulk", target_type="adjustment_batch",
                                      target_id=file_sha256).first()
    return None if event is None else {**event.after, "file_name": event.target_label, "at": event.created_at,
                                       "by": event.actor_name}


# --- other actions on a member --------------------------------------------------------------------


@transaction.atomic
def member_tier_set(*, member: Member, tier, locked_until: datetime | None, reason: str, actor):
    """Put a member in a tier by hand; with ``locked_until`` no recalculation moves them before then."""
    reason = _explained(reason)
    _not_anonymised(member)
    progress = member_tier_progress(member=member)
    before = {"tier": progress.tier.name if progress.tier else None, "locked_until": progress.locked_until}
    status = tier_assign(member=member, tier=tier, reason=reason, actor=staff_actor(actor),
                         locked_until=locked_until)
    audit_record(actor=actor, program=member.program, action="member.tier_assign", target=member,
                 target_label=member_label(member), before=before,
                 after={"tier": tier.name, "locked_until": status.locked_until}, reason=reason)
    return status


@transaction.atomic
def member_status_change(*, member: Member, status: str, reason: str, actor) -> Member:
    """Suspend a member (no earning, no redeeming) or make them active again."""
    reason = _explained(reason)
    before = member.status
    member = member_status_set(member=member, status=status)
    action = "member.suspend" if status == Member.Status.SUSPENDED else "member.reactivate"
    audit_record(actor=actor, program=member.program, action=action, target=member,
                 target_label=member_label(member), before={"status": before}, after={"status": member.status},
                 reason=reason)
    return member


@transaction.atomic
def member_redemption_cancel(*, redemption: Redemption, reason: str, actor) -> Redemption:
    """Cancel an unused voucher: its points go back to the member, its stock to the reward."""
    reason = _explained(reason)
    member = redemption.member
    before = _available(member)
    redemption = redemption_cancel(redemption=redemption, actor=staff_actor(actor), reason=reason[:200])
    audit_record(actor=actor, program=member.program, action="redemption.cancel", target=member,
                 target_label=member_label(member),
                 before={"voucher": redemption.voucher_code, "status": Redemption.Status.ISSUED, "available": before},
                 after={"voucher": redemption.voucher_code, "status": redemption.status,
                        "available": _available(member), "points_refunded": redemption.points_spent},
                 reason=reason)
    return redemption


@transaction.atomic
def member_voucher_resend(*, redemption: Redemption, request_key: str, actor) -> None:
    """Email a voucher to its member again; one email per ``request_key`` (a form's one-time token)."""
    member = redemption.member
    _not_anonymised(member)
    if not voucher_email_resend(redemption=redemption, request_key=request_key):
        return  # the same request (a double click) queued it already, and was recorded then
    audit_record(actor=actor, program=member.program, action="voucher.resend", target=member,
                 target_label=member_label(member), before=None,
                 after={"voucher": redemption.voucher_code, "reward": redemption.reward.name},
                 reason="Voucher email sent again at the member's request")


@transaction.atomic
def member_anonymise_on_request(*, member: Member, reason: str, actor) -> Member:
    """Erase a member's personal data at their request; their account and its ledger entries stay.

    The audit log keeps that it happened, by whom and why, but nothing that names the person: the labels
    of the member's earlier audit rows are wiped too (erasure outranks the log's add-only rule there).
    """
    reason = _explained(reason)
    if member_is_anonymised(member):
        raise DomainError("member_anonymised", "This member was anonymised already.", title="Member anonymised")
    before = {"status": member.status, "anonymised": False, "login": member.user_id is not None}
    member = member_anonymise(member=member)
    AuditEvent.objects.filter(target_type="member", target_id=str(member.pk)).update(
        target_label=member_label(member))
    audit_record(actor=actor, program=member.program, action="member.anonymise", target=member,
                 target_label=member_label(member), before=before,
                 after={"status": member.status, "anonymised": True, "login": False}, reason=reason)
    return member
