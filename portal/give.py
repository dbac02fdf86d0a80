"""Give and share: points to another member of the program, to a cause, a missed purchase claimed, a friend
referred.

Another member appears by initials only ("A. S."): the member typed their card number or email, and learns
nothing more about them than that someone of that name holds it.
"""

from __future__ import annotations

import uuid

from django import forms
from django.core.cache import cache
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from earning.selectors import member_purchase_get
from earning.services import purchase_claim
from ledger.models import Kind
from ledger.selectors import (
    account_balance_get,
    bonus_entries,
    members_with_kind,
    transfer_left_today,
    transfer_sent_get,
)
from ledger.services import points_transfer_member
from loyalty.errors import DomainError
from loyalty.images import image_response
from members.selectors import member_find, member_referrals
from programs.models import Store
from rewards.selectors import cause_get, cause_list, donation_get
from rewards.services import cause_donate

from .access import portal_view

MAX_POINTS = 1_000_000_000
# Guards against guessing: receipt numbers are often short and sequential, and a look-up of a card number or
# email answers with initials. Counted per member per hour, in the cache.
CLAIM_MISSES_PER_HOUR = 10
LOOKUPS_PER_HOUR = 30
HOUR = 3600


def _tries_key(member, what: str) -> str:
    return f"portal:give:{what}:{member.pk}"


def _tries_used(member, what: str) -> int:
    return cache.get(_tries_key(member, what)) or 0


def _tries_count(member, what: str) -> None:
    key = _tries_key(member, what)
    if not cache.add(key, 1, timeout=HOUR):
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, timeout=HOUR)


def initials(member) -> str:
    """What the portal shows of another member: "A. S.", else their email masked ("a•••@e•••")."""
    letters = [name.strip()[0].upper() + "." for name in (member.first_name, member.last_name) if name.strip()]
    if letters:
        return "\u00a0".join(letters)  # kept on one line
    local, _at, domain = member.email.partition("@")
    return f"{local[:1]}•••@{domain[:1]}•••"


def first_name_and_initial(member) -> str:
    """A referred friend as the referrer sees them: "Ben O."."""
    last = member.last_name.strip()
    name = " ".join(filter(None, [member.first_name.strip(), f"{last[0].upper()}." if last else ""]))
    return name or initials(member)


def _actor(member) -> str:
    return f"user:{member.user_id}"


def _spendable(member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


# --- the hub -----------------------------------------------------------------------------------------


@require_safe
@portal_view()
def give(request):
    member = request.member
    return render(request, "portal/give.html", {
        "available": account_balance_get(member=member)["available"],
        "transfers_off": request.program.transfer_daily_limit == 0,
        "causes": cause_list(program=request.program, member=member),
    })


# --- transfer to another member -------------------------------------------------------------------------


class TransferForm(forms.Form):
    recipient = forms.CharField(
        label=gettext_lazy("Card number or email of the member"), max_length=254,
        help_text=gettext_lazy("Exactly as on their card or as they sign in."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}))
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=1, max_value=MAX_POINTS,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class TransferConfirmForm(forms.Form):
    recipient = forms.CharField(max_length=254, widget=forms.HiddenInput)
    points = forms.IntegerField(min_value=1, max_value=MAX_POINTS, widget=forms.HiddenInput)
    # One key per confirmation page: the transfer is made under it, so a second submit finds the first.
    key = forms.UUIDField(widget=forms.HiddenInput)


def _recipient_find(program, value: str):
    """The active member of ``program`` with this card number or email, else None (one answer for all misses)."""
    value = value.strip()
    field = "email" if "@" in value else "card_number"
    try:
        found = member_find(program=program, field=field, value=value)
    except DomainError:
        return None
    return None if found.is_suspended else found


def _transfer_refusal(form: TransferForm, error: DomainError, *, member, program) -> None:
    """Say why beside the field it concerns."""
    if error.code == "transfer_limit_reached":
        form.add_error("points", _("You can send %(left)s more points today (at most %(limit)s a day).") % {
            "left": f"{error.extra.get('left', 0):,}", "limit": f"{error.extra.get('limit', 0):,}"})
    elif error.code == "insufficient_points":
        form.add_error("points", _("You have %(points)s points to send.") % {
            "points": f"{max(_spendable(member), 0):,}"})
    elif error.code == "invalid" and error.errors and error.errors[0]["field"] == "recipient":
        form.add_error("recipient", _("That is your own card. Enter the card number or email of another member."))
    elif error.code == "invalid":
        form.add_error("points", _("Enter a whole number of points, 1 or more."))
    elif error.code == "member_suspended":
        form.add_error(None, _("Your membership is on hold: please ask at the till."))
    else:  # member_not_found
        form.add_error("recipient", _("No member of %(program)s has this card number or email.")
                       % {"program": program.name})


def _transfer_check(form: TransferForm, *, member, program):
    """The recipient, after the checks the service will make again under its locks; None with the form's errors."""
    recipient = _recipient_find(program, form.cleaned_data["recipient"])
    points = form.cleaned_data["points"]
    if recipient is None:
        _transfer_refusal(form, DomainError("member_not_found", ""), member=member, program=program)
    elif recipient.pk == member.pk:
        _transfer_refusal(form, DomainError.invalid("recipient", ""), member=member, program=program)
    account = getattr(member, "account", None)
    left = transfer_left_today(program=program, account=account, now=timezone.now()) if account else None
    if left is not None and points > left:
        _transfer_refusal(form, DomainError("transfer_limit_reached", "", extra={
            "left": left, "limit": program.transfer_daily_limit}), member=member, program=program)
    elif points > _spendable(member):
        _transfer_refusal(form, DomainError("insufficient_points", ""), member=member, program=program)
    return None if form.errors else recipient


def _transfer_page(request, form, *, status=200, problem=""):
    program = request.program
    return render(request, "portal/give_transfer.html", {
        "form": form, "problem": problem, "available": account_balance_get(member=request.member)["available"],
        "transfers_off": program.transfer_daily_limit == 0, "limit": program.transfer_daily_limit,
    }, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def transfer(request):
    """The form; sent, the confirmation ("Send 200 points to A. S.?") or the form again with what is wrong."""
    member, program = request.member, request.program
    if program.transfer_daily_limit == 0 or request.method != "POST":
        return _transfer_page(request, TransferForm())
    form = TransferForm(request.POST)
    if _tries_used(member, "lookups") >= LOOKUPS_PER_HOUR:
        return _transfer_page(request, form, status=429, problem=_(
            "You have looked up many members in a short time. Please try again in an hour."))
    recipient = None
    if form.is_valid():
        _tries_count(member, "lookups")
        recipient = _transfer_check(form, member=member, program=program)
    if recipient is None:
        return _transfer_page(request, form, status=400)
    points = form.cleaned_data["points"]
    confirm = TransferConfirmForm(initial={"recipient": form.cleaned_data["recipient"].strip(), "points": points,
                                           "key": uuid.uuid4()})
    return render(request, "portal/give_transfer_confirm.html", {
        "confirm": confirm, "points": points, "recipient": initials(recipient),
        "after": _spendable(member) - points,
    })


@require_POST
@portal_view()
def transfer_confirm(request):
    member, program = request.member, request.program
    confirm = TransferConfirmForm(request.POST)
    if program.transfer_daily_limit == 0:
        return _transfer_page(request, TransferForm(), status=400)
    if not confirm.is_valid():
        return _transfer_page(request, TransferForm(), status=400, problem=_(
            "This confirmation has expired. Check the transfer and send it again."))
    data = confirm.cleaned_data
    form = TransferForm({"recipient": data["recipient"], "points": data["points"]})
    form.is_valid()
    key = f"transfer:{member.pk}:{data['key']}"
    recipient = _recipient_find(program, data["recipient"])
    if recipient is None:
        _transfer_refusal(form, DomainError("member_not_found", ""), member=member, program=program)
        return _transfer_page(request, form, status=400)
    try:
        points_transfer_member(sender=member, recipient=recipient, points=data["points"], idempotency_key=key,
                               actor=_actor(member))
    except DomainError as error:
        if error.code == "transfers_off":
            return _transfer_page(request, TransferForm(), status=400)
        _transfer_refusal(form, error, member=member, program=program)
        return _transfer_page(request, form, status=400)
    return HttpResponseRedirect(reverse("portal:give-transfer-done", args=[program.slug, data["key"]]))


@require_safe
@portal_view()
def transfer_done(request, key: uuid.UUID):
    sent = transfer_sent_get(sender=request.member, idempotency_key=f"transfer:{request.member.pk}:{key}")
    if sent is None:
        raise Http404("No such transfer.")
    points, recipient = sent
    return render(request, "portal/give_transfer_done.html", {
        "points": points, "recipient": initials(recipient),
        "available": account_balance_get(member=request.member, fresh=True)["available"],
    })


# --- donate to a cause ------------------------------------------------------------------------------------


class DonateForm(forms.Form):
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=1, max_value=MAX_POINTS,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    key = forms.UUIDField(widget=forms.HiddenInput)


def _cause_or_404(request, code: str):
    try:
        return cause_get(program=request.program, code=code, member=request.member)
    except DomainError as error:
        raise Http404("No such cause.") from error


@require_safe
@portal_view()
def cause_image(request, code: str):
    return image_response(_cause_or_404(request, code).image)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def cause(request, code: str):
    member, program = request.member, request.program
    cause = _cause_or_404(request, code)
    form = DonateForm(request.POST if request.method == "POST" else None, initial={"key": uuid.uuid4()})
    status = 200
    if request.method == "POST":
        status = 400
        if not form.is_valid() and "key" in form.errors:
            form = DonateForm(initial={"key": uuid.uuid4(), "points": request.POST.get("points", "")[:12]})
            form.add_error(None, _("This form has expired. Check the points and give again."))
        elif form.is_valid():
            try:
                donation = cause_donate(member=member, cause=cause, points=form.cleaned_data["points"],
                                        idempotency_key=str(form.cleaned_data["key"]), actor=_actor(member))
            except DomainError as error:
                if error.code == "insufficient_points":
                    form.add_error("points", _("You have %(points)s points to give.") % {
                        "points": f"{max(_spendable(member), 0):,}"})
                elif error.code == "member_suspended":
                    form.add_error(None, _("Your membership is on hold: please ask at the till."))
                else:
                    raise Http404("No such cause.") from error
            else:
                return HttpResponseRedirect(
                    reverse("portal:give-cause", args=[program.slug, cause.code]) + f"?thanks={donation.pk}")
    thanks = donation_get(member=member, donation_id=request.GET.get("thanks", "")) if request.GET.get("thanks") \
        else None
    if thanks is not None and thanks.cause_id != cause.pk:
        thanks = None
    return render(request, "portal/give_cause.html", {
        "cause": cause, "form": form, "thanks": thanks,
        "available": account_balance_get(member=member, fresh=status == 200)["available"],
    }, status=status)


# --- claim a missed purchase ----------------------------------------------------------------------------


class ClaimForm(forms.Form):
    store = forms.ModelChoiceField(label=gettext_lazy("Store"), queryset=Store.objects.none(),
                                   empty_label=gettext_lazy("Choose the store"))
    receipt = forms.CharField(label=gettext_lazy("Receipt number"), max_length=64,
                              help_text=gettext_lazy("As printed on the receipt."),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.filter(program=program).order_by("name")
        self.fields["store"].label_from_instance = lambda store: store.name


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def claim(request):
    member, program = request.member, request.program
    form = ClaimForm(request.POST if request.method == "POST" else None, program=program)
    if request.method == "POST" and _tries_used(member, "claim-misses") >= CLAIM_MISSES_PER_HOUR:
        form.is_valid()
        form.add_error(None, _("You have entered many receipt numbers that did not match. Please try again in "
                               "an hour."))
        return render(request, "portal/give_claim.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            purchase = purchase_claim(member=member, store=form.cleaned_data["store"],
                                      external_id=form.cleaned_data["receipt"], actor=_actor(member))
        except DomainError as error:
            if error.code != "member_suspended":
                _tries_count(member, "claim-misses")
            if error.code == "already_claimed":
                form.add_error("receipt", _("This receipt has already been claimed."))
            elif error.code == "member_suspended":
                form.add_error(None, _("Your membership is on hold: please ask at the till."))
            else:
                form.add_error("receipt", _(
                    "We found no purchase to claim with this receipt number at this store. Purchases can be "
                    "claimed for %(days)s days.") % {"days": program.claim_window_days})
        else:
            return HttpResponseRedirect(reverse("portal:give-claim-done", args=[program.slug, purchase.pk]))
    return render(request, "portal/give_claim.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


@require_safe
@portal_view()
def claim_done(request, purchase_id: uuid.UUID):
    purchase = member_purchase_get(member=request.member, purchase_id=purchase_id)
    if purchase is None or purchase.claimed_at is None:
        raise Http404("No such claim.")
    return render(request, "portal/give_claim_done.html", {
        "purchase": purchase, "points": purchase.points_awarded - purchase.points_reversed,
    })


# --- refer a friend ---------------------------------------------------------------------------------------


@require_safe
@portal_view()
def refer(request):
    member, program = request.member, request.program
    friends = member_referrals(member=member)
    earned = members_with_kind(member_ids=[f.pk for f in friends], kind=Kind.EARN) if friends else set()
    names = {str(f.pk): first_name_and_initial(f) for f in friends}
    account = getattr(member, "account", None)
    bonuses = []
    for entry in bonus_entries(account=account, source_type="referral")[:200] if account is not None else []:
        source = entry.transaction.source_id
        bonuses.append({"entry": entry, "friend": names.get(source), "welcome": source == str(member.pk)})
    link = request.build_absolute_uri(reverse("portal:signup", args=[program.slug])) + f"?ref={member.referral_code}"
    return render(request, "portal/give_refer.html", {
        "link": link,
        "friends": [{"name": first_name_and_initial(f), "joined": f.enrolled_at, "earned": f.pk in earned}
                    for f in friends],
        "bonuses": bonuses, "bonus_total": sum(b["entry"].points for b in bonuses),
    })
