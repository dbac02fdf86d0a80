"""Writes the staff dashboard owns itself: the audit log. Domain writes go through each app's services."""

from __future__ import annotations

import datetime
import decimal
import uuid

from django.db import models, transaction

from loyalty.edits import changes_apply, record_check

from .models import AuditEvent, StaffPolicy


def _plain(value):
    """A JSON-safe copy of a value for the audit log's before/after."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, decimal.Decimal | uuid.UUID | datetime.date | datetime.datetime | datetime.time):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    return value


def snapshot(obj: models.Model, fields: list[str] | tuple[str, ...]) -> dict:
    """The named fields of a record, JSON-safe, to store as an audit event's before or after."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, from each side."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@transaction.atomic
def audit_record(*, actor, action: str, program=None, target: models.Model | None = None,
                 target_type: str = "", target_id: str = "", target_label: str = "",
                 before: dict | None = None, after: dict | None = None, reason: str = "") -> AuditEvent:
    """Record one staff action. Call it inside the transaction that makes the change, so both or neither land."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)
    return AuditEvent.objects.create(
        program=program, actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "get_username", lambda: str(actor))() if actor is not None else "system",
        action=action, target_type=target_type, target_id=target_id, target_label=target_label[:200],
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        reason=reason or "",
    )


def staff_actor(user) -> str:
    """How the ledger names a staff member as the cause of an entry."""
    return f"user:{user.pk}"


STAFF_POLICY_FIELDS = frozenset({"approval_threshold", "agent_adjustment_limit", "manager_mfa_required"})


@transaction.atomic
def staff_policy_update(*, program, **changes) -> StaffPolicy:
    """Change the program's staff policy (created with its defaults if the program has none yet)."""
    policy, _ = StaffPolicy.objects.select_for_update().get_or_create(program=program)
    changes_apply(policy, changes, allowed=STAFF_POLICY_FIELDS, what="staff policy")
    record_check(policy)
    policy.save()
    return policy
