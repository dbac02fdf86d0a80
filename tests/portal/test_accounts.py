"""Signing in, out and up: per program, rate-limited, never telling which of email and password was wrong."""

from django.contrib.auth import get_user_model
from django.test import Client

from members.models import Member

from .conftest import PASSWORD, signed_in


def test_portal_root_leads_to_the_only_program(program):
    response = Client().get("/portal/")
    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/"


def test_portal_root_lists_programs_when_there_are_several(program, other_program):
    response = Client().get("/portal/")
    assert response.status_code == 200
    assert program.name in response.text and other_program.name in response.text


def test_unknown_program_is_404(db):
    client = Client()
    for path in ("/portal/nope/", "/portal/nope/login/", "/portal/nope/signup/", "/portal/nope/rewards/",
                 "/portal/nope/brand.css"):
        assert client.get(path).status_code == 404, path


def test_pages_ask_to_sign_in_first(program):
    response = Client().get(f"/portal/{program.slug}/rewards/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/portal/{program.slug}/login/?next=")


def test_login_page_has_the_contract_labels(program):
    text = Client().get(f"/portal/{program.slug}/login/").text
    assert '<label for="id_email">Email' in text and '<label for="id_password">Password' in text
    assert ">Sign in</button>" in text


def test_sign_in_opens_the_home_page(member_with_login):
    client = signed_in(Client(), member_with_login)
    response = client.get(f"/portal/{member_with_login.program.slug}/")
    assert response.status_code == 200 and member_with_login.card_number in response.text


def test_email_is_matched_whatever_its_case(member_with_login):
    response = Client().post(f"/portal/{member_with_login.program.slug}/login/",
                             {"email": "ADA@Example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_says_so_beside_the_form_and_not_which(member_with_login):
    slug = member_with_login.program.slug
    wrong_password = Client().post(f"/portal/{slug}/login/", {"email": member_with_login.email, "password": "x"})
    unknown_email = Client().post(f"/portal/{slug}/login/", {"email": "who@example.com", "password": "x"})
    assert wrong_password.status_code == unknown_email.status_code == 400
    assert "do not match" in wrong_password.text and 'class="field-error"' in wrong_password.text
    assert "do not match" in unknown_email.text
    assert "password is wrong" not in wrong_password.text.lower()


def test_sign_in_is_refused_after_too_many_failures(member_with_login, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    url = f"/portal/{member_with_login.program.slug}/login/"
    for _ in range(3):
        client.post(url, {"email": member_with_login.email, "password": "wrong"})
    response = client.post(url, {"email": member_with_login.email, "password": PASSWORD})
    assert response.status_code == 429 and "Too many sign-in attempts" in response.text
    assert f"{member_with_login.program.slug}:" not in response.text
    assert "_auth_user_id" not in client.session


def test_staff_login_is_not_a_member_login(program, db):
    get_user_model().objects.create_user(username=f"{program.slug}:boss@example.com", password=PASSWORD)
    response = Client().post(f"/portal/{program.slug}/login/", {"email": "boss@example.com", "password": PASSWORD})
    assert response.status_code == 400


def test_a_session_of_one_program_is_signed_out_in_another(member_client, member_with_login, other_program,
                                                           foreign_member):
    response = member_client.get(f"/portal/{other_program.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/portal/{other_program.slug}/login/")
    # The same person's member of the other program is not reached either, whatever the session says.
    assert member_client.get(f"/portal/{other_program.slug}/login/").status_code == 200


def test_sign_out(member_client, program):
    response = member_client.post(f"/portal/{program.slug}/logout/")
    assert response.status_code == 302
    assert member_client.get(f"/portal/{program.slug}/").status_code == 302


def test_sign_up_enrols_and_the_till_finds_the_member(program, pos):
    client = Client()
    page = client.get(f"/portal/{program.slug}/signup/").text
    for label in ("Email", "Password", "First name", "Last name"):
        assert f">{label}</label>" in page or f">{label} <" in page, label
    assert ">Join</button>" in page
    response = client.post(f"/portal/{program.slug}/signup/", {
        "email": "new@example.com", "password": "tall-green-teapot", "first_name": "Nia", "last_name": "Ode"})
    assert response.status_code == 302 and response["Location"] == f"/portal/{program.slug}/"
    assert client.get(f"/portal/{program.slug}/").status_code == 200
    found = pos.get("/api/v1/pos/members/lookup/", {"email": "new@example.com"})
    assert found.status_code == 200 and found.json()["first_name"] == "Nia"
    again = Client().post(f"/portal/{program.slug}/login/", {"email": "new@example.com",
                                                           "password": "tall-green-teapot"})
    assert again.status_code == 302


def test_sign_up_with_an_email_already_a_member_changes_nothing(member_with_login):
    slug = member_with_login.program.slug
    users, members = get_user_model().objects.count(), Member.objects.count()
    response = Client().post(f"/portal/{slug}/signup/", {
        "email": "ADA@example.com", "password": "tall-green-teapot", "first_name": "A", "last_name": "B"})
    assert response.status_code == 400
    assert "already a member" in response.text and 'id="id_email_error"' in response.text
    assert (get_user_model().objects.count(), Member.objects.count()) == (users, members)


def test_sign_up_with_bad_values_shows_each_beside_its_field(program):
    members = Member.objects.count()
    response = Client().post(f"/portal/{program.slug}/signup/", {
        "email": "not an email", "password": "123", "first_name": "", "last_name": "x" * 500})
    assert response.status_code == 400
    for field in ("email", "password", "first_name", "last_name"):
        assert f'id="id_{field}_error"' in response.text, field
    assert Member.objects.count() == members


def test_junk_never_answers_500(program, member_client):
    slug = program.slug
    for path in (f"/portal/{slug}/login/?next=//evil.example", f"/portal/{slug}/activity/?page=abc",
                 f"/portal/{slug}/activity/?page=-4", f"/portal/{slug}/activity/?page=99999999999",
                 f"/portal/{slug}/rewards/%00/redeem/", f"/portal/{slug}/vouchers/{'Z' * 300}/"):
        assert member_client.get(path).status_code in (200, 302, 404), path
    assert Client().post(f"/portal/{slug}/login/", {"email": "\x00" * 10, "password": ""}).status_code == 400
    assert Client().post(f"/portal/{slug}/login/?next=https://evil.example/").status_code == 400


def test_a_staff_session_is_nobody_in_the_portal(program, client, django_user_model):
    staff = django_user_model.objects.create_user(username="boss", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    response = client.get(f"/portal/{program.slug}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_password_like_the_members_name_is_refused(program):
    response = Client().post(f"/portal/{program.slug}/signup/", {
        "email": "lovelace.ada@example.com", "password": "lovelace.ada", "first_name": "Ada",
        "last_name": "Lovelace"})
    assert response.status_code == 400 and 'id="id_password_error"' in response.text
    assert not Member.objects.filter(email="lovelace.ada@example.com").exists()


def test_a_member_of_another_program_cannot_sign_in_here(program, foreign_member):
    response = Client().post(f"/portal/{program.slug}/login/", {"email": foreign_member.email,
                                                                "password": PASSWORD})
    assert response.status_code == 400
