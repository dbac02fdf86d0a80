"""The demo program's history: told through the services at the moments it happened, consistent to the point,
told once, and leaving the contract's three demo members as they were."""

import pytest
from django.core import mail

from analytics.models import RollupRun
from earning.models import Purchase
from ledger.services import ledger_verification_run
from members.models import Member
from programs.demo import demo_seed
from programs.demo_history import DOMAIN, demo_history_seed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_short_history_is_consistent_told_once_and_sends_no_mail():
    demo = demo_seed(api_key="history-key-0001")
    told = demo_history_seed(program=demo.program, store=demo.store, members=12, months=4)

    assert told.members == 12 and told.purchases > 12 and told.guest_purchases == 72
    history = Member.objects.filter(program=demo.program, email__endswith="@" + DOMAIN)
    assert history.count() == 12
    first_purchase = Purchase.objects.filter(program=demo.program).order_by("occurred_at").first()
    assert (demo.program.created_at - first_purchase.occurred_at).days > 30  # the past, not today
    check = ledger_verification_run(trigger="manual")
    assert check.accounts_drifted == 0 and check.lots_drifted == 0
    assert RollupRun.objects.filter(program=demo.program).latest("finished_at").drift == {}
    assert mail.outbox == []
    for member in demo.members:  # the contract's members keep an empty card
        assert member.account.available == 0 and not Purchase.objects.filter(member=member).exists()

    assert demo_history_seed(program=demo.program, store=demo.store, members=12, months=4) is None
    assert history.count() == 12


def test_the_same_seed_tells_the_same_story():
    def story(slug: str) -> list:
        demo = demo_seed(program_slug=slug, api_key=f"history-key-{slug}")
        demo_history_seed(program=demo.program, store=demo.store, members=5, months=2, seed=7)
        return sorted(Purchase.objects.filter(program=demo.program).values_list("total", flat=True))

    first = story("first")
    assert first and story("second") == first
