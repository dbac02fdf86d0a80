"""What each member email's templates are given, described for the people who reword them, and a sample of it
for previews. The names follow what the events put in ``data`` (``notifications.events``, ``expiry_warnings_send``,
``voucher_email_resend``)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import Kind

COMMON_PLACEHOLDERS = [
    ("member.first_name", "The member's first name (may be empty: use |default:\"there\")"),
    ("member.last_name", "The member's last name"),
    ("member.card_number", "The member's card number"),
    ("program.name", "The program's name"),
]

LINK_VALIDITY = [
    ("data.hours", "How many hours the link works"),
    ("data.days", "The same in whole days, from two days on (else empty)"),
]

PLACEHOLDERS = {
    Kind.POINTS_EARNED: [
        ("data.points", "Points earned"),
        ("data.source.store_name", "The store of the purchase (empty for other activity)"),
        ("data.pending_until", "When the points can be spent; empty when at once (format with |date)"),
    ],
    Kind.TIER_CHANGED: [
        ("data.to_tier.name", "The new tier"),
        ("data.from_tier.name", "The tier before (empty for a first tier)"),
        ("data.cause", "upgrade, downgrade, manual or recalc"),
    ],
    Kind.POINTS_EXPIRING: [
        ("data.points", "Points expiring within the window"),
        ("data.first_expiry", "When the first of them expire (format with |date)"),
        ("data.until", "The end of the window (format with |date)"),
        ("data.days", "The window, in days"),
    ],
    Kind.REWARD_ISSUED: [
        ("data.reward.name", "The reward"),
        ("data.points", "Points spent"),
        ("data.voucher_code", "The voucher code"),
        ("data.expires_at", "When the voucher expires; empty if never (format with |date)"),
        ("data.donation", "True for a donation, which has no voucher"),
    ],
    Kind.SURVEY_INVITATION: [
        ("data.survey_name", "The survey's name"),
        ("data.survey_url", "The link to answer it"),
    ],
    Kind.PASSWORD_RESET: [
        ("data.link", "The one-time link to choose a new password (keep it: without it the email is useless)"),
        *LINK_VALIDITY,
    ],
    Kind.EMAIL_CONFIRMATION: [
        ("data.link", "The link that confirms the address (keep it: without it the email is useless)"),
        *LINK_VALIDITY,
    ],
    Kind.CARD_CLAIM: [
        ("data.link", "The one-time link to choose a password for a card made at the till (keep it)"),
        *LINK_VALIDITY,
    ],
}


def sample_member() -> dict:
    return {"id": "00000000-0000-0000-0000-000000000000", "first_name": "Anna", "last_name": "Schmidt",
            "card_number": "9580329463775884", "email": "anna.schmidt@example.com"}


def sample_data(kind: str) -> dict:
    """A plausible ``data`` for ``kind``, as of now."""
    now = timezone.now()
    return {
        Kind.POINTS_EARNED: {"points": 42, "pending_until": now + timedelta(days=14),
                             "source": {"type": "purchase", "store": "BERLIN-01", "store_name": "Berlin Mitte"}},
        Kind.TIER_CHANGED: {"cause": "upgrade", "to_tier": {"code": "gold", "name": "Gold"},
                            "from_tier": {"code": "silver", "name": "Silver"}},
        Kind.POINTS_EXPIRING: {"points": 350, "first_expiry": now + timedelta(days=9), "days": 30,
                               "until": now + timedelta(days=30)},
        Kind.REWARD_ISSUED: {"reward": {"code": "FREE-COFFEE", "name": "Free coffee"}, "points": 50,
                             "voucher_code": "7QK4-M2XD", "donation": False, "expires_at": now + timedelta(days=30)},
        Kind.SURVEY_INVITATION: {"survey_name": "How was your visit?",
                                 "survey_url": "https://example.com/portal/survey/sample/"},
        Kind.PASSWORD_RESET: {"link": "https://example.com/portal/sample/password/reset/MQ/sample-link/",
                              "hours": 2, "days": None},
        Kind.EMAIL_CONFIRMATION: {"link": "https://example.com/portal/sample/email/confirm/sample-link/",
                                  "hours": 168, "days": 7},
        Kind.CARD_CLAIM: {"link": "https://example.com/portal/sample/claim/sample-link/", "hours": 24, "days": None},
    }[kind]
