"""The demo program's staff (contract web.md): a manager, a support agent and an analyst per program."""

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Role, StaffPolicy, StaffRole

DEMO_STAFF = [
    # username suffix, role, password
    ("manager", Role.MANAGER, "demo-manager-2026"),
    ("agent", Role.AGENT, "demo-agent-2026"),
    ("analyst", Role.ANALYST, "demo-analyst-2026"),
]


@transaction.atomic
def staff_demo_seed(*, program) -> list[str]:
    """The program's demo staff and staff policy, created once; returns the usernames created now."""
    StaffPolicy.objects.get_or_create(program=program)
    users = get_user_model().objects
    created = []
    for suffix, role, password in DEMO_STAFF:
        username = f"{program.slug}-{suffix}"
        user = users.filter(username=username).first()
        if user is None:
            user = users.create_user(username=username, email=f"{username}@example.com", password=password)
            created.append(username)
        StaffRole.objects.get_or_create(user=user, program=program, defaults={"role": role})
    return created
