"""Finding a member at /staff/members/?q=: by name, email, phone or card number, in the chosen program only."""

import re
from urllib.parse import urlencode

import pytest
from django.db import connection

import members.selectors
from members.selectors import member_search, member_search_plan
from members.services import member_anonymise
from staff.models import Role
from tests.factories import MemberFactory

from .conftest import client_for, make_staff

pytestmark = pytest.mark.django_db


def search(client, query, **params):
    return client.get("/staff/members/?" + urlencode({"q": query, **params}))


def found(response) -> list[str]:
    """The member ids the result table links to, in order."""
    assert response.status_code == 200
    return re.findall(r'<a class="cell-primary" href="/staff/members/([0-9a-f-]{36})/">', response.content.decode())


def error_beside_search(response) -> str:
    match = re.search(r'<p class="field-error" id="id_q_error">(.*?)</p>', response.content.decode(), re.S)
    assert match, "no message beside the search field"
    return match.group(1)


@pytest.fixture
def grace(program, store):
    return MemberFactory(program=program, store=store, email="Grace.Hopper@Navy.example", first_name="Grace",
                         last_name="Hopper", phone="+4915198765432")


@pytest.mark.parametrize("query", ["Ada", "ada", "LOVEL", "Ada Lovelace", "lovelace ada", "ada l", "Ada, Lovelace"])
def test_a_member_is_found_by_the_starts_of_the_words_of_their_name(manager_client, member, grace, query):
    assert found(search(manager_client, query)) == [str(member.pk)]


def test_a_name_is_matched_from_the_start_of_its_words_not_inside_them(manager_client, member, grace):
    assert found(search(manager_client, "velace")) == []


@pytest.mark.parametrize("query", ["ada@example.com", "ADA@EXAMPLE.COM", "ada@", "ada@exa"])
def test_a_member_is_found_by_their_email_or_its_start_whatever_the_case(manager_client, member, grace, query):
    assert found(search(manager_client, query)) == [str(member.pk)]


@pytest.mark.parametrize("query", ["+4915112345678", "+49 151 12345678", "0151 12345678", "0151-123 456 78"])
def test_a_member_is_found_by_their_phone_as_people_write_it(manager_client, member, grace, query):
    assert found(search(manager_client, query)) == [str(member.pk)]


def test_a_member_is_found_by_their_card_number_with_or_without_spaces(manager_client, member, grace):
    card = member.card_number
    spaced = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    for query in (card, spaced, card[:8]):
        assert str(member.pk) in found(search(manager_client, query))
    assert found(search(manager_client, card)) == [str(member.pk)]


def test_each_result_links_to_the_member_page_by_their_pos_id(manager_client, member):
    html = search(manager_client, "ada").content.decode()
    assert f'href="/staff/members/{member.pk}/"' in html
    assert manager_client.get(f"/staff/members/{member.pk}/").status_code == 200


def test_only_the_chosen_programs_members_are_found(manager_client, member, other_program):
    twin = MemberFactory(program=other_program, email="ada@example.com", first_name="Ada", last_name="Lovelace")
    for query in ("ada", "ada@example.com", twin.card_number):
        assert str(twin.pk) not in found(search(manager_client, query))


def test_staff_of_two_programs_search_the_one_they_chose(program, other_program, member):
    user = make_staff("both", program, Role.AGENT)
    user.staff_roles.create(program=other_program, role=Role.MANAGER)
    twin = MemberFactory(program=other_program, email="ada.twin@example.com", first_name="Ada", last_name="Twin")
    client = client_for(user)
    assert found(search(client, "ada", program=other_program.slug)) == [str(twin.pk)]
    assert found(search(client, "ada", program=program.slug)) == [str(member.pk)]


def test_exact_matches_come_first_then_names_in_order(manager_client, program, store, member):
    others = [MemberFactory(program=program, store=store, email=f"ada.{n}@example.com", first_name="Ada",
                            last_name=last) for n, last in enumerate(["Byron", "Augusta", "Zeta"])]
    assert found(search(manager_client, "ada")) == [str(others[1].pk), str(others[0].pk), str(member.pk),
                                                   str(others[2].pk)]
    assert found(search(manager_client, "ada.2@example.com"))[0] == str(others[2].pk)


def test_the_search_field_has_a_visible_label_and_keeps_what_was_typed(manager_client, member):
    html = search(manager_client, "Ada Love").content.decode()
    assert '<label for="id_q">Find a member</label>' in html
    assert 'value="Ada Love"' in html
    assert "<button class=\"btn btn-primary\" type=\"submit\">Search</button>" in html


def test_an_empty_search_shows_what_can_be_typed_and_no_error(manager_client, member):
    for url in ("/staff/members/", "/staff/members/?q=", "/staff/members/?q=%20%20", "/staff/members/?page=3"):
        response = manager_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "What you can type" in html and "field-error" not in html


def test_nothing_found_says_so(manager_client, member):
    response = search(manager_client, "Zebedee")
    assert found(response) == []
    assert "Nothing found for “Zebedee”" in response.content.decode()


@pytest.mark.parametrize(("query", "message"), [
    ("a", "Type at least 2 characters"),
    ("x" * 201, "Ensure this value has at most 200 characters"),
    ("ada\x00", "Null characters are not allowed"),
])
def test_a_query_that_cannot_be_searched_is_answered_beside_the_field(manager_client, member, query, message):
    response = search(manager_client, query)
    assert response.status_code == 200
    assert message in error_beside_search(response)
    assert found(response) == []


@pytest.mark.parametrize("query", ["%", "_", "%%%", "\\", "a%b", "' OR 1=1 --", "ada\\", "+", "+49", "()", "@",
                                   "😀😀", "ada " * 30, "0" * 40, "--", "@@@@", "ß"])
def test_junk_never_fails_and_wildcards_match_only_themselves(manager_client, member, grace, query):
    response = search(manager_client, query)
    assert response.status_code == 200
    assert str(grace.pk) not in found(response)


def test_junk_page_numbers_fall_back_to_a_page_that_exists(manager_client, member):
    for page in ("abc", "-1", "0", "99999999999999999999", ""):
        assert found(search(manager_client, "ada", page=page)) == [str(member.pk)]


def test_many_matches_are_paged_twenty_at_a_time(manager_client, program, store):
    people = [MemberFactory(program=program, store=store, email=f"p{n:02d}@example.com", first_name="Ada",
                            last_name=f"Person{n:02d}") for n in range(25)]
    first, second = found(search(manager_client, "ada")), found(search(manager_client, "ada", page=2))
    assert len(first) == 20 and len(second) == 5
    assert first + second == [str(p.pk) for p in people]
    assert "Page 1 of 2" in search(manager_client, "ada").content.decode()
    assert found(search(manager_client, "ada", page=9)) == second  # past the end: the last page


def test_past_the_limit_the_search_asks_to_be_narrower(manager_client, program, store, monkeypatch):
    monkeypatch.setattr(members.selectors, "SEARCH_LIMIT", 3)
    monkeypatch.setattr("staff.members.views.SEARCH_LIMIT", 3)
    for n in range(5):
        MemberFactory(program=program, store=store, email=f"m{n}@example.com", first_name="Ada", last_name=f"X{n}")
    response = search(manager_client, "ada")
    assert len(found(response)) == 3
    assert "More than 3 members match" in response.content.decode()


def test_an_anonymised_member_is_not_found_by_their_old_name_email_or_phone(manager_client, member):
    member_anonymise(member=member)
    for query in ("Ada", "ada@example.com", "+4915112345678"):
        assert found(search(manager_client, query)) == []


def test_a_search_costs_the_same_few_queries_however_many_match(manager_client, program, store,
                                                                 django_assert_max_num_queries):
    for n in range(30):
        MemberFactory(program=program, store=store, email=f"q{n}@example.com", first_name="Ada", last_name=f"Q{n}")
    with django_assert_max_num_queries(14):
        assert len(found(search(manager_client, "ada"))) == 20


def test_the_agent_searches_the_analyst_may_not_and_strangers_sign_in_first(agent_client, analyst_client, client,
                                                                            member):
    assert found(search(agent_client, "ada")) == [str(member.pk)]
    assert search(analyst_client, "ada").status_code == 403
    response = search(client, "ada")
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")


# --- the indexes that keep it fast at a million members -----------------------------------------------


@pytest.fixture
def crowd(program, member):
    """Forty thousand more members, written in one statement and analysed, so the planner weighs real choices."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO members_member (id, program_id, card_number, email, phone, first_name, last_name, language,
                referral_code, marketing_opt_in, status, enrolled_at)
            SELECT gen_random_uuid(), %s, lpad((7000000000000000 + g)::text, 16, '0'), 'crowd' || g || '@example.com',
                NULL, 'Crowd', 'Person ' || g, 'en', 'C' || g, false, 'active', now()
            FROM generate_series(1, 40000) g""", [program.pk])
        cursor.execute("ANALYZE members_member")


@pytest.mark.parametrize(("query", "index"), [
    ("ada lov", "member_name_trgm_idx"),
    ("ada@exam", "member_email_prefix_idx"),
    ("70000000000012", "member_card_prefix_idx"),
    ("0151 12345678", "member_phone_unique_in_program"),
])
def test_each_kind_of_query_is_served_by_its_index(program, crowd, query, index):
    """The index must be built on the very expression the query asks, or the planner cannot use it."""
    plan = member_search_plan(program=program, query=query)
    assert index in plan
    assert "Seq Scan on members_member" not in plan


def test_the_search_indexes_and_the_trigram_extension_are_installed(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'members_member'")
        names = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
    assert {"member_name_trgm_idx", "member_email_prefix_idx", "member_card_prefix_idx"} <= names


def test_the_selector_answers_a_page_of_members_with_their_balances(program, member, grace):
    result = member_search(program=program, query="ada")
    assert result.total == 1 and result.pages == 1 and not result.more
    assert result.members == [member]
    assert result.members[0].account.available == 0  # read with the page, not one query per row
