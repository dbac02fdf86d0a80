"""Bonuses without a purchase: signup, referral (to both members) and birthday, each exactly once."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command

from earning.models import RuleAward
from earning.services import birthday_bonus_grant, birthday_members, signup_bonus_grant
from earning.tasks import grant_birthday_bonuses
from ledger.models import LedgerEntry
from members.models import Member
from tests.factories import MemberFactory, ProgramFactory

from .support import available, buy

pytestmark = pytest.mark.usefixtures("clock")

MEMBERS = "/api/v1/pos/members/"


def enrol(pos, email, **extra):
    response = pos.post(MEMBERS, {"email": email, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return Member.objects.get(pk=response.json()["id"])


def bonus_entries(member):
    return list(LedgerEntry.objects.filter(account__member=member, kind="bonus").values_list("points", flat=True))


# --- signup ----------------------------------------------------------------------------------------


def test_a_new_member_gets_the_signup_bonus_once(pos, make_rule):
    make_rule("welcome", {"kind": "fixed_bonus", "points": 100}, applies_to="signup")

    response = pos.post(MEMBERS, {"email": "new@example.com"}, format="json")

    assert response.json()["balance"] == {"available": 100, "pending": 0}
    member = Member.objects.get(email="new@example.com")
    assert bonus_entries(member) == [100]
    txn = LedgerEntry.objects.get(account__member=member).transaction
    assert (txn.idempotency_key, txn.source_type) == (f"signup:{member.pk}", "signup")
    assert signup_bonus_grant(member=member).replayed is True
    assert bonus_entries(member) == [100]
    assert RuleAward.objects.get().points == 100


def test_without_a_signup_rule_enrolment_credits_nothing(pos):
    member = enrol(pos, "new@example.com")

    assert not LedgerEntry.objects.filter(account__member=member).exists()


def test_signup_rules_read_the_enrolling_store(pos, second_pos, make_rule):
    make_rule("airport-welcome", {"kind": "fixed_bonus", "points": 30}, [{"kind": "store", "stores": ["AIRPORT-2"]}],
              applies_to="signup")
    make_rule("welcome", {"kind": "fixed_bonus", "points": 10}, applies_to="signup")

    assert available(enrol(second_pos, "airport@example.com")) == 40
    assert available(enrol(pos, "town@example.com")) == 10


def test_signup_bonus_rules_of_another_program_do_not_apply(pos, other_program):
    from earning.services import earning_rule_create

    earning_rule_create(program=other_program, code="welcome", name="Welcome", applies_to="signup",
                        effect={"kind": "fixed_bonus", "points": 100})

    assert available(enrol(pos, "new@example.com")) == 0


# --- referral --------------------------------------------------------------------------------------


@pytest.fixture
def referral_rule(make_rule):
    return make_rule("refer-a-friend", {"kind": "fixed_bonus", "points": 200}, applies_to="referral")


def test_a_referees_first_purchase_credits_both_members_once(pos, member, referral_rule):
    referee = enrol(pos, "friend@example.com", referral_code=member.referral_code, first_name="Grace")

    body = buy(pos, referee, external_id="R-1").json()
    buy(pos, referee, external_id="R-2")

    assert body["breakdown"] == [{"rule": "base", "points": 20}]  # the bonus is not part of the purchase
    assert body["balance"] == {"available": 220, "pending": 0}
    assert bonus_entries(referee) == [200]
    assert bonus_entries(member) == [200]
    assert available(member) == 200
    assert available(referee) == 20 + 200 + 20
    keys = set(LedgerEntry.objects.filter(kind="bonus").values_list("transaction__idempotency_key", flat=True))
    assert keys == {f"referral:{referee.pk}:{referee.pk}", f"referral:{referee.pk}:{member.pk}"}
    assert RuleAward.objects.filter(rule=referral_rule).count() == 2


def test_a_member_who_was_not_referred_gets_no_referral_bonus(pos, member, referral_rule):
    buy(pos, member)

    assert bonus_entries(member) == []


def test_a_guest_purchase_does_not_trigger_the_referral_bonus(pos, member, referral_rule):
    enrol(pos, "friend@example.com", referral_code=member.referral_code)

    buy(pos, None)

    assert not LedgerEntry.objects.filter(kind="bonus").exists()


def test_the_referral_bonus_waits_for_the_first_qualifying_purchase(pos, member, make_rule):
    make_rule("refer-a-friend", {"kind": "fixed_bonus", "points": 200}, [{"kind": "min_spend", "amount": "25"}],
              applies_to="referral")
    referee = enrol(pos, "friend@example.com", referral_code=member.referral_code)

    buy(pos, referee, external_id="SMALL", total="20.00")
    assert bonus_entries(member) == []
    buy(pos, referee, external_id="BIG", total="30.00")
    buy(pos, referee, external_id="BIGGER", total="40.00")

    assert bonus_entries(member) == [200]
    assert bonus_entries(referee) == [200]


def test_a_suspended_referrer_gets_nothing_but_the_referee_still_does(pos, member, referral_rule):
    referee = enrol(pos, "friend@example.com", referral_code=member.referral_code)
    member.status = "suspended"
    member.save(update_fields=["status"])

    buy(pos, referee)

    assert bonus_entries(referee) == [200]
    assert bonus_entries(member) == []


def test_a_referrers_cap_limits_referral_bonuses_per_period(pos, member, make_rule):
    make_rule("refer-a-friend", {"kind": "fixed_bonus", "points": 200}, applies_to="referral",
              cap_per_member=300, cap_period="month")
    friends = [enrol(pos, f"friend{i}@example.com", referral_code=member.referral_code) for i in range(3)]

    for index, friend in enumerate(friends):
        buy(pos, friend, external_id=f"R-{index}")

    assert bonus_entries(member) == [200, 100]
    assert [bonus_entries(friend) for friend in friends] == [[200], [200], [200]]


def test_the_referral_bonus_is_pending_like_the_purchase_that_earned_it(pos, member, program, referral_rule):
    program.pending_days = 14
    program.save()
    referee = enrol(pos, "friend@example.com", referral_code=member.referral_code)

    buy(pos, referee)

    member.account.refresh_from_db()
    assert (member.account.available, member.account.pending) == (0, 200)


# --- birthday --------------------------------------------------------------------------------------


@pytest.fixture
def birthday_rule(make_rule):
    return make_rule("birthday", {"kind": "fixed_bonus", "points": 150}, applies_to="birthday")


def born(member, day: date):
    Member.objects.filter(pk=member.pk).update(birth_date=day)
    member.refresh_from_db()
    return member


def test_the_daily_task_credits_members_whose_birthday_is_today_once_a_year(member, friend, birthday_rule, clock):
    born(member, date(1990, 3, 4))
    born(friend, date(1990, 3, 5))

    assert grant_birthday_bonuses.delay().get() == 1
    assert grant_birthday_bonuses.delay().get() == 0  # a rerun the same day changes nothing

    assert bonus_entries(member) == [150]
    assert bonus_entries(friend) == []
    txn = LedgerEntry.objects.get(account__member=member).transaction
    assert txn.idempotency_key == f"birthday:{member.pk}:2026"
    clock.move_to(datetime(2027, 3, 4, 6, 0, tzinfo=UTC))
    assert grant_birthday_bonuses.delay().get() == 1
    assert bonus_entries(member) == [150, 150]


def test_the_birthday_bonus_cannot_be_granted_twice_in_a_year_even_directly(member, birthday_rule):
    born(member, date(1990, 3, 4))

    first = birthday_bonus_grant(member=member, on=date(2026, 3, 4))
    again = birthday_bonus_grant(member=member, on=date(2026, 3, 4))

    assert first.pk == again.pk and again.replayed
    assert bonus_entries(member) == [150]


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years(member, friend, birthday_rule, clock):
    born(member, date(2000, 2, 29))
    born(friend, date(2000, 2, 28))

    clock.move_to(datetime(2027, 2, 28, 6, 0, tzinfo=UTC))
    assert grant_birthday_bonuses.delay().get() == 2
    clock.move_to(datetime(2028, 2, 28, 6, 0, tzinfo=UTC))
    assert {m.pk for m in birthday_members(on=date(2028, 2, 28))} == {friend.pk}
    clock.move_to(datetime(2028, 2, 29, 6, 0, tzinfo=UTC))
    assert {m.pk for m in birthday_members(on=date(2028, 2, 29))} == {member.pk}


def test_birthday_bonuses_skip_suspended_members_and_programs_without_a_birthday_rule(member, program,
                                                                                      birthday_rule):
    born(member, date(1990, 3, 4))
    suspended = born(MemberFactory(program=program, email="s@example.com", status="suspended"), date(1991, 3, 4))
    elsewhere = born(MemberFactory(program=ProgramFactory(), email="e@example.com"), date(1992, 3, 4))

    call_command("grant_birthday_bonuses")

    assert bonus_entries(member) == [150]
    assert bonus_entries(suspended) == []
    assert bonus_entries(elsewhere) == []


def test_birthday_rules_may_depend_on_the_tier(member, friend, make_rule, monkeypatch):
    make_rule("gold-birthday", {"kind": "fixed_bonus", "points": 500}, [{"kind": "tier", "tiers": ["gold"]}],
              applies_to="birthday")
    monkeypatch.setattr("earning.rules.member_tier_code",
                        lambda *, member: "gold" if member.email == "ada@example.com" else None)
    born(member, date(1990, 3, 4))
    born(friend, date(1990, 3, 4))

    call_command("grant_birthday_bonuses", "--date", "2026-03-04")

    assert bonus_entries(member) == [500]
    assert bonus_entries(friend) == []


def test_finding_birthday_members_is_one_query(program, birthday_rule, django_assert_num_queries):
    for index in range(5):
        born(MemberFactory(program=program, email=f"m{index}@example.com"), date(1980 + index, 3, 4))

    with django_assert_num_queries(1):
        found = list(birthday_members(on=date(2026, 3, 4)))

    assert len(found) == 5
    assert all(m.program == program for m in found)  # the program came with them


def test_the_command_refuses_a_bad_date(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("grant_birthday_bonuses", "--date", "04.03.2026")


def test_each_program_celebrates_on_its_own_local_date(program, member, birthday_rule):
    from earning.services import birthday_bonuses_grant

    program.time_zone = "America/New_York"
    program.save()
    member.birth_date = date(1990, 3, 4)
    member.save()

    # 02:00 UTC on 5 March is still 4 March in New York: the birthday is today there
    with time_machine.travel(datetime(2026, 3, 5, 2, 0, tzinfo=UTC), tick=False):
        assert birthday_bonuses_grant() == 1
    # 02:00 UTC on 4 March is 3 March in New York: not yet
    member.birth_date = date(1990, 3, 5)
    member.save()
    with time_machine.travel(datetime(2026, 3, 5, 2, 0, tzinfo=UTC), tick=False):
        assert birthday_bonuses_grant() == 0
