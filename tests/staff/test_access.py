"""Signing in to the dashboard, choosing a program, and who is let in at all."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from staff.access import staff_roles
from staff.models import Role

from .conftest import PASSWORD, client_for, make_staff

pytestmark = pytest.mark.django_db


def test_signed_out_visitor_is_sent_to_the_sign_in_page():
    response = Client().get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=%2Fstaff%2F"


def test_sign_in_page_has_the_contract_labels_and_button():
    html = Client().get("/staff/login/").content.decode()
    assert '<label for="id_username">Username' in html
    assert '<label for="id_password">Password' in html
    assert '<button class="btn btn-primary btn-block" type="submit">Sign in</button>' in html


def test_manager_signs_in_and_lands_on_the_dashboard(manager):
    client = Client()
    response = client.post("/staff/login/", {"username": manager.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_wrong_password_answers_the_form_with_a_message(manager):
    response = Client().post("/staff/login/", {"username": manager.username, "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_ten_failures_lock_the_username_with_a_clear_message(manager):
    client = Client()
    for _ in range(10):
        client.post("/staff/login/", {"username": manager.username, "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    # the right password from another address is refused too: the count is per username
    response = Client().post("/staff/login/", {"username": manager.username, "password": PASSWORD},
                             REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_a_user_with_no_role_is_refused(db):
    user = get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    assert client_for(user).get("/staff/").status_code == 403


def test_superuser_is_manager_of_every_program(superuser, program, other_program):
    assert staff_roles(superuser) == {program.pk: Role.MANAGER, other_program.pk: Role.MANAGER}


def test_staff_of_two_programs_switch_between_them(program, other_program):
    user = make_staff("both", program, Role.MANAGER)
    make_staff_role = user.staff_roles.create
    make_staff_role(program=other_program, role=Role.ANALYST)
    client = client_for(user)
    response = client.post("/staff/program/", {"program": other_program.slug, "next": "/staff/"})
    assert response.status_code == 302
    assert other_program.name in client.get("/staff/").content.decode()


def test_switching_to_a_program_without_a_role_is_a_404(manager, other_program):
    response = client_for(manager).post("/staff/program/", {"program": other_program.slug})
    assert response.status_code == 404


def test_another_programs_slug_in_the_query_is_a_404(manager_client, other_program):
    assert manager_client.get(f"/staff/?program={other_program.slug}").status_code == 404


def test_a_record_view_checks_the_role_in_the_records_program(rf, program, other_program):
    """Agent of one program, analyst of the one chosen in the session: still helps their own members."""
    from django.http import HttpResponse

    from members.models import Member
    from staff.access import SESSION_PROGRAM, staff_object, staff_view
    from tests.factories import MemberFactory

    user = make_staff("two-hats", program, Role.AGENT)
    user.staff_roles.create(program=other_program, role=Role.ANALYST)
    member = MemberFactory(program=program)

    @staff_view("member.view", record=True)
    def page(request, pk):
        staff_object(request, Member.objects.all(), "member.view", pk=pk)
        return HttpResponse("ok")

    request = rf.get("/staff/members/x/")
    request.user, request.session = user, {SESSION_PROGRAM: str(other_program.pk)}
    assert page(request, pk=member.pk).status_code == 200
    assert request.staff.program == program


def test_a_record_view_that_forgets_its_record_fails_loudly(rf, program):
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpResponse

    from staff.access import staff_view

    user = make_staff("forgetful", program, Role.AGENT)

    @staff_view("member.view", record=True)
    def page(request):
        return HttpResponse("ok")

    request = rf.get("/staff/members/")
    request.user, request.session = user, {}
    with pytest.raises(ImproperlyConfigured):
        page(request)


def test_a_settings_record_is_checked_in_its_own_program(program, other_program):
    """Agent of the program chosen in the session, analyst of the tier's program: may read that tier's page."""
    from staff.access import SESSION_PROGRAM
    from tiers.services import tier_define

    user = make_staff("two-hats-settings", program, Role.AGENT)
    user.staff_roles.create(program=other_program, role=Role.ANALYST)
    tier = tier_define(program=other_program, code="gold", name="Gold", rank=1, threshold=0)
    client = client_for(user)
    session = client.session
    session[SESSION_PROGRAM] = str(program.pk)
    session.save()
    assert client.get(f"/staff/settings/tiers/{tier.pk}/").status_code == 200
