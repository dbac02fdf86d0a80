"""Adjusting points, approving adjustments, adjusting from a file, and the other actions on a member.

Views parse a form, call one service of ``staff.adjustments.services`` and show the outcome; a refusal
(``DomainError``) is shown beside the field it is about, and nothing changes.
"""

from __future__ import annotations

import base64
import binascii

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ledger.selectors import account_balance_get
from loyalty.errors import DomainError
from members.models import Member
from members.services import member_is_anonymised
from rewards.models import Redemption
from tiers.models import TierPolicy
from tiers.selectors import member_tier_progress, tier_list

from ..access import staff_object, staff_view
from ..members.page import render_member_page
from ..models import Adjustment, AuditEvent, ReasonCode
from ..permissions import role_may
from . import selectors
from .bulk import bulk_preview
from .forms import (
    AdjustmentForm,
    AnonymiseForm,
    BulkPostForm,
    BulkUploadForm,
    DecisionForm,
    ExplanationForm,
    ResendForm,
    TierForm,
)
from .services import (
    adjustment_approve,
    adjustment_key_for_form,
    adjustment_reject,
    adjustment_request,
    adjustments_bulk_post,
    bulk_outcome_get,
    member_anonymise_on_request,
    member_label,
    member_name,
    member_redemption_cancel,
    member_status_change,
    member_tier_set,
    member_voucher_resend,
    staff_policy_for,
)

BULK_SALT = "staff.adjustments.bulk"
BULK_MAX_AGE = 60 * 60  # a preview confirmed within the hour


def member_url(member) -> str:
    return f"/staff/members/{member.pk}/"


def _member(request, member_id, action: str) -> Member:
    return staff_object(request, Member.objects.select_related("program"), action, pk=member_id)


def _show_refusal(form, error: DomainError, fields: dict[str, str]) -> None:
    """Put a service's refusal beside the form field it is about (``fields``: service field → form field)."""
    placed = False
    for item in error.errors or []:
        name = fields.get(item["field"], item["field"])
        if name in form.fields:
            form.add_error(name, item["message"])
            placed = True
    if not placed:
        form.add_error(None, error.detail)


def _action_page(request, template: str, member, **context):
    return render(request, template, {"member": member, "member_name": member_label(member),
                                      "member_url": member_url(member), **context})


# --- one adjustment, from the member page -------------------------------------------------------

ADJUST_FIELDS = {"points": "points", "reason_code": "category", "note": "reason", "token": "token"}


@require_POST
@staff_view("member.adjust", record=True)
def adjustment_create(request, member_id):
    member = _member(request, member_id, "member.adjust")
    policy = staff_policy_for(program=member.program)
    form = AdjustmentForm(request.POST, policy=policy, role=request.staff.role)
    if form.is_valid():
        data = form.cleaned_data
        try:
            adjustment = adjustment_request(
                member=member, points=data["points"], reason_code=data["category"], note=data["reason"],
                actor=request.user, role=request.staff.role, idempotency_key=adjustment_key_for_form(data["token"]))
        except DomainError as error:
            if error.code == "member_anonymised":  # the page shows no form for them: say it above the page
                messages.error(request, error.detail)
                return HttpResponseRedirect(member_url(member))
            _show_refusal(form, error, ADJUST_FIELDS)
        else:
            name = member_name(member)
            if adjustment.replayed:
                messages.info(request, "This adjustment was recorded already; it was not made a second time.")
            elif adjustment.status == Adjustment.Status.PENDING:
                messages.warning(request, f"{adjustment.points:+,} points for {name} wait for another manager's "
                                          f"approval (more than {policy.approval_threshold:,}). Nothing moved yet.")
            else:
                available = account_balance_get(member=member, fresh=True)["available"]
                messages.success(request, f"{adjustment.points:+,} points for {name}. Available now: {available:,}.")
            return HttpResponseRedirect(member_url(member))
    return render_member_page(request, member, adjust_form=form)


# --- approvals -----------------------------------------------------------------------------------


def _approver_programs(request) -> list:
    return [pid for pid, role in request.staff.roles.items() if role_may(role, "adjustment.approve")]


@require_safe
@staff_view("adjustment.approve")
def approvals(request):
    programs = _approver_programs(request)
    waiting = list(selectors.adjustments_waiting(program_ids=programs).select_related("member__account"))
    for adjustment in waiting:
        adjustment.own = adjustment.requested_by_id == request.user.pk  # maker-checker: not theirs to approve
    return render(request, "staff/adjustments/approvals.html", {
        "waiting": waiting, "decided": selectors.adjustments_decided_recently(program_ids=programs),
        "several_programs": len(programs) > 1, "form": DecisionForm(auto_id=False),
        "waiting_total": sum(a.points for a in waiting),
    })


def _decide(request, pk: int, decide, done: str):
    adjustment = staff_object(request, Adjustment.objects.select_related("member"), "adjustment.approve", pk=pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        adjustment = decide(adjustment=adjustment, actor=request.user, note=note)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"{adjustment.points:+,} points for {member_name(adjustment.member)}: {done}.")
    return HttpResponseRedirect(reverse("staff:approvals"))


@require_POST
@staff_view("adjustment.approve", record=True)
def approval_approve(request, pk: int):
    return _decide(request, pk, adjustment_approve, "approved and posted")


@require_POST
@staff_view("adjustment.approve", record=True)
def approval_reject(request, pk: int):
    return _decide(request, pk, adjustment_reject, "rejected, no points moved")


# --- many at once, from a file -------------------------------------------------------------------


def _bulk_recent(program) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(program=program, action="adjustment.bulk")[:8])


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("adjustment.bulk")
def bulk_upload(request):
    program = request.staff.program
    form = BulkUploadForm(request.POST or None, request.FILES or None)
    context = {"form": form, "recent": _bulk_recent(program), "policy": staff_policy_for(program=program),
               "categories": ReasonCode.values}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read()
        file_name = upload.name.replace("\x00", "")[:200]
        preview = bulk_preview(program=program, file_name=file_name, content=content)
        if preview.error:
            form.add_error("file", preview.error)
        elif not preview.lines:
            form.add_error("file", "The file has a header but no lines.")
        else:
            payload = {"program": str(program.pk), "user": request.user.pk, "name": file_name,
                       "content": base64.b64encode(content).decode()}
            context.update(preview=preview, post_form=BulkPostForm(
                initial={"upload": signing.dumps(payload, salt=BULK_SALT, compress=True)}))
    return render(request, "staff/adjustments/bulk.html", context)


@require_POST
@staff_view("adjustment.bulk")
def bulk_post(request):
    form = BulkPostForm(request.POST)
    try:
        payload = signing.loads(form.data.get("upload", ""), salt=BULK_SALT, max_age=BULK_MAX_AGE)
        content = base64.b64decode(payload["content"], validate=True)
    except (signing.BadSignature, KeyError, TypeError, binascii.Error):
        messages.error(request, "This preview has expired. Upload the file again to check it once more.")
        return HttpResponseRedirect(reverse("staff:bulk-upload"))
    program = next((p for p in request.staff.programs if str(p.pk) == payload.get("program")), None)
    if program is None or payload.get("user") != request.user.pk:
        raise Http404("No such upload.")
    request.staff.require("adjustment.bulk", program)
    # Checked again as things are now: a balance may have moved since the preview.
    preview = bulk_preview(program=program, file_name=payload["name"], content=content)
    adjustments_bulk_post(program=program, file_name=preview.file_name, file_sha256=preview.file_sha256,
                          lines=preview.checked, refused=[{"line": line.number, "message": line.error}
                                                       for line in preview.bad], actor=request.user)
    return HttpResponseRedirect(reverse("staff:bulk-result", args=[preview.file_sha256]))


@require_safe
@staff_view("adjustment.bulk")
def bulk_result(request, file_sha256: str):
    program = request.staff.program
    outcome = bulk_outcome_get(program=program, file_sha256=file_sha256)
    if outcome is None:
        raise Http404("No such upload.")
    adjustments = selectors.batch_adjustments(program=program, file_sha256=file_sha256)
    return render(request, "staff/adjustments/bulk_result.html", {
        "outcome": outcome, "adjustments": adjustments, "file_sha256": file_sha256,
        "total_posted": sum(a.points for a in adjustments if a.status == Adjustment.Status.POSTED),
        "total_waiting": sum(a.points for a in adjustments if a.status == Adjustment.Status.PENDING),
    })


# --- the other actions on a member ---------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("member.tier_assign", record=True)
def member_tier(request, member_id):
    member = _member(request, member_id, "member.tier_assign")
    tiers = tier_list(program=member.program)
    form = TierForm(request.POST or None, tiers=tiers, program=member.program)
    if request.method == "POST" and form.is_valid() and not member_is_anonymised(member):
        data = form.cleaned_data
        try:
            member_tier_set(member=member, tier=data["tier"], locked_until=form.locked_until(),
                            reason=data["explanation"], actor=request.user)
        except DomainError as error:
            _show_refusal(form, error, {"reason": "explanation", "locked_until": "keep_until"})
        else:
            kept = f", kept until {data['keep_until']:%-d %B %Y}" if data["keep_until"] else ""
            messages.success(request, f"{member_name(member)} is now in {data['tier'].name}{kept}.")
            return HttpResponseRedirect(member_url(member))
    progress = member_tier_progress(member=member)
    return _action_page(request, "staff/adjustments/member_tier.html", member, form=form, tiers=tiers,
                        progress=progress, metric=TierPolicy.Metric(progress.metric).label,
                        anonymised=member_is_anonymised(member))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("member.suspend", record=True)
def member_status(request, member_id):
    member = _member(request, member_id, "member.suspend")
    anonymised = member_is_anonymised(member)
    to = Member.Status.ACTIVE if member.is_suspended else Member.Status.SUSPENDED
    form = ExplanationForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not anonymised:
        try:
            member = member_status_change(member=member, status=to, reason=form.cleaned_data["explanation"],
                                          actor=request.user)
        except DomainError as error:
            _show_refusal(form, error, {"status": "explanation"})
        else:
            done = "suspended" if member.is_suspended else "active again"
            messages.success(request, f"{member_name(member)} is {done}.")
            return HttpResponseRedirect(member_url(member))
    return _action_page(request, "staff/adjustments/member_status.html", member, form=form, to=to,
                        anonymised=anonymised)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("member.anonymise", record=True)
def member_anonymise(request, member_id):
    member = _member(request, member_id, "member.anonymise")
    anonymised = member_is_anonymised(member)
    form = AnonymiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not anonymised:
        try:
            member = member_anonymise_on_request(member=member, reason=form.cleaned_data["explanation"],
                                                 actor=request.user)
        except DomainError as error:
            _show_refusal(form, error, {})
        else:
            messages.success(request, "The member's personal data is erased and their card no longer works. "
                                      "Their points history stays, without a name.")
            return HttpResponseRedirect(member_url(member))
    return _action_page(request, "staff/adjustments/member_anonymise.html", member, form=form,
                        anonymised=anonymised, balance=account_balance_get(member=member, fresh=True))


def _voucher(request, member_id, redemption_id, action: str) -> Redemption:
    return staff_object(request, Redemption.objects.select_related("reward", "member__program"), action,
                        pk=redemption_id, member_id=member_id)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("redemption.cancel", record=True)
def voucher_cancel(request, member_id, redemption_id):
    redemption = _voucher(request, member_id, redemption_id, "redemption.cancel")
    member = redemption.member
    form = ExplanationForm(request.POST or None)
    open_ = redemption.status == Redemption.Status.ISSUED
    if request.method == "POST" and form.is_valid() and open_:
        try:
            member_redemption_cancel(redemption=redemption, reason=form.cleaned_data["explanation"],
                                     actor=request.user)
        except DomainError as error:
            _show_refusal(form, error, {})
        else:
            messages.success(request, f"Voucher {redemption.voucher_code} is cancelled; "
                                      f"{redemption.points_spent:,} points went back to {member_name(member)}.")
            return HttpResponseRedirect(member_url(member))
    return _action_page(request, "staff/adjustments/voucher_cancel.html", member, form=form,
                        redemption=redemption, open=open_)


@require_POST
@staff_view("voucher.resend", record=True)
def voucher_resend(request, member_id, redemption_id):
    redemption = _voucher(request, member_id, redemption_id, "voucher.resend")
    form = ResendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "This form has expired. Reload the page and try again.")
    else:
        try:
            member_voucher_resend(redemption=redemption, request_key=form.cleaned_data["token"], actor=request.user)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"The email with voucher {redemption.voucher_code} is on its way to "
                                      f"{redemption.member.email}.")
    return HttpResponseRedirect(member_url(redemption.member))

