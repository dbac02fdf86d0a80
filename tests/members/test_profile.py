"""A member's own details and consent, as the portal's profile changes them; and what deleting takes away."""

from datetime import date, timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth import get_user_model
from django.utils import timezone

from loyalty.errors import DomainError
from members.models import Member
from members.services import (
    member_anonymise,
    member_consent_set,
    member_enrol,
    member_login_create,
    member_profile_update,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def update(member, **changes):
    fields = {"first_name": member.first_name, "last_name": member.last_name, "phone": member.phone,
              "birth_date": member.birth_date, "language": member.language, **changes}
    return member_profile_update(member=member, **fields)


def test_details_are_saved_trimmed_with_the_phone_in_international_form(member):
    member_login_create(member=member, password="a-good-member-password")
    update(member, first_name="  Augusta Ada ", last_name="King", phone="0151 1234 5670",
           birth_date=date(1990, 12, 10), language="de")
    member = Member.objects.select_related("user").get(pk=member.pk)
    assert (member.first_name, member.last_name, member.phone) == ("Augusta Ada", "King", "+4915112345670")
    assert member.birth_date == date(1990, 12, 10) and member.language == "de"
    assert member.user.first_name == "Augusta Ada"  # the login's copy follows


def test_an_empty_phone_and_language_mean_none_and_the_browsers_choice(member):
    update(member, phone="", language="")
    member.refresh_from_db()
    assert member.phone is None and member.language == ""


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"phone": "12"}, "invalid", "phone"),
    ({"phone": "not a number"}, "invalid", "phone"),
    ({"birth_date": date.today() + timedelta(days=1)}, "invalid", "birth_date"),
    ({"birth_date": date(1, 1, 1)}, "invalid", "birth_date"),
    ({"language": "fr"}, "invalid", "language"),
    ({"first_name": "x" * 101}, "invalid", "first_name"),
])
def test_bad_details_are_refused_beside_their_field_and_change_nothing(member, changes, code, field):
    before = Member.objects.values().get(pk=member.pk)
    with pytest.raises(DomainError) as refused:
        update(member, **changes)
    assert refused.value.code == code and refused.value.errors[0]["field"] == field
    assert Member.objects.values().get(pk=member.pk) == before


def test_another_members_phone_is_refused_in_any_spelling(member, program, store):
    MemberFactory(program=program, store=store, email="grace@example.com", phone="+4915100000001")
    with pytest.raises(DomainError) as refused:
        update(member, phone="0151 00000001")
    assert refused.value.code == "member_exists" and refused.value.errors[0]["field"] == "phone"
    update(member, phone=member.phone)  # their own number stays theirs


def test_a_member_of_another_program_may_have_the_same_phone(member, other_program):
    MemberFactory(program=other_program, email="grace@example.com", phone="+4915100000001")
    update(member, phone="+4915100000001")


def test_with_birthday_bonuses_a_birth_date_is_set_once(member):
    update(member, birth_date=date(1990, 5, 1), birth_date_set_once=True)
    update(member, birth_date=date(1990, 5, 1), first_name="Ada B.", birth_date_set_once=True)  # unchanged: fine
    for other in (date(1990, 5, 2), None):
        with pytest.raises(DomainError) as refused:
            update(member, birth_date=other, birth_date_set_once=True)
        assert refused.value.code == "birth_date_locked"
    member.refresh_from_db()
    assert member.birth_date == date(1990, 5, 1) and member.first_name == "Ada B."
    update(member, birth_date=date(1991, 5, 1))  # without birthday bonuses it may change
    member.refresh_from_db()
    assert member.birth_date == date(1991, 5, 1)


def test_consent_records_when_and_where(member):
    member_consent_set(member=member, marketing_opt_in=True, source="portal")
    member.refresh_from_db()
    given_at = member.marketing_opt_in_at
    assert member.marketing_opt_in and member.marketing_opt_in_source == "portal"
    assert timezone.now() - given_at < timedelta(seconds=5)

    member_consent_set(member=member, marketing_opt_in=True, source="pos")  # said again: nothing changes
    member.refresh_from_db()
    assert member.marketing_opt_in_at == given_at and member.marketing_opt_in_source == "portal"

    member_consent_set(member=member, marketing_opt_in=False, source="email")
    member.refresh_from_db()
    assert not member.marketing_opt_in and member.marketing_opt_in_source == "email"
    assert member.marketing_opt_in_at > given_at


def test_consent_needs_a_known_source(member):
    with pytest.raises(ValueError, match="consent source"):
        member_consent_set(member=member, marketing_opt_in=True, source="somewhere")


def test_consent_at_enrolment_records_its_source(program):
    member = member_enrol(program=program, email="new@example.com", marketing_opt_in=True, consent_source="pos")
    assert member.marketing_opt_in_source == "pos" and member.marketing_opt_in_at is not None
    without = member_enrol(program=program, email="quiet@example.com", consent_source="pos")
    assert without.marketing_opt_in_source == "" and without.marketing_opt_in_at is None


def test_the_pos_records_its_consent_source(pos):
    response = pos.post("/api/v1/pos/members/", {"email": "till@example.com", "marketing_opt_in": True},
                        format="json")
    assert response.status_code == 201
    assert Member.objects.get(email="till@example.com").marketing_opt_in_source == "pos"


def test_anonymising_removes_the_login_and_the_sign_in_records_that_name_it(member):
    member_login_create(member=member, password="a-good-member-password")
    username = member.user.username
    AccessAttempt.objects.create(username=username, ip_address="10.0.0.1", user_agent="x", failures_since_start=1)
    AccessLog.objects.create(username=username, ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.create(username="someone-else", ip_address="10.0.0.1", user_agent="x")

    member_anonymise(member=member)

    assert not get_user_model().objects.filter(username=username).exists()
    assert not AccessAttempt.objects.filter(username=username).exists()
    assert not AccessLog.objects.filter(username=username).exists()
    assert AccessLog.objects.filter(username="someone-else").exists()
    member.refresh_from_db()
    assert member.marketing_opt_in_source == "" and member.language == ""


def test_consent_changed_in_the_admin_is_recorded_as_given_through_the_team(member, rf, admin_user):
    from types import SimpleNamespace

    from django.contrib import admin

    member_admin = admin.site._registry[Member]
    request = rf.post("/")
    request.user = admin_user
    member.marketing_opt_in = True  # as the admin's form sets it
    member_admin.save_model(request, member, SimpleNamespace(changed_data=["marketing_opt_in"]), True)
    member.refresh_from_db()
    assert member.marketing_opt_in and member.marketing_opt_in_source == "staff" and member.marketing_opt_in_at

    member.first_name = "Augusta"  # other changes leave consent as it was
    member_admin.save_model(request, member, SimpleNamespace(changed_data=["first_name"]), True)
    member.refresh_from_db()
    assert member.marketing_opt_in and member.first_name == "Augusta"
