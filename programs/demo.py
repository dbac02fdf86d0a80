"""The demo program from the POS contract: what `manage.py seed_demo` builds.

Running it again leaves an existing program as it is (adding only a POS key
that was asked for and is not there yet), so integrators can call it before
every test run.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from loyalty.errors import DomainError
from members.models import Member
from members.services import member_enrol, member_login_create
from staff.demo import staff_demo_seed
from tiers.models import Tier, TierPolicy
from tiers.services import tier_define, tier_policy_set

from .models import Program, Store, StoreApiKey, hash_api_key
from .services import api_key_create, program_create, store_create

DEMO_TIERS = [
    # code, name, rank, threshold (points earned in the last 12 months), multiplier
    ("bronze", "Bronze", 1, 0, "1.0"),
    ("silver", "Silver", 2, 500, "1.25"),
    ("gold", "Gold", 3, 2000, "1.5"),
]

DEMO_MEMBERS = [
    # email, first, last, phone
    ("anna.schmidt@example.com", "Anna", "Schmidt", "+493090182000"),
    ("ben.okafor@example.com", "Ben", "Okafor", "+493090182001"),
    ("chloe.martin@example.com", "Chloé", "Martin", "+493090182002"),
]
DEMO_MEMBER_PASSWORD = "demo-member-2026"  # noqa: S105 - published demo credential
DEMO_STAFF_USERNAME = "staff"
DEMO_STAFF_PASSWORD = "demo-staff-2026"  # noqa: S105 - published demo credential


@dataclass
class DemoResult:
    program: Program
    store: Store
    created_program: bool
    new_key: str | None = None
    existing_key_prefixes: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    created_staff: bool = False


@transaction.atomic
def demo_seed(*, program_slug: str = "demo", store_code: str = "DEMO-001", api_key: str | None = None) -> DemoResult:
    program = Program.objects.filter(slug=program_slug).first()
    created = program is None
    if created:
        program = program_create(
            slug=program_slug, name="Demo Coffee Club" if program_slug == "demo" else f"Demo {program_slug}",
            currency="EUR", points_per_unit=1, pending_days=0, expiry_days=365, claim_window_days=30,
            default_phone_region="DE",
        )
    store = Store.objects.filter(program=program, code=store_code).first()
    if store is None:
        store = store_create(program=program, code=store_code, name=f"Demo store {store_code}")

    result = DemoResult(program=program, store=store, created_program=created)
    _demo_tiers_ensure(program)
    _demo_rewards_ensure(program)
    _demo_causes_ensure(program)
    _demo_survey_ensure(program)
    if api_key:
        existing = StoreApiKey.objects.filter(key_hash=hash_api_key(api_key)).select_related("store").first()
        if existing is None:
            api_key_create(store=store, name="demo key", raw_key=api_key)
        elif existing.store_id != store.pk:
            raise DomainError.invalid("api_key", "This key already belongs to another store.")
        elif existing.revoked_at is not None:
            raise DomainError.invalid("api_key", "This key was revoked; choose another.")
    elif not store.api_keys.filter(revoked_at__isnull=True).exists():
        _, result.new_key = api_key_create(store=store, name="demo key")
    result.existing_key_prefixes = list(store.api_keys.filter(revoked_at__isnull=True).values_list("prefix", flat=True))

    for email, first, last, phone in DEMO_MEMBERS:
        member = Member.objects.filter(program=program, email__lower=email).first()
        if member is None:
            member = member_enrol(program=program, store=store, email=email, first_name=first, last_name=last,
                                  phone=phone, marketing_opt_in=True, consent_source="staff")
            member_login_create(member=member, password=DEMO_MEMBER_PASSWORD)
        result.members.append(member)

    users = get_user_model().objects
    if not users.filter(username=DEMO_STAFF_USERNAME).exists():
        users.create_superuser(username=DEMO_STAFF_USERNAME, email="staff@example.com", password=DEMO_STAFF_PASSWORD)
        result.created_staff = True
    staff_demo_seed(program=program)
    return result


def _demo_tiers_ensure(program: Program) -> None:
    """The contract's tiers and policy, created once; a program that already has them is left as it is."""
    if not TierPolicy.objects.filter(program=program).exists():
        tier_policy_set(program=program, metric=TierPolicy.Metric.POINTS, window=TierPolicy.Window.ROLLING_MONTHS,
                        window_months=12, downgrade=TierPolicy.Downgrade.NEVER)
    for code, name, rank, threshold, multiplier in DEMO_TIERS:
        if not Tier.objects.filter(program=program, code=code).exists():
            tier_define(program=program, code=code, name=name, rank=rank, threshold=threshold, multiplier=multiplier)


DEMO_REWARDS = [
    # code, name, points cost, stock (None = unlimited), minimum tier code
    ("FREE-COFFEE", "Free coffee", 50, None, None),
    ("TOTE-BAG", "Canvas tote bag", 400, 5, None),
    ("GOLD-LOUNGE", "Gold lounge access", 100, None, "gold"),
]


def _demo_rewards_ensure(program: Program) -> None:
    """The contract's rewards, created once; an existing reward (and its stock) is left as it is."""
    from rewards.models import Reward

    for code, name, cost, stock, tier_code in DEMO_REWARDS:
        if not Reward.objects.filter(program=program, code=code).exists():
            Reward.objects.create(
                program=program, code=code, name=name, points_cost=cost, stock_remaining=stock,
                min_tier=Tier.objects.get(program=program, code=tier_code) if tier_code else None,
            )


DEMO_CAUSES = [
    # code, name, description
    ("TREES", "Plant a tree", "Every 500 points plant one tree with a local reforestation project."),
    ("FOOD-BANK", "City food bank", "Points turned into meals for families in our neighbourhood."),
]


def _demo_causes_ensure(program: Program) -> None:
    """Causes members can give points to in the portal, created once; an existing cause is left as it is."""
    from rewards.models import Cause
    from rewards.services import cause_create

    for code, name, description in DEMO_CAUSES:
        if not Cause.objects.filter(program=program, code=code).exists():
            cause_create(program=program, code=code, name=name, description=description)


def _demo_survey_ensure(program: Program) -> None:
    """The contract's active NPS survey ``nps``, created once; an existing one is left as it is. It takes answers
    (at the till, from links) and invites nobody by itself: staff switch its triggers on."""
    from surveys.models import Survey
    from surveys.services import survey_create

    if not Survey.objects.filter(program=program, code="nps").exists():
        survey_create(program=program, code="nps", kind="nps", name="How was your visit?", sampling_rate="0.2",
                      delay_minutes=120, cooldown_days=90)
