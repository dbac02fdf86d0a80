"""Signing in, signing out and joining a program's portal."""

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from loyalty.errors import DomainError
from members.selectors import member_emails_taken, member_has_login
from members.services import member_enrol, member_login_create, member_username

from .access import SESSION_PROGRAM, portal_view
from .links import email_link_send


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), max_length=4096, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class SignupForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), max_length=4096, strip=False,
                               help_text=_("At least 8 characters, not only digits, not a common password."),
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    first_name = forms.CharField(label=_("First name"), max_length=100,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=_("Last name"), max_length=100,
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    referral_code = forms.CharField(label=_("Referral code"), max_length=16, required=False,
                                    help_text=_("From the member who invited you."),
                                    widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def clean_referral_code(self):
        return self.cleaned_data["referral_code"].strip().upper()

    def clean(self):
        data = super().clean()
        if data.get("password"):
            try:
                # The similarity check compares the password with what the person typed about themselves.
                validate_password(data["password"], user=get_user_model()(
                    username=data.get("email", ""), email=data.get("email", ""),
                    first_name=data.get("first_name", ""), last_name=data.get("last_name", "")))
            except ValidationError as error:
                self.add_error("password", error)
        return data


def _account_form(view):
    """A sign-in or sign-up form page: anyone may open it, nothing of it is cached, passwords stay out of logs."""
    view = portal_view(signed_in=False)(view)
    view = require_http_methods(["GET", "HEAD", "POST"])(view)
    return sensitive_post_parameters("password")(csrf_protect(never_cache(view)))


def _next_page(request, program) -> str:
    """Where the member was going, if it is a page of this program's portal."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    home = reverse("portal:home", args=[program.slug])
    if not target.startswith(home) or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return home
    return target


def _sign_in(request, user, program):
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_PROGRAM] = str(program.pk)


@_account_form
def sign_in(request):
    program = request.program
    if request.member is not None:
        return HttpResponseRedirect(_next_page(request, program))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        credentials = {"username": member_username(program=program, email=form.cleaned_data["email"])}
        if AxesProxyHandler.is_locked(request, credentials):
            return _locked_out(request, credentials)
        user = authenticate(request, password=form.cleaned_data["password"], **credentials)
        if getattr(request, "axes_locked_out", False):
            return _locked_out(request, credentials)
        if user is not None and getattr(user, "member", None) is not None and user.member.program_id == program.pk:
            _sign_in(request, user, program)
            return HttpResponseRedirect(_next_page(request, program))
        # Never which of the two was wrong: that would tell a stranger who is a member.
        form.add_error("password", _("That email and password do not match a member of %(program)s.")
                       % {"program": program.name})
        status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "portal/login.html", {"form": form, "next": _next_page(request, program)},
                  status=status)


def _locked_out(request, credentials):
    """The portal's own lockout page: axes' page speaks to staff (and would show the per-program username)."""
    request.axes_locked_out = False  # else axes' middleware swaps in its page
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(request, "portal/locked_out.html", {"minutes": minutes}, status=429)


@require_POST
@portal_view(signed_in=False)
def sign_out(request):
    if request.member is not None:
        logout(request)
    return HttpResponseRedirect(reverse("portal:login", args=[request.program.slug]))


@_account_form
def sign_up(request):
    program = request.program
    if request.member is not None:
        return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))
    # A friend's link (?ref=CODE) fills the referral code in.
    form = SignupForm(request.POST or None, initial={"referral_code": request.GET.get("ref", "")[:16]})
    claim_hint = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if member_emails_taken(program=program, emails=[data["email"]]):
            if member_has_login(program=program, email=data["email"]):
                form.add_error("email", _("This email is already a member of %(program)s. Sign in instead.")
                               % {"program": program.name})
            else:  # enrolled at the till: their card, points and all, is theirs to claim
                claim_hint = True
                form.add_error("email", _("You already have a %(program)s card with this email, from the till. "
                                          "Claim it to use it online.") % {"program": program.name})
        else:
            try:
                with transaction.atomic():
                    member = member_enrol(program=program, email=data["email"], first_name=data["first_name"],
                                          last_name=data["last_name"], referral_code=data["referral_code"] or None)
                    member_login_create(member=member, password=data["password"])
                    email_link_send(request, member=member, request_key="signup")
            except DomainError as error:
                field = error.errors[0]["field"] if error.errors else None
                message = error.errors[0]["message"] if error.errors else error.detail
                if field == "referral_code":
                    message = _("No member of %(program)s has this referral code.") % {"program": program.name}
                form.add_error(field if field in form.fields else None, message)
            else:
                _sign_in(request, member.user, program)
                return HttpResponseRedirect(reverse("portal:home", args=[program.slug]))
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/signup.html", {"form": form, "claim_hint": claim_hint}, status=status)
