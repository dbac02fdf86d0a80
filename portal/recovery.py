"""Getting into an account by email: a new password, confirming the email address, claiming a card made at the
till (a member with no login yet).

Asking for a link answers the same whether or not the email (or card) is a member's, so the forms tell a
stranger nothing; how often one may ask is limited per internet address and per mailbox (``portal.links``).
A link works in its own program's portal only: elsewhere it is a link that does not work.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from loyalty.errors import DomainError
from members.identifiers import CARD_NUMBER_LENGTH, card_number_normalize, luhn_is_valid
from members.links import (
    CLAIM_LINK_HOURS,
    PASSWORD_LINK_HOURS,
    claim_link_member,
    email_link_member,
    password_link_member,
)
from members.selectors import member_find
from members.services import member_email_verify, member_login_claim, member_password_set, member_username
from notifications.services import account_emails_possible

from .access import portal_view
from .accounts import _account_form, _next_page, _sign_in
from .links import (
    asker_within_limit,
    claim_link_send,
    email_link_send,
    mailbox_within_limit,
    minutes_until_next_window,
    password_link_send,
)


def _request_key(form) -> str:
    """The form's one-time id: the same form sent twice queues one email."""
    value = form.cleaned_data.get("request")
    return str(value) if value else uuid.uuid4().hex


class _OnceForm(forms.Form):
    request = forms.Field(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, initial=None, **kwargs):
        super().__init__(*args, initial={"request": uuid.uuid4(), **(initial or {})}, **kwargs)

    def clean_request(self):
        """A garbled id is no reason to refuse the form: it only loses the protection against a double submit."""
        try:
            return uuid.UUID(str(self.cleaned_data["request"] or ""))
        except ValueError:
            return None


class EmailForm(_OnceForm):
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class ClaimForm(_OnceForm):
    card_number = forms.CharField(
        label=gettext_lazy("Card number"), max_length=40,
        help_text=gettext_lazy("The 16 digits on your card."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}))
    email = forms.EmailField(
        label=gettext_lazy("Email"), max_length=254,
        help_text=gettext_lazy("The email address you gave at the till."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def clean_card_number(self):
        number = card_number_normalize(self.cleaned_data["card_number"])
        if len(number) != CARD_NUMBER_LENGTH or not number.isdigit():
            raise ValidationError(_("Enter the %(count)s digits of your card number.")
                                  % {"count": CARD_NUMBER_LENGTH})
        if not luhn_is_valid(number):
            raise ValidationError(_("This is not a card number: check the digits for a typing mistake."))
        return number


class PasswordForm(forms.Form):
    """A new password, checked by the site's password validators against what is known of the person."""

    password = forms.CharField(
        max_length=4096, strip=False,
        help_text=gettext_lazy("At least 8 characters, not only digits, not a common password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, label, member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].label = label
        self.member = member

    def clean_password(self):
        password = self.cleaned_data["password"]
        member = self.member
        person = member.user or get_user_model()(
            username=member_username(program=member.program, email=member.email), email=member.email,
            first_name=member.first_name, last_name=member.last_name)
        validate_password(password, user=person)
        return password


def _too_many(request):
    return render(request, "portal/recovery_limited.html", {"minutes": minutes_until_next_window()}, status=429)


def _link_invalid(request, *, what: str):
    """A link that does not work (spent, expired, altered, or of another program): one page for all of them."""
    return render(request, "portal/recovery_invalid.html", {"what": what}, status=404)


def _member_by(program, field: str, value: str):
    try:
        return member_find(program=program, field=field, value=value)
    except DomainError:
        return None


def _may_get_a_login_link(member) -> bool:
    """Not a member whose login is staff's as well: a staff password is never set by a member's email."""
    user = member.user
    return user is None or (user.is_active and not user.is_staff and not user.is_superuser)


# --- a new password ----------------------------------------------------------------------------


@_account_form
def password_reset(request):
    program = request.program
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not asker_within_limit(request, "password"):
            return _too_many(request)
        email = form.cleaned_data["email"]
        member = _member_by(program, "email", email)
        if mailbox_within_limit(program, email) and member is not None and _may_get_a_login_link(member):
            if member.user is None:  # enrolled at the till: the way in is to claim the card
                claim_link_send(request, member=member, request_key=_request_key(form))
            else:
                password_link_send(request, member=member, request_key=_request_key(form))
        return HttpResponseRedirect(reverse("portal:password-reset-sent", args=[program.slug]))
    return render(request, "portal/recovery_reset.html", {
        "form": form, "emails_possible": account_emails_possible(program=program),
    }, status=400 if request.method == "POST" else 200)


@_account_form
def password_reset_sent(request):
    return render(request, "portal/recovery_sent.html", {"what": "password", "hours": PASSWORD_LINK_HOURS})


@_account_form
def password_reset_confirm(request, uid: str, token: str):
    program = request.program
    member = password_link_member(program=program, uid=uid, token=token)
    if member is None or not _may_get_a_login_link(member):
        if request.method == "POST" and request.member is not None:
            return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))  # the first submit did it
        return _link_invalid(request, what="password")
    form = PasswordForm(request.POST or None, label=_("New password"), member=member)
    if request.method == "POST" and form.is_valid():
        member = member_password_set(member=member, password=form.cleaned_data["password"])
        _sign_in(request, member.user, program)
        messages.success(request, _("Your new password is saved, and you are signed in."))
        return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))
    return render(request, "portal/recovery_password.html", {"form": form, "what": "password", "member": member},
                  status=400 if request.method == "POST" else 200)


# --- claiming a card made at the till ----------------------------------------------------------


@_account_form
def claim(request):
    program = request.program
    if request.member is not None:
        return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))
    form = ClaimForm(request.POST or None)
    if request.method != "POST":
        form = ClaimForm(initial={"email": request.GET.get("email", "")[:254]})
    elif form.is_valid():
        if not asker_within_limit(request, "claim"):
            return _too_many(request)
        email = form.cleaned_data["email"]
        member = _member_by(program, "card_number", form.cleaned_data["card_number"])
        if (mailbox_within_limit(program, email) and member is not None and member.user_id is None
                and member.email.lower() == email.lower()):
            claim_link_send(request, member=member, request_key=_request_key(form))
        return HttpResponseRedirect(reverse("portal:claim-sent", args=[program.slug]))
    return render(request, "portal/recovery_claim.html", {
        "form": form, "emails_possible": account_emails_possible(program=program),
    }, status=400 if request.method == "POST" else 200)


@_account_form
def claim_sent(request):
    return render(request, "portal/recovery_sent.html", {"what": "claim", "hours": CLAIM_LINK_HOURS})


@_account_form
def claim_confirm(request, token: str):
    program = request.program
    member = claim_link_member(program=program, token=token)
    if member is None:
        if request.method == "POST" and request.member is not None:
            return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))  # the first submit did it
        return _link_invalid(request, what="claim")
    form = PasswordForm(request.POST or None, label=_("Choose a password"), member=member)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_login_claim(member=member, email=member.email, password=form.cleaned_data["password"])
        except DomainError:  # claimed a moment ago, by a twin submit or another tab
            return _link_invalid(request, what="claim")
        _sign_in(request, member.user, program)
        messages.success(request, _("Welcome! Your card is now online: sign in with your email and this password."))
        return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))
    return render(request, "portal/recovery_password.html", {"form": form, "what": "claim", "member": member},
                  status=400 if request.method == "POST" else 200)


# --- confirming the email address --------------------------------------------------------------


@_account_form
def email_confirm(request, token: str):
    """Opening the link confirms the address. The token is the proof and confirming twice changes nothing, so a
    GET may do it: a mail scanner that opens the link first opens it from the very mailbox it proves."""
    program = request.program
    member = email_link_member(program=program, token=token)
    if member is None:
        return _link_invalid(request, what="email")
    member = member_email_verify(member=member, email=member.email)
    signed_in_here = request.member is not None and request.member.pk == member.pk
    return render(request, "portal/recovery_email_confirmed.html", {"confirmed": member,
                                                                    "signed_in_here": signed_in_here})


class ResendForm(_OnceForm):
    next = forms.CharField(widget=forms.HiddenInput, required=False)


def email_notice(request) -> dict | None:
    """What a signed-in member's page shows while their email is not confirmed (None once it is, or when the
    program sends no emails)."""
    member = request.member
    if member is None or member.email_verified_at is not None:
        return None
    if not account_emails_possible(program=request.program):
        return None
    return {"form": ResendForm(initial={"next": request.get_full_path()}), "email": member.email}


@require_POST
@portal_view()
def email_confirm_send(request):
    member, program = request.member, request.program
    form = ResendForm(request.POST)
    target = _next_page(request, program)
    if member.email_verified_at is not None:
        return HttpResponseRedirect(target)
    form.is_valid()  # the fields are hidden: whatever they hold, the link is sent
    if not mailbox_within_limit(program, member.email):
        messages.error(request, _("We have sent several links in the last hour. Please check your inbox and "
                                  "spam folder, or try again later."))
    else:
        email_link_send(request, member=member, request_key=_request_key(form))  # a twin submit queues none
        messages.success(request, _("We sent a new link to %(email)s.") % {"email": member.email})
    return HttpResponseRedirect(target)
