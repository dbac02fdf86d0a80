"""The one-time links a member gets by email: set a new password, confirm the email address, claim a card made
at the till.

Each link names one member of one program, proves the person holds the member's mailbox, and stops working once
it has done its job or its time is up:

* a **password link** is Django's password-reset token, whose signature covers the login's password hash and
  last sign-in: setting a password (or signing in) spends it; it also covers the member's program and email;
* a **claim link** names the member and their email, and works while the member has no login: creating the
  login spends it;
* an **email link** names the member and the email it was sent to: a changed email makes it void, and using it
  again only confirms what is confirmed.

Nothing is stored: the signatures (``SECRET_KEY``) and the member's own state say whether a link still works.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from programs.models import Program

from .models import Member

PASSWORD_LINK_HOURS = 2
CLAIM_LINK_HOURS = 24
EMAIL_LINK_DAYS = 7

_CLAIM_SALT = "members.links.claim"
_EMAIL_SALT = "members.links.email"


class _PasswordTokens(PasswordResetTokenGenerator):
    """Django's reset token, valid ``PASSWORD_LINK_HOURS`` (not the site-wide ``PASSWORD_RESET_TIMEOUT``), and
    bound to the member's program and email as well as to the login."""

    key_salt = "members.links.password"

    def _make_hash_value(self, user, timestamp):
        member = getattr(user, "member", None)
        program_id = member.program_id if member is not None else ""
        email = member.email.lower() if member is not None else ""
        return f"{super()._make_hash_value(user, timestamp)}|{program_id}|{email}"

    def check_token(self, user, token):
        if not super().check_token(user, token):
            return False
        made_at = base36_to_int(token.partition("-")[0])  # well formed: the check above parsed it
        return self._num_seconds(self._now()) - made_at <= PASSWORD_LINK_HOURS * 3600


_password_tokens = _PasswordTokens()


def password_link_make(*, member: Member) -> tuple[str, str]:
    """The ``(uid, token)`` of a link setting a new password for ``member``'s login (they must have one)."""
    if member.user is None:
        raise ValueError("The member has no login.")
    return urlsafe_base64_encode(force_bytes(member.user.pk)), _password_tokens.make_token(member.user)


def password_link_member(*, program: Program, uid: str, token: str) -> Member | None:
    """The member of ``program`` whose password link this is, while it works; else None."""
    try:
        user_id = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    if not 0 < user_id < 2**63:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).select_related("member").first()
    member = getattr(user, "member", None) if user is not None else None
    if member is None or member.program_id != program.pk or not _password_tokens.check_token(user, token[:100]):
        return None
    member.program = program
    return member


def _signed(member: Member, salt: str) -> str:
    return signing.TimestampSigner(salt=salt).sign_object({"m": str(member.pk), "e": member.email.lower()},
                                                          compress=True)


def _named(token: str, *, program: Program, salt: str, hours: int) -> Member | None:
    try:
        data = signing.TimestampSigner(salt=salt).unsign_object(token[:500], max_age=hours * 3600)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), str) or not isinstance(data.get("e"), str):
        return None
    member = Member.objects.filter(pk=data["m"], program=program).first()  # an id we signed: a UUID
    if member is None or member.email.lower() != data["e"]:
        return None
    member.program = program
    return member


def claim_link_make(*, member: Member) -> str:
    """The token of a link with which ``member`` (enrolled at the till, no login) chooses a password."""
    return _signed(member, _CLAIM_SALT)


def claim_link_member(*, program: Program, token: str) -> Member | None:
    """The member of ``program`` this claim link names, while they have no login and the same email; else None."""
    member = _named(token, program=program, salt=_CLAIM_SALT, hours=CLAIM_LINK_HOURS)
    return member if member is not None and member.user_id is None else None


def email_link_make(*, member: Member) -> str:
    """The token of a link confirming that ``member``'s email address is theirs."""
    return _signed(member, _EMAIL_SALT)


def email_link_member(*, program: Program, token: str) -> Member | None:
    """The member of ``program`` this email link names, while their email is the one it was sent to; else None."""
    return _named(token, program=program, salt=_EMAIL_SALT, hours=EMAIL_LINK_DAYS * 24)
