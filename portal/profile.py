"""The member's profile: their details, their marketing consent, a copy of their data, and deleting the account.

Every page here acts on ``request.member`` alone: no form names a member, so there is no other member's id to
try. The data download reads every app's own selectors and streams; deleting goes through
``members.services.member_anonymise``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from earning.selectors import (
    member_events_export,
    member_purchases_export,
    member_returns_export,
    program_rewards_birthdays,
)
from ledger.selectors import account_balance_get, member_entries_export, member_lots_export
from loyalty.errors import DomainError
from members.selectors import member_personal_data
from members.services import member_anonymise, member_consent_set, member_profile_update
from notifications.selectors import member_emails_export
from rewards.selectors import member_redemptions_export, member_vouchers_unused_count
from tiers.selectors import member_tier_get, member_tier_history_export

from .access import page_language, portal_view
from .recovery import email_notice

# --- details ------------------------------------------------------------------------------------

# Each language named in itself (settings.LANGUAGES), after the choice of none.
LANGUAGE_CHOICES = [("", gettext_lazy("Browser's choice")), *settings.LANGUAGES]


class DetailsForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False,
                            help_text=gettext_lazy("With the country code, e.g. +49 151 12345678."),
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
    birth_date = forms.DateField(label=gettext_lazy("Birth date"), required=False,
                                 input_formats=["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"],
                                 widget=forms.DateInput(format="%Y-%m-%d",
                                                        attrs={"type": "date", "autocomplete": "bday"}))
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=LANGUAGE_CHOICES, required=False)

    def __init__(self, *args, birth_date_fixed: bool, birth_date_once: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if birth_date_fixed:  # set once already: shown as text, not offered to change
            del self.fields["birth_date"]
        elif birth_date_once:
            self.fields["birth_date"].help_text = gettext_lazy(
                "Your birthday earns a bonus, so you can set your birth date once. Please check it before saving.")


# What the service's refusals say to the member, beside the field they concern.
REFUSALS = {
    ("invalid", "phone"): gettext_lazy("Enter a phone number with its country code, e.g. +49 151 12345678."),
    ("member_exists", "phone"): gettext_lazy("Another member already uses this phone number."),
    ("invalid", "birth_date"): gettext_lazy("Enter a birth date after 1900 and not in the future."),
    ("birth_date_locked", "birth_date"): gettext_lazy("Your birth date is set. Please ask us if it is wrong."),
    ("invalid", "language"): gettext_lazy("Choose one of the languages offered."),
    ("invalid", "first_name"): gettext_lazy("Use at most 100 characters."),
    ("invalid", "last_name"): gettext_lazy("Use at most 100 characters."),
}


class ConsentForm(forms.Form):
    marketing_opt_in = forms.BooleanField(label=gettext_lazy("Email me offers and news"), required=False)


# Where consent was given or withdrawn, as a phrase of a sentence ("You agreed on 3 March 2026 in the portal").
CONSENT_PLACES = {
    "portal": gettext_lazy("in the portal"),
    "pos": gettext_lazy("at the till"),
    "staff": gettext_lazy("through our team"),
    "import": gettext_lazy("when your membership was brought over"),
    "email": gettext_lazy("by the link in one of our emails"),
}


def _day_format() -> str:
    # Translators: a date as Django's date filter writes it ("3 March 2026"; German "3. März 2026").
    return _("j F Y")


def consent_sentence(member) -> str:
    """What the member last said about offers and news by email, when and where."""
    if member.marketing_opt_in_at is None:
        return (_("You agreed to receive offers and news by email.") if member.marketing_opt_in
                else _("You have not asked for offers and news by email."))
    day = formats.date_format(member.marketing_opt_in_at.astimezone(member.program.zone),
                              _day_format())
    place = CONSENT_PLACES.get(member.marketing_opt_in_source)
    if member.marketing_opt_in:
        if place:
            return _("You agreed on %(day)s %(place)s.") % {"day": day, "place": place}
        return _("You agreed on %(day)s.") % {"day": day}
    if place:
        return _("You withdrew your agreement on %(day)s %(place)s.") % {"day": day, "place": place}
    return _("You withdrew your agreement on %(day)s.") % {"day": day}


def _birth_date_rules(member) -> tuple[bool, bool]:
    """(set only once, already set) for the member's program."""
    once = program_rewards_birthdays(program=member.program)
    return once, once and member.birth_date is not None


def _profile_page(request, *, details: DetailsForm | None = None, consent: ConsentForm | None = None,
                  status: int = 200):
    member = request.member
    once, fixed = _birth_date_rules(member)
    details = details or DetailsForm(birth_date_fixed=fixed, birth_date_once=once, initial={
        "first_name": member.first_name, "last_name": member.last_name, "phone": member.phone or "",
        "birth_date": member.birth_date, "language": member.language})
    consent = consent or ConsentForm(initial={"marketing_opt_in": member.marketing_opt_in})
    return render(request, "portal/profile.html", {
        "details": details, "consent": consent, "consent_said": consent_sentence(member),
        "birth_date_fixed": fixed, "day_format": _day_format(), "email_notice": email_notice(request),
    }, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def profile(request):
    """The profile page; a POST saves the details form."""
    if request.method != "POST":
        return _profile_page(request)
    member = request.member
    once, fixed = _birth_date_rules(member)
    form = DetailsForm(request.POST, birth_date_fixed=fixed, birth_date_once=once)
    if not form.is_valid():
        return _profile_page(request, details=form, status=400)
    data = form.cleaned_data
    try:
        member = member_profile_update(
            member=member, first_name=data["first_name"], last_name=data["last_name"], phone=data["phone"],
            birth_date=data["birth_date"] if "birth_date" in form.fields else member.birth_date,
            language=data["language"], birth_date_set_once=once)
    except DomainError as error:
        field = error.errors[0]["field"] if error.errors else None
        form.add_error(field if field in form.fields else None,
                       str(REFUSALS.get((error.code, field), _("This could not be saved. Please check it."))))
        return _profile_page(request, details=form, status=400)
    # Said in the language just chosen: the next page speaks it.
    with translation.override(page_language(request, member)):
        messages.success(request, _("Your details are saved."))
    return HttpResponseRedirect(reverse("portal:profile", args=[request.program.slug]))


@require_POST
@portal_view()
def consent(request):
    form = ConsentForm(request.POST)
    form.is_valid()  # a checkbox: anything but "on" is no
    wanted = bool(form.cleaned_data.get("marketing_opt_in"))
    member_consent_set(member=request.member, marketing_opt_in=wanted, source="portal")
    messages.success(request, _("We will email you offers and news.") if wanted
                     else _("We will not email you offers and news."))
    return HttpResponseRedirect(reverse("portal:profile", args=[request.program.slug]) + "#consent")


# --- the data download ----------------------------------------------------------------------------

EXPORT_FORMAT = "loyalty-member-data/1"
CHUNK_CHARACTERS = 64 * 1024
ROWS_PER_FETCH = 2000


def _rows(queryset) -> Callable[[], Iterator[dict]]:
    return lambda: queryset.iterator(chunk_size=ROWS_PER_FETCH)


def _export_sections(member) -> list[tuple[str, Callable]]:
    """The file's parts in order: each a function reading a value, or rows (a list in the file)."""
    program = member.program

    def tier():
        current = member_tier_get(member=member)
        return {"code": current.code, "name": current.name} if current else None

    return [
        ("format", lambda: EXPORT_FORMAT),
        ("exported_at", timezone.now),
        ("program", lambda: {"slug": program.slug, "name": program.name, "currency": program.currency}),
        *((name, (lambda value=value: value)) for name, value in member_personal_data(member=member).items()),
        ("balance", lambda: account_balance_get(member=member, fresh=True)),
        ("tier", tier),
        ("ledger_entries", _rows(member_entries_export(member=member))),
        ("points_lots", _rows(member_lots_export(member=member))),
        ("purchases", _rows(member_purchases_export(member=member))),
        ("returns", _rows(member_returns_export(member=member))),
        ("events", _rows(member_events_export(member=member))),
        ("redemptions", _rows(member_redemptions_export(member=member))),
        ("tier_history", _rows(member_tier_history_export(member=member))),
        ("emails", _rows(member_emails_export(member=member))),
    ]


ROW_SECTIONS = {"ledger_entries", "points_lots", "purchases", "returns", "events", "redemptions", "tier_history",
                "emails"}


def _dumps(value, indent=None) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=indent)


def _json_text(member) -> Iterator[str]:
    """The document as text, piece by piece: one row at a time is held, never the whole statement. Each part
    is read as it is written (inside ``_buffered``'s transaction)."""
    dumps = _dumps
    yield "{"
    for number, (name, read) in enumerate(_export_sections(member)):
        yield ("," if number else "") + f"\n  {dumps(name)}: "
        if name in ROW_SECTIONS:
            yield "["
            first = True
            for row in read():
                yield ("" if first else ",") + "\n    " + dumps(row)
                first = False
            yield "]" if first else "\n  ]"
        else:
            yield dumps(read(), indent=2).replace("\n", "\n  ")
    yield "\n}\n"


def _buffered(pieces: Iterator[str]) -> Iterator[bytes]:
    """Pieces joined into chunks of about 64 kB, read in one transaction: the server-side cursors of
    ``.iterator()`` stream only inside one, and every part of the file is read in it."""
    with transaction.atomic():
        buffer, size = [], 0
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size >= CHUNK_CHARACTERS:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        if buffer:
            yield "".join(buffer).encode()


@require_safe
@portal_view()
def data_download(request):
    """Everything held about the member, as a JSON file. Reads only: a GET with no side effects."""
    member = request.member
    response = StreamingHttpResponse(_buffered(_json_text(member)),
                                     content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.program.slug}-{member.card_number}-data.json"')
    return response


# --- deleting the account -------------------------------------------------------------------------

class DeleteForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Password"), max_length=4096, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    understood = forms.BooleanField(label=gettext_lazy("I understand"), required=True, error_messages={
        "required": gettext_lazy("Tick this box to confirm that you understand what deleting means.")})


def _password_matches(request, member, password: str) -> bool | None:
    """Whether ``password`` is the member's; ``None`` while sign-ins are paused after too many wrong ones."""
    credentials = {"username": member.user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return None
    # Through authenticate, so wrong guesses here count towards the lockout as they do at the sign-in.
    user = authenticate(request, password=password, **credentials)
    if getattr(request, "axes_locked_out", False):
        request.axes_locked_out = False  # else axes' middleware swaps in its page for staff
        return None
    return user is not None and user.pk == member.user_id


@sensitive_post_parameters("password")
@require_http_methods(["GET", "HEAD", "POST"])
@portal_view()
def delete(request):
    member = request.member
    form = DeleteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            matches = _password_matches(request, member, form.cleaned_data["password"])
            if matches:
                member_anonymise(member=member)
                logout(request)
                return HttpResponseRedirect(reverse("portal:goodbye", args=[request.program.slug]))
            form.add_error("password", _("Too many wrong passwords. Please try again in a while.") if matches is None
                           else _("This is not your password."))
    balance = account_balance_get(member=member)
    return render(request, "portal/profile_delete.html", {
        "form": form, "points": max(balance["available"], 0) + balance["pending"],
        "vouchers": member_vouchers_unused_count(member=member),
    }, status=status)


@require_safe
@portal_view(signed_in=False)
def goodbye(request):
    if request.member is not None:  # still signed in: the account is there
        return HttpResponseRedirect(reverse("portal:profile", args=[request.program.slug]))
    return render(request, "portal/profile_goodbye.html")
