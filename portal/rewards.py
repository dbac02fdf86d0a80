"""Rewards and vouchers: the catalogue by category, redeeming (a chosen amount for pay-with-points), the voucher
with its undo, and the member's vouchers.

Whatever a member sends, a reward or voucher of another member or program is a plain 404; a refusal is said in
words beside what it refuses and changes nothing.
"""

from __future__ import annotations

import math
import re
import uuid

from django import forms
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ledger.selectors import account_balance_get
from ledger.services import account_lock
from loyalty.errors import DomainError
from loyalty.images import image_response
from rewards.models import Redemption
from rewards.selectors import (
    member_vouchers_past,
    member_vouchers_usable,
    redemption_get,
    redemption_undoable_until,
    reward_category_list,
    reward_eligibility,
    reward_get_by_code,
    reward_list,
    voucher_get,
)
from rewards.services import period_end, redemption_points, redemption_undo, reward_redeem
from tiers.selectors import tier_list

from .access import page_number, portal_view, program_zone
from .qr import qr_svg

CATEGORY_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
PAST_PAGE_SIZE = 20
# Points a member may type: far above any balance, far below what the database column holds.
POINTS_CEILING = 1_000_000_000

STATUS_WORDS = {
    Redemption.Status.ISSUED: gettext_lazy("Ready to use"),
    Redemption.Status.USED: gettext_lazy("Used"),
    Redemption.Status.CANCELLED: gettext_lazy("Cancelled"),
    Redemption.Status.EXPIRED: gettext_lazy("Expired"),
}



def _points(value: int) -> str:
    return number_format(value, force_grouping=True)


def _moment(when, program) -> str:
    """A date (and the time, unless it is midnight there) in the program's zone and the page's language."""
    local = timezone.localtime(when, program_zone(program))
    if (local.hour, local.minute) == (0, 0):
        return date_format(local, "DATE_FORMAT")
    return f'{date_format(local, "DATE_FORMAT")}, {date_format(local, "TIME_FORMAT")}'


def _reward_or_404(program, code: str):
    if not code.isprintable() or len(code) > 64:  # PostgreSQL refuses NUL in text: a junk code is a plain miss
        raise Http404("No such reward.")
    try:
        return reward_get_by_code(program=program, code=code)
    except DomainError as error:
        raise Http404("No such reward.") from error


def _own_voucher_or_404(request, code: str) -> Redemption:
    """The signed-in member's voucher of this code; anything else (another member's, junk) is 404."""
    try:
        redemption = voucher_get(program=request.program, code=code[:64])
    except DomainError as error:
        raise Http404("No such voucher.") from error
    if redemption.member_id != request.member.pk:
        raise Http404("No such voucher.")
    return redemption


def _lowest_points(reward) -> int:
    return (reward.points_min or 1) if reward.is_pay_with_points else reward.points_cost


def _top_rank(program) -> int:
    return max((t.rank for t in tier_list(program=program)), default=0)


def refusal_words(code: str, reward, *, spendable: int, program, now=None, top_rank: int | None = None) -> str:
    """Why ``reward`` is out of the member's reach (``rewards.services.reward_refusal``'s code), as they read it.

    ``top_rank`` (the program's highest tier rank) tells "Gold members only" from "Gold members and above";
    a page listing many rewards passes it, read once."""
    now = now or timezone.now()
    if code == "insufficient_points":
        missing = max(_lowest_points(reward) - max(spendable, 0), 1)
        return ngettext("%(count)s more point needed", "%(count)s more points needed", missing) % {
            "count": _points(missing)}
    if code == "tier_required" and reward.min_tier is not None:
        if top_rank is None:
            top_rank = _top_rank(program)
        if reward.min_tier.rank >= top_rank:
            return _("%(tier)s members only") % {"tier": reward.min_tier.name}
        return _("For %(tier)s members and above") % {"tier": reward.min_tier.name}
    if code == "limit_reached":
        until = period_end(reward.limit_period, now)
        if until is None:
            return _("You have had this reward as often as it allows")
        return _("Limit reached until %(when)s") % {"when": _moment(until, program)}
    if code == "reward_not_available":
        if reward.available_from and now < reward.available_from:
            return _("Available from %(when)s") % {"when": _moment(reward.available_from, program)}
        if reward.available_until and now >= reward.available_until:
            return _("No longer available")
    if code == "out_of_stock" and reward.restock_on and \
            reward.restock_on > timezone.localtime(now, program_zone(program)).date():
        return _("Out of stock: back on %(day)s") % {"day": date_format(reward.restock_on, "DATE_FORMAT")}
    return {
        "out_of_stock": _("Out of stock"),
        "member_suspended": _("Your membership is on hold: please ask at the till"),
    }.get(code, _("Not available at the moment"))



# ------------------------------------------------------------------------------------------ the catalogue

@require_safe
@portal_view()
def rewards(request):
    member, program = request.member, request.program
    categories = reward_category_list(program=program)
    chosen = None
    if "category" in request.GET:
        slug = request.GET["category"]
        chosen = next((c for c in categories if CATEGORY_SLUG.fullmatch(slug) and c.slug == slug), None)
        if chosen is None:
            raise Http404("No such category.")
    rewards = list(reward_list(program=program, category=chosen))
    eligibility = reward_eligibility(rewards=rewards, member=member) if rewards else {}
    spendable = account_balance_get(member=member)["available"]
    top_rank = _top_rank(program) if any(r.min_tier_id for r in rewards) else None
    now = timezone.now()
    items = []
    for reward in rewards:
        ok, code = eligibility[reward.pk]
        why = "" if ok else refusal_words(code, reward, spendable=spendable, program=program, now=now,
                                          top_rank=top_rank)
        items.append({"reward": reward, "redeemable": ok, "why": why})
    return render(request, "portal/rewards.html", {
        "items": items, "available": spendable, "categories": categories, "chosen": chosen,
    })


@require_safe
@portal_view()
def reward_image(request, code: str):
    return image_response(_reward_or_404(request.program, code).image)


# ------------------------------------------------------------------------------------------ redeeming

class ConfirmForm(forms.Form):
    # One id per confirmation page: the redemption is made under it, so a second submit finds the first.
    redemption = forms.UUIDField(widget=forms.HiddenInput)


class PointsForm(ConfirmForm):
    """Pay with points: how many, within the reward's bounds and steps (stated beside the field)."""

    points = forms.IntegerField(label=gettext_lazy("Points to use"),
                                error_messages={"required": gettext_lazy("Say how many points to use."),
                                                "invalid": gettext_lazy("Enter a whole number of points.")})

    def __init__(self, *args, reward, available: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.reward = reward
        self.low, self.high, self.step = reward.points_min or 1, reward.points_max, reward.points_step or 1
        field = self.fields["points"]
        field.widget.attrs.update({"min": self.low, "step": self.step, "inputmode": "numeric"})
        if self.high is not None:
            field.widget.attrs["max"] = self.high
        field.help_text = self.bounds_words() + " " + _("You have %(available)s points.") % {
            "available": _points(available)}

    def bounds_words(self) -> str:
        values = {"low": _points(self.low), "step": _points(self.step)}
        if self.high is None:
            return _("At least %(low)s, in steps of %(step)s.") % values
        return _("Between %(low)s and %(high)s, in steps of %(step)s.") % {**values, "high": _points(self.high)}

    def clean_points(self):
        points = self.cleaned_data["points"]
        try:
            if not 0 < points < POINTS_CEILING:
                raise DomainError.invalid("points", "Out of range.")
            redemption_points(reward=self.reward, points=points)
        except DomainError as error:
            raise forms.ValidationError(_("Choose an amount the reward takes: %(bounds)s") % {
                "bounds": self.bounds_words()}) from error
        return points


def _redeem_once(*, member, reward, redemption_id, points: int | None):
    """Redeem under the form's id; the same form sent again answers with the redemption it made."""
    with transaction.atomic():
        account_lock(member=member)  # a twin submit waits here, then finds the first one's redemption
        try:
            earlier = redemption_get(program=member.program, redemption_id=redemption_id)
        except DomainError:
            return reward_redeem(member=member, reward=reward, actor=f"user:{member.user_id}",
                                 redemption_id=redemption_id, points=points)
    if earlier.member_id != member.pk:
        raise Http404("No such redemption.")
    return earlier


def _confirm_form(reward, data, available: int):
    initial = {"redemption": uuid.uuid4()}
    if reward.is_pay_with_points:
        initial["points"] = reward.points_min or 1
        return PointsForm(data, initial=initial, reward=reward, available=available)
    return ConfirmForm(data, initial=initial)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def redeem(request, code: str):
    member, program = request.member, request.program
    reward = _reward_or_404(program, code)
    available = account_balance_get(member=member)["available"]
    form = _confirm_form(reward, request.POST if request.method == "POST" else None, available)
    problem = ""
    if request.method == "POST":
        if "redemption" in form.errors:
            problem = _("This confirmation has expired. Check the reward and confirm again.")
            form = _confirm_form(reward, None, available)
        elif form.is_valid():
            try:
                redemption = _redeem_once(member=member, reward=reward, redemption_id=form.cleaned_data["redemption"],
                                          points=form.cleaned_data.get("points"))
            except DomainError as error:
                available = account_balance_get(member=member, fresh=True)["available"]
                words = refusal_words(error.code, reward, spendable=available, program=program)
                if reward.is_pay_with_points and error.code == "insufficient_points":
                    words = _("You have %(available)s points: choose fewer.") % {"available": _points(available)}
                    form.add_error("points", words)
                else:
                    problem = words
                    form = _confirm_form(reward, None, available)
            else:
                return HttpResponseRedirect(
                    reverse("portal:voucher", args=[program.slug, redemption.voucher_code]) + "?new=1")
    invalid = bool(problem) or bool(form.errors)
    return render(request, "portal/redeem.html", {
        "reward": reward, "form": form, "problem": problem, "available": available,
        "after": available - reward.points_cost,
        "hundred_points": 100 * reward.money_per_point if reward.money_per_point else None,
    }, status=400 if invalid else 200)


# ------------------------------------------------------------------------------------------ vouchers

UNDO_REFUSALS = {
    "voucher_already_used": gettext_lazy("This voucher has been used, so the redemption can no longer be undone."),
    "undo_window_closed": gettext_lazy("The time to undo this redemption has passed."),
}


def _voucher_page(request, redemption: Redemption, *, problem: str = "", status: int = 200):
    program, now = request.program, timezone.now()
    undo_until = redemption_undoable_until(redemption=redemption, minutes=program.redemption_undo_minutes, now=now)
    usable = redemption.status == Redemption.Status.ISSUED and not (
        redemption.expires_at and redemption.expires_at <= now)
    return render(request, "portal/voucher.html", {
        "redemption": redemption, "new": request.GET.get("new") == "1" and usable,
        "undone": request.GET.get("undone") == "1" and redemption.status == Redemption.Status.CANCELLED,
        "usable": usable, "status_words": _status_words(redemption, now),
        "qr": qr_svg(redemption.voucher_code, label=_("QR code of voucher %(code)s") % {
            "code": redemption.voucher_code}) if usable else "",
        "undo_until": undo_until,
        "undo_minutes_left": math.ceil((undo_until - now).total_seconds() / 60) if undo_until else 0,
        "problem": problem, "currency": program.currency,
    }, status=status)


def _status_words(redemption: Redemption, now) -> str:
    if redemption.status == Redemption.Status.ISSUED and redemption.expires_at and redemption.expires_at <= now:
        return STATUS_WORDS[Redemption.Status.EXPIRED]  # past its date, before the nightly run marks it
    return STATUS_WORDS.get(redemption.status, redemption.get_status_display())


@require_safe
@portal_view()
def voucher(request, code: str):
    return _voucher_page(request, _own_voucher_or_404(request, code))


@require_POST
@portal_view()
def voucher_undo(request, code: str):
    redemption = _own_voucher_or_404(request, code)
    url = reverse("portal:voucher", args=[request.program.slug, redemption.voucher_code])
    try:
        redemption_undo(redemption=redemption, member=request.member)
    except DomainError as error:
        redemption.refresh_from_db()
        if redemption.status == Redemption.Status.CANCELLED:
            # Already undone (the same button pressed twice): the voucher page says so.
            return HttpResponseRedirect(url)
        problem = UNDO_REFUSALS.get(error.code, _("This redemption can no longer be undone."))
        return _voucher_page(request, redemption, problem=str(problem), status=400)
    return HttpResponseRedirect(url + "?undone=1")


@require_safe
@portal_view()
def vouchers(request):
    member, now = request.member, timezone.now()
    page = page_number(request)
    usable = member_vouchers_usable(member=member, now=now) if page == 1 else []
    past = member_vouchers_past(member=member, now=now, offset=(page - 1) * PAST_PAGE_SIZE,
                                limit=PAST_PAGE_SIZE + 1)
    return render(request, "portal/vouchers.html", {
        "usable": [{"redemption": r, "qr": qr_svg(r.voucher_code, label=_("QR code of voucher %(code)s") % {
            "code": r.voucher_code})} for r in usable],
        "past": [{"redemption": r, "status_words": _status_words(r, now)} for r in past[:PAST_PAGE_SIZE]],
        "page": page, "has_next": len(past) > PAST_PAGE_SIZE, "has_previous": page > 1,
    })
