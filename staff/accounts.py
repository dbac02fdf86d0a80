"""Staff sign-in (password, then a code for people with an authenticator app), sign-out, the choice of
program, and the account page where two-factor sign-in is set up and removed."""

import time
from urllib.parse import urlencode, urlsplit

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from loyalty.errors import DomainError
from programs.models import Program

from . import mfa
from .access import SESSION_PROGRAM, staff_view
from .models import Role, TotpDevice

# The person who gave the right password and still owes a code: {user, backend, next, until, tries}.
SESSION_PENDING = "staff_sign_in_pending"
PENDING_SECONDS = 5 * 60
# Wrong codes also count towards the sign-in lockout (django-axes); this many end the attempt at once.
CODE_TRIES = 5


class TwoStepLoginView(auth_views.LoginView):
    """Django's sign-in; for someone with an authenticator app the password only opens the code step.

    Nobody is signed in before the code: the session holds who is waiting, for a few minutes.
    The admin's sign-in uses this view too, so no door skips the code.
    """

    def form_valid(self, form):
        user = form.get_user()
        if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
            return super().form_valid(form)
        # A new session key: whoever knew the anonymous one learns nothing about this sign-in.
        self.request.session.cycle_key()
        self.request.session[SESSION_PENDING] = {
            "user": user.pk, "backend": user.backend, "next": self.get_success_url(),
            "until": time.time() + PENDING_SECONDS, "tries": 0,
        }
        return HttpResponseRedirect(reverse("staff:login-code"))


class StaffLoginView(TwoStepLoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("staff:home")


class StaffLogoutView(auth_views.LogoutView):
    next_page = "staff:login"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=12, help_text="The 6-digit code your authenticator app shows now.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "class": "input-code", "spellcheck": "false"}))

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not (code.isascii() and code.isdigit()):
            raise forms.ValidationError("Enter the 6 digits your authenticator app shows.")
        return code


def _pending(request):
    """Who is waiting at the code step, or ``None`` (nobody, or too long ago)."""
    pending = request.session.get(SESSION_PENDING)
    if not pending:
        return None
    if pending["until"] < time.time():
        del request.session[SESSION_PENDING]
        return None
    return pending


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_code(request):
    """The second step of a sign-in: the code from the authenticator app."""
    pending = _pending(request)
    user = pending and get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if not user:
        request.session.pop(SESSION_PENDING, None)
        messages.info(request, "Sign in with your username and password first; a code step lasts five minutes.")
        return redirect("staff:login")
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return _locked_out(request, credentials)

    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = mfa.totp_sign_in_verify(user=user, code=form.cleaned_data["code"])
        except DomainError as error:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):
                return _locked_out(request, credentials)
            pending["tries"] += 1
            if pending["tries"] >= CODE_TRIES:
                del request.session[SESSION_PENDING]
                messages.error(request, "Too many wrong codes. Sign in again with your password.")
                return redirect("staff:login")
            request.session[SESSION_PENDING] = pending
            form.add_error("code", error.detail)
        else:
            del request.session[SESSION_PENDING]
            login(request, user, backend=pending["backend"])
            request.session[mfa.SESSION_VERIFIED] = device.pk
            return HttpResponseRedirect(pending["next"])
    return render(request, "staff/account/sign_in_code.html", {"form": form, "username": user.get_username()})


def _locked_out(request, credentials):
    """Axes' middleware answers with the lockout page for a request it finds marked so."""
    request.session.pop(SESSION_PENDING, None)
    request.axes_locked_out = True
    request.axes_credentials = credentials
    return HttpResponse(status=429)


def _same_page(request) -> str:
    """The page the switch was made on, without its query (which may name the old program)."""
    target = urlsplit(request.POST.get("next") or "").path
    if not target.startswith("/staff/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return reverse("staff:home")
    # A record's page belongs to the old program; its area's list is the useful place to land.
    return target if target.count("/") <= 3 else reverse("staff:home")


@require_POST
@staff_view()
def program_switch(request):
    """Make another of the person's programs the one the dashboard shows."""
    program = get_object_or_404(Program, slug=request.POST.get("program", ""),
                                pk__in=list(request.staff.roles.keys()))
    request.session[SESSION_PROGRAM] = str(program.pk)
    messages.success(request, f"Now working in {program.name}.")
    return HttpResponseRedirect(_same_page(request))


# --- the account page: two-factor sign-in ---------------------------------------------------------------------

def _next_page(request) -> str:
    """Where the person was going when they were sent to set up two-factor sign-in (a staff or admin page)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not target.startswith(("/staff/", "/admin/")) or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return ""
    return target


def _account_url(request) -> str:
    following = _next_page(request)
    return reverse("staff:account") + (f"?{urlencode({'next': following})}" if following else "")


def _account_page(request, *, confirm_form=None, remove_form=None, status=200):
    user = request.user
    device = mfa.device_of(user)
    setting_up = device is not None and device.confirmed_at is None
    context = {
        "device": device,
        "setting_up": setting_up,
        "two_factor_on": device is not None and device.confirmed_at is not None,
        "required_by": mfa.programs_requiring(user, request.staff.roles),
        "confirm_form": confirm_form or CodeForm(auto_id="confirm_%s"),
        "remove_form": remove_form or CodeForm(auto_id="remove_%s"),
        "next": _next_page(request),
        "roles": [(program, Role(request.staff.roles[program.pk]).label) for program in request.staff.programs],
    }
    if setting_up:
        context.update(secret=mfa.secret_groups(device), qr=mfa.qr_svg(device), issuer=mfa.ISSUER)
    return render(request, "staff/account/account.html", context, status=status)


@require_safe
@staff_view("dashboard.view", before_two_factor=True)
def account(request):
    """The person's account: their roles, and two-factor sign-in (set up, or remove)."""
    return _account_page(request)


@require_POST
@staff_view("dashboard.view", before_two_factor=True)
def two_factor_start(request):
    try:
        mfa.totp_device_start(user=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    return HttpResponseRedirect(_account_url(request))


@require_POST
@staff_view("dashboard.view", before_two_factor=True)
def two_factor_cancel(request):
    mfa.totp_device_cancel(user=request.user)
    messages.info(request, "Set-up cancelled. Nothing was changed.")
    return HttpResponseRedirect(_account_url(request))


@sensitive_post_parameters("code")
@require_POST
@staff_view("dashboard.view", before_two_factor=True)
def two_factor_confirm(request):
    form = CodeForm(request.POST, auto_id="confirm_%s")
    if form.is_valid():
        try:
            device = mfa.totp_device_confirm(user=request.user, code=form.cleaned_data["code"],
                                             program=request.staff.program)
        except DomainError as error:
            form.add_error("code", error.detail)
        else:
            request.session[mfa.SESSION_VERIFIED] = device.pk
            messages.success(request, "Two-factor sign-in is on. From now on, signing in asks for a code "
                                      "from your authenticator app after your password.")
            return HttpResponseRedirect(_next_page(request) or reverse("staff:account"))
    return _account_page(request, confirm_form=form)


@sensitive_post_parameters("code")
@require_POST
@staff_view("dashboard.view", before_two_factor=True)
def two_factor_remove(request):
    form = CodeForm(request.POST, auto_id="remove_%s")
    if form.is_valid():
        try:
            mfa.totp_device_remove(user=request.user, code=form.cleaned_data["code"], program=request.staff.program)
        except DomainError as error:
            form.add_error("code", error.detail)
        else:
            request.session.pop(mfa.SESSION_VERIFIED, None)
            messages.success(request, "Two-factor sign-in is off. You sign in with your password alone.")
            return HttpResponseRedirect(reverse("staff:account"))
    return _account_page(request, remove_form=form)

