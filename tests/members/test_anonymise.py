"""Anonymising a member on request: nothing that names them stays, the account and its entries do."""

import pytest
from django.contrib.auth import get_user_model

from ledger.models import LedgerEntry
from ledger.services import points_earn
from loyalty.errors import DomainError
from members.models import Member
from members.services import member_anonymise, member_is_anonymised, member_status_set
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_personal_data_and_the_login_are_wiped_the_points_lapse_and_the_entries_stay(member):
    member.user = get_user_model().objects.create_user(username="coffee:ada@example.com", email="ada@example.com",
                                                       first_name="Ada")
    member.marketing_opt_in = True
    member.save()
    points_earn(member=member, points=120, idempotency_key="grant", source_type="test", actor="test")
    user_id = member.user_id

    member_anonymise(member=member)

    member = Member.objects.get(pk=member.pk)
    assert member_is_anonymised(member)
    assert (member.first_name, member.last_name, member.phone, member.birth_date) == ("", "", None, None)
    assert member.email == f"member-{member.pk.hex}@anonymised.invalid"
    assert not member.marketing_opt_in and member.is_suspended and member.user is None
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert list(LedgerEntry.objects.filter(account__member=member).order_by("id").values_list("kind", "points")) == [
        ("earn", 120), ("expire", -120)]  # the earning stays; the points lapse with the account
    member.account.refresh_from_db()
    assert member.account.available == 0


def test_the_card_and_referral_code_no_longer_find_the_member(pos, member):
    card = member.card_number
    member_anonymise(member=member)
    member.refresh_from_db()

    assert pos.get(f"/api/v1/pos/members/lookup/?card_number={card}").status_code == 404
    assert not member.card_number.isdigit() and member.referral_code != member.referral_code.upper()


def test_two_anonymised_members_of_one_program_do_not_collide(program, store):
    for email in ("one@example.com", "two@example.com"):
        member_anonymise(member=MemberFactory(program=program, store=store, email=email))
    assert Member.objects.filter(email__endswith="@anonymised.invalid").count() == 2


def test_anonymising_twice_changes_nothing_more(member):
    member_anonymise(member=member)
    first = Member.objects.values().get(pk=member.pk)
    member_anonymise(member=member)
    assert Member.objects.values().get(pk=member.pk) == first


def test_a_staff_login_linked_to_a_member_is_unlinked_not_deleted(member):
    member.user = get_user_model().objects.create_user(username="clerk", is_staff=True)
    member.save(update_fields=["user"])
    member_anonymise(member=member)
    assert get_user_model().objects.filter(username="clerk").exists()
    assert Member.objects.get(pk=member.pk).user is None


def test_an_anonymised_member_cannot_be_reactivated(member):
    member_anonymise(member=member)
    member.refresh_from_db()
    with pytest.raises(DomainError):
        member_status_set(member=member, status=Member.Status.ACTIVE)
