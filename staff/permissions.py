"""The one permission map of the staff dashboard: what each role may do in its programs.

Every staff view names one of these actions; ``staff.access`` checks it against the
person's role in the program the page is about. Superusers act as managers everywhere.
Nothing else decides who may do what, and ``tests/staff/test_permissions.py`` reads this
table entry by entry.
"""

from .models import Role

MANAGER, AGENT, ANALYST = Role.MANAGER, Role.AGENT, Role.ANALYST

PERMISSIONS: dict[str, frozenset[str]] = {
    # the dashboard itself
    "dashboard.view": frozenset({MANAGER, AGENT, ANALYST}),
    # members: looking up and helping one person
    "member.view": frozenset({MANAGER, AGENT}),
    "member.adjust": frozenset({MANAGER, AGENT}),
    "member.suspend": frozenset({MANAGER, AGENT}),
    "member.tier_assign": frozenset({MANAGER}),
    "member.anonymise": frozenset({MANAGER}),
    "member.note": frozenset({MANAGER, AGENT}),
    "redemption.cancel": frozenset({MANAGER, AGENT}),
    "voucher.resend": frozenset({MANAGER, AGENT}),
    # adjustments by a second person, and many at once
    "adjustment.approve": frozenset({MANAGER}),
    "adjustment.bulk": frozenset({MANAGER}),
    # configuration: analysts read it, managers change it
    "settings.view": frozenset({MANAGER, ANALYST}),
    "settings.change": frozenset({MANAGER}),
    # data in and out
    "import.run": frozenset({MANAGER}),
    "export.download": frozenset({MANAGER, ANALYST}),
    "report.view": frozenset({MANAGER, ANALYST}),
    # surveys: managers define them, analysts read the scores; managers and agents work the follow-up cases
    "survey.view": frozenset({MANAGER, ANALYST}),
    "survey.change": frozenset({MANAGER}),
    "case.view": frozenset({MANAGER, AGENT, ANALYST}),
    "case.work": frozenset({MANAGER, AGENT}),
    "case.escalations": frozenset({MANAGER}),  # overdue cases are escalated to managers
    # who did what
    "audit.view": frozenset({MANAGER}),
}


def role_may(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action``; an action missing from the map is a programming error."""
    allowed = PERMISSIONS[action]
    return role in allowed
