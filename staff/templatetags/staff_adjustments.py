"""What the side column of the member page (``staff/members/_actions.html``) needs, from the member alone.

The member page is drawn by the members area; the actions column gathers its own context here, so the two
change independently. An ``adjust_form`` in the page's context (the form shown again with its errors) is
used as it is; otherwise a fresh one with a new one-time token.
"""

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from ledger.selectors import account_balance_get
from members.services import member_is_anonymised

from ..adjustments.forms import AdjustmentForm, ResendForm
from ..adjustments.selectors import member_adjustments_waiting, member_vouchers_open
from ..adjustments.services import member_label as _member_label
from ..adjustments.services import staff_policy_for

register = template.Library()

ACTIONS = {
    "adjust": "member.adjust", "tier": "member.tier_assign", "suspend": "member.suspend",
    "anonymise": "member.anonymise", "cancel": "redemption.cancel", "resend": "voucher.resend",
    "approve": "adjustment.approve",
}


@register.simple_tag(takes_context=True)
def member_actions_context(context) -> dict:
    request, member = context["request"], context["member"]
    staff = getattr(request, "staff", None)
    program = member.program
    may = {name: bool(staff) and staff.may(action, program) for name, action in ACTIONS.items()}
    anonymised = member_is_anonymised(member)
    if anonymised:
        may.update(adjust=False, tier=False, suspend=False, anonymise=False, resend=False)
    policy = staff_policy_for(program=program)
    form = context.get("adjust_form")
    if not (isinstance(form, AdjustmentForm) and form.is_bound):
        form = AdjustmentForm(policy=policy, role=staff.role_in(program.pk) if staff else None)
    vouchers = member_vouchers_open(member=member) if may["cancel"] or may["resend"] else []
    return {
        "may": may, "anonymised": anonymised, "policy": policy, "adjust_form": form,
        "available": account_balance_get(member=member, fresh=True)["available"],
        "waiting": member_adjustments_waiting(member=member) if may["adjust"] or may["approve"] else [],
        "vouchers": [(voucher, ResendForm(auto_id=False)) for voucher in vouchers],
    }


@register.filter
def number(value) -> str:
    """1234567 → "1,234,567" (staff read figures in English; the portal localises its own)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value


@register.filter
def signed(value) -> str:
    """An adjustment as staff write it: +1,500 or -100."""
    try:
        return f"{int(value):+,}"
    except (TypeError, ValueError):
        return value


@register.filter
def member_label(member) -> str:
    """How staff pages name a member: name and card, or that they were anonymised."""
    return _member_label(member)


@register.filter
def ago(moment) -> str:
    """How long ago, in words: "just now" for the last minute (``timesince`` would say "0 minutes")."""
    if not moment:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
