"""The account links the portal emails (a new password, confirming the email, claiming a card made at the till),
and the limits on asking for them.

A link's address starts with ``SITE_URL``, never with the Host of the request that asked for it: a forged Host
header must not turn a member's password link into a link to someone else's site. The email speaks the member's
language, else the language of the page it was asked on.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.urls import reverse

from loyalty.cache import counter_add
from loyalty.security import client_address
from members.links import (
    CLAIM_LINK_HOURS,
    EMAIL_LINK_DAYS,
    PASSWORD_LINK_HOURS,
    claim_link_make,
    email_link_make,
    password_link_make,
)
from members.models import Member
from notifications.models import Kind
from notifications.services import account_link_send

# How often one may ask, per hour: from one address on the internet, and for one mailbox (or one member).
# The mailbox limit is what keeps the form from flooding someone's inbox; asked more often, the answer stays
# the same and nothing is sent.
ASKS_PER_ADDRESS_PER_HOUR = 20
EMAILS_PER_MAILBOX_PER_HOUR = 5
WINDOW_SECONDS = 3600


def _site_url(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _language(request) -> str:
    return getattr(request, "LANGUAGE_CODE", "") or ""


def password_link_send(request, *, member: Member, request_key: str) -> bool:
    uid, token = password_link_make(member=member)
    path = reverse("portal:password-reset-confirm", args=[member.program.slug, uid, token])
    return account_link_send(member=member, kind=Kind.PASSWORD_RESET, link=_site_url(path), hours=PASSWORD_LINK_HOURS,
                             request_key=request_key, language=_language(request))


def claim_link_send(request, *, member: Member, request_key: str) -> bool:
    path = reverse("portal:claim-confirm", args=[member.program.slug, claim_link_make(member=member)])
    return account_link_send(member=member, kind=Kind.CARD_CLAIM, link=_site_url(path), hours=CLAIM_LINK_HOURS,
                             request_key=request_key, language=_language(request))


def email_link_send(request, *, member: Member, request_key: str) -> bool:
    path = reverse("portal:email-confirm", args=[member.program.slug, email_link_make(member=member)])
    return account_link_send(member=member, kind=Kind.EMAIL_CONFIRMATION, link=_site_url(path),
                             hours=EMAIL_LINK_DAYS * 24, request_key=request_key, language=_language(request))


def _window() -> int:
    return int(time.time() // WINDOW_SECONDS)


def _within(key: str, limit: int) -> bool:
    count = counter_add(f"portal:{key}:{_window()}", timeout=WINDOW_SECONDS + 5)
    return count is None or count <= limit  # a cache that cannot count lets the request through


def asker_within_limit(request, action: str) -> bool:
    """Count one more ``action`` asked from the request's internet address; whether it is within the limit."""
    return _within(f"{action}:ip:{client_address(request) or 'unknown'}", ASKS_PER_ADDRESS_PER_HOUR)


def mailbox_within_limit(program, email: str) -> bool:
    """Count one more email for ``email`` in ``program`` (whether or not it is a member's, so the answer tells
    nothing); whether it is within the limit. The cache keeps a digest, not the address."""
    digest = hashlib.sha256(f"{program.pk}:{email.strip().lower()}".encode()).hexdigest()[:32]
    return _within(f"mailbox:{digest}", EMAILS_PER_MAILBOX_PER_HOUR)


def minutes_until_next_window() -> int:
    return max(1, -(-(WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS) // 60))
