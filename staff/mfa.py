"""Two-factor sign-in for staff: a time-based one-time code (RFC 6238) from an authenticator app.

A person's ``TotpDevice`` holds the shared secret. It counts once confirmed with a first code, and
from then on every password sign-in asks for a code too. A code is good for its 30-second step
and one step either side (phone clocks drift), and only once: ``last_used_step`` refuses a replay
of a code already used, even within its step. Programs may require their managers to use one
(``StaffPolicy.manager_mfa_required``); ``two_factor_state`` says, per request, what is missing.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

import pyotp
import segno
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.db import transaction
from django.db.models import Exists, OuterRef, Value
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from loyalty.errors import DomainError

from .models import Role, StaffPolicy, TotpDevice
from .services import audit_record

ISSUER = "Loyalty"
DRIFT_STEPS = 1
# The session key saying this sign-in passed the code step (or set up the device): the id of the device.
SESSION_VERIFIED = "staff_two_factor_device"


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _normalise(code: str) -> str:
    return "".join((code or "").split())


def code_step(device: TotpDevice, code: str, *, at=None) -> int | None:
    """The time step ``code`` belongs to when it is right now (±1 step) and newer than the last code used."""
    code = _normalise(code)
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = _totp(device.secret)
    now_step = totp.timecode(at or timezone.now())
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if device.last_used_step is not None and step <= device.last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_code(device: TotpDevice, code: str) -> None:
    """Spend ``code`` on ``device`` (locked by the caller), or refuse it."""
    step = code_step(device, code)
    if step is None:
        raise DomainError("invalid_code", "That code is not right, or was used already. "
                                          "Enter the current 6-digit code from your authenticator app.")
    device.last_used_step = step


def confirmed_device(user) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def device_of(user) -> TotpDevice | None:
    """The person's device, confirmed or still being set up."""
    return TotpDevice.objects.filter(user=user).first()


def provisioning_uri(device: TotpDevice) -> str:
    return _totp(device.secret).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


def secret_groups(device: TotpDevice) -> str:
    """The secret in groups of four, as people type it into an app by hand."""
    return " ".join(device.secret[i:i + 4] for i in range(0, len(device.secret), 4))


def qr_svg(device: TotpDevice) -> SafeString:
    """The set-up QR code as inline SVG: no data: image (the Content-Security-Policy allows none), no style=."""
    svg = segno.make(provisioning_uri(device), error="m").svg_inline(
        scale=1, border=4, dark="#101828", light="#ffffff", omitsize=True, svgclass="totp-qr")
    # segno writes only SVG presentation attributes; the label is the image's accessible name
    label = format_html('<svg role="img" aria-label="{}" ', "QR image to scan with your authenticator app")
    return mark_safe(svg.replace("<svg ", label, 1))  # noqa: S308 - segno's own markup, label escaped above


# --- writes -------------------------------------------------------------------------------------------------

@transaction.atomic
def totp_device_start(*, user) -> TotpDevice:
    """A new, unconfirmed device with a fresh secret; a device being set up starts again with a new one."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise DomainError("two_factor_on", "Two-factor sign-in is already on. Remove it first to use another app.")
    if device is None:
        device = TotpDevice(user=user)
    device.secret = pyotp.random_base32()
    device.last_used_step = None
    device.save()
    return device


@transaction.atomic
def totp_device_cancel(*, user) -> None:
    """Drop a set-up that was never confirmed (a confirmed device needs a code to remove)."""
    TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).delete()


@transaction.atomic
def totp_device_confirm(*, user, code: str, program=None) -> TotpDevice:
    """Turn two-factor sign-in on with the first code the app shows."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise DomainError("invalid", "Start the set-up again: no authenticator app is being set up.")
    if device.confirmed_at is not None:
        raise DomainError("two_factor_on", "Two-factor sign-in is already on.")
    _use_code(device, code)
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at", "last_used_step"])
    audit_record(actor=user, program=program, action="two_factor.enable", target=user,
                 target_label=user.get_username(), before={"two_factor": False}, after={"two_factor": True})
    return device


@transaction.atomic
def totp_device_remove(*, user, code: str, program=None) -> None:
    """Turn two-factor sign-in off; a current code proves the app is at hand, not just an open session."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise DomainError("invalid", "Two-factor sign-in is not on.")
    _use_code(device, code)
    device.delete()
    audit_record(actor=user, program=program, action="two_factor.disable", target=user,
                 target_label=user.get_username(), before={"two_factor": True}, after={"two_factor": False})


@transaction.atomic
def totp_device_reset(*, device: TotpDevice, actor) -> None:
    """An administrator removes someone's device (a lost phone); they sign in with their password alone,
    or set up a new app first where their program requires one."""
    user = device.user
    was_on = device.confirmed_at is not None
    device.delete()
    audit_record(actor=actor, action="two_factor.reset", target=user, target_label=user.get_username(),
                 before={"two_factor": was_on}, after={"two_factor": False},
                 reason="Removed by an administrator.")


@transaction.atomic
def totp_sign_in_verify(*, user, code: str) -> TotpDevice:
    """The code step of a sign-in: the code is spent (a second use of it is refused), or refused."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise DomainError("invalid", "Two-factor sign-in is not on for this account.")
    _use_code(device, code)
    device.save(update_fields=["last_used_step"])
    return device


# --- reads ----------------------------------------------------------------------------------------------------

OK, SIGN_IN_AGAIN, SET_UP = "ok", "sign_in_again", "set_up"


def two_factor_state(request, roles: dict) -> str:
    """What this signed-in request lacks: nothing (``OK``), the code step (``SIGN_IN_AGAIN``: the person has
    a device but this session never gave a code) or a device their programs require (``SET_UP``).

    A session that passed the code step costs nothing; any other costs one query.
    """
    if request.session.get(SESSION_VERIFIED):
        return OK
    user = request.user
    managed = [program_id for program_id, role in roles.items() if role == Role.MANAGER]
    required = (Exists(StaffPolicy.objects.filter(program_id__in=managed, manager_mfa_required=True))
                if managed else Value(False))
    has_device, must = (get_user_model().objects.filter(pk=user.pk).annotate(
        has_device=Exists(TotpDevice.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False)),
        must=required,
    ).values_list("has_device", "must").get())
    if has_device:
        return SIGN_IN_AGAIN
    return SET_UP if must else OK


def programs_requiring(user, roles: dict) -> list:
    """The programs whose policy asks this person, as their manager, for two-factor sign-in."""
    managed = [program_id for program_id, role in roles.items() if role == Role.MANAGER]
    if not managed:
        return []
    return [policy.program for policy in StaffPolicy.objects.filter(
        program_id__in=managed, manager_mfa_required=True).select_related("program").order_by("program__name")]


def two_factor_refusal(request, roles: dict, *, login_url: str) -> HttpResponseRedirect | None:
    """The answer to a staff or admin page that two-factor sign-in must come first, or ``None`` to go on.

    A session that skipped the code step (signed in another way) ends and the person signs in again;
    someone whose program requires an app they have not set up is sent to set one up.
    """
    state = two_factor_state(request, roles)
    if state == OK:
        return None
    following = urlencode({"next": request.get_full_path()})
    if state == SIGN_IN_AGAIN:
        logout(request)
        messages.info(request, "Sign in again with your password and a code from your authenticator app.")
        return HttpResponseRedirect(f"{login_url}?{following}")
    return HttpResponseRedirect(f"{reverse('staff:account')}?{following}")
